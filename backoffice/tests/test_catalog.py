"""The import screen's service, bulk markup, provider buttons, refill and cancel retries."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditLog
from backoffice import services
from catalog.models import Category, Service, ServiceChange, UpstreamService
from catalog.pricing import unit_cost
from catalog.sync import sync_provider
from orders.forwarding import order_forward
from orders.models import CancelRequest, Order, Refill


@pytest.fixture
def synced(provider):
    assert sync_provider(provider_id=provider.pk).ok
    return provider


def test_import_creates_services_in_a_new_category_with_markup_once(as_admin, synced):
    rows = list(UpstreamService.objects.filter(provider=synced, type="Default").order_by("pk")[:3])
    page = as_admin.get(reverse("admin:bo_import", args=[synced.pk]))
    assert page.status_code == 200 and rows[0].name.encode() in page.content
    form = {"upstream": [r.pk for r in rows], "new_category": "Imported", "markup_percent": "25", "enabled": "on"}
    for _ in range(2):
        as_admin.post(reverse("admin:bo_import", args=[synced.pk]), form)
    created = Service.objects.filter(upstream__in=rows)
    assert created.count() == 3
    category = Category.objects.get(name="Imported")
    for service in created:
        assert service.category == category and service.enabled and service.markup_percent == Decimal("25")
        assert service.rate >= unit_cost(service)
    assert ServiceChange.objects.filter(kind="imported", service__in=created).count() == 3
    assert AuditLog.objects.filter(action="catalog.import").count() == 1


def test_import_into_upstream_categories(synced, admin_staff):
    rows = list(UpstreamService.objects.filter(provider=synced, type="Default").order_by("pk")[:2])
    services.services_import(provider_id=synced.pk, upstream_ids=[r.pk for r in rows], actor_id=admin_staff.pk)
    for row in rows:
        assert Service.objects.get(upstream=row).category.name == row.category


def test_bulk_markup_reprices_and_audits(as_admin, synced, admin_staff):
    rows = list(UpstreamService.objects.filter(provider=synced, type="Default").order_by("pk")[:2])
    created = services.services_import(
        provider_id=synced.pk, upstream_ids=[r.pk for r in rows], actor_id=admin_staff.pk
    ).extra
    ids = ",".join(str(s.pk) for s in created)
    as_admin.post(reverse("admin:bo_services_markup") + f"?ids={ids}", {"markup_percent": "100"})
    for service in Service.objects.filter(pk__in=[s.pk for s in created]).select_related("upstream__provider"):
        assert service.markup_percent == Decimal("100")
        assert service.rate >= unit_cost(service) * 2
    assert AuditLog.objects.filter(action="catalog.markup").count() == 1


def test_provider_buttons_test_refresh_and_sync(as_admin, provider):
    for action in ("test", "refresh", "sync"):
        response = as_admin.post(reverse("admin:bo_provider_action", args=[provider.pk, action]), follow=True)
        assert response.status_code == 200
        assert not [m for m in response.context["messages"] if m.level_tag == "error"], action
    provider.refresh_from_db()
    assert provider.balance is not None
    assert UpstreamService.objects.filter(provider=provider).exists()


def test_provider_form_never_shows_the_key(as_admin, provider):
    page = as_admin.get(reverse("admin:upstream_provider_change", args=[provider.pk])).content.decode()
    assert provider.api_key not in page


def test_refill_and_cancel_retry(as_admin, place, sim, customer, make_service):
    order = place(service=make_service("Default", cancel=True))
    order_forward(order_id=order.pk)
    cancel = CancelRequest.objects.create(order=order, user=customer, state=CancelRequest.State.REJECTED, error="no")
    as_admin.post(reverse("admin:bo_cancel_retry", args=[cancel.pk]))
    cancel.refresh_from_db()
    assert cancel.state == CancelRequest.State.CONFIRMED
    assert AuditLog.objects.filter(action="cancel.retry").count() == 1
    as_admin.post(reverse("admin:bo_cancel_retry", args=[cancel.pk]))
    assert AuditLog.objects.filter(action="cancel.retry").count() == 1

    refill = Refill.objects.create(
        order=order,
        user=customer,
        provider=order.provider,
        state=Refill.State.REJECTED,
        status=Refill.Status.REJECTED,
        error="not completed",
    )
    as_admin.post(reverse("admin:bo_refill_retry", args=[refill.pk]))
    refill.refresh_from_db()
    assert AuditLog.objects.filter(action="refill.retry").count() == 1
    assert refill.state in (Refill.State.SENT, Refill.State.REJECTED, Refill.State.QUEUED)
    assert Order.objects.get(pk=order.pk).events.filter(kind="staff").count() == 2
