"""Maintenance mode, signing in as a customer, bulk service edit and audited catalog edits."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditLog, User
from backoffice.models import Maintenance
from backoffice.site_mode import maintenance_clear_cache, maintenance_forget, maintenance_set, maintenance_sync
from catalog.models import Category, Service
from orders.forwarding import order_forward
from orders.models import ForwardState, Order, Status
from orders.placement import order_place
from orders.tasks import poll_orders


@pytest.fixture(autouse=True)
def _fresh_state():
    maintenance_clear_cache()
    yield
    maintenance_clear_cache()


@pytest.fixture
def maintenance_on(admin_staff):
    return maintenance_set(actor_id=admin_staff.pk, enabled=True, message="Upgrading the database, back at 14:00.")


# --- Maintenance mode ----------------------------------------------------------------------------


def test_switching_maintenance_is_audited_and_limited_to_the_role(as_admin, admin_staff, client, support_staff):
    url = reverse("admin:bo_maintenance")
    response = as_admin.post(url, {"enabled": "on", "message": "Back soon"})
    assert response.status_code == 302
    assert Maintenance.objects.get(pk=1).enabled
    row = AuditLog.objects.get(action="maintenance.on")
    assert row.actor_id == admin_staff.pk and row.after == {"enabled": True, "message": "Back soon"}
    as_admin.post(url, {"message": "Back soon"})
    assert not Maintenance.objects.get(pk=1).enabled
    assert AuditLog.objects.filter(action="maintenance.off").count() == 1
    client.force_login(support_staff)
    assert client.get(url).status_code == 403
    assert client.post(url, {"enabled": "on"}).status_code == 403
    assert not Maintenance.objects.get(pk=1).enabled


def test_customers_and_visitors_see_the_message(client, customer, maintenance_on):
    response = client.get("/")
    assert response.status_code == 503 and response["Retry-After"]
    assert "Upgrading the database" in response.content.decode()
    client.force_login(customer)
    for path in ("/", "/orders/", "/order/", "/services/", "/tickets/"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert "Upgrading the database" in response.content.decode()
    # A POST changes nothing either.
    assert client.post("/order/", {"service": "1"}).status_code == 503


def test_staff_keep_working(as_admin, maintenance_on):
    response = as_admin.get("/")
    assert response.status_code == 200
    assert 'id="maintenance-banner"' in response.content.decode()
    assert as_admin.get(reverse("admin:index")).status_code == 200
    assert as_admin.get(reverse("admin:orders_order_changelist")).status_code == 200


def test_login_health_and_payment_notifications_stay_open(client, maintenance_on):
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/healthz").status_code == 200
    # Gateways' notifications still reach their views (here: no such method -> the view's own 404).
    assert client.post("/payments/notify/999999/", {}).status_code != 503


def test_api_answers_in_the_protocols_error_shape(client, customer, maintenance_on):
    response = client.post("/api/v2", {"key": "anything", "action": "balance"})
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"error": "Upgrading the database, back at 14:00."}
    assert response["Retry-After"]


def test_empty_message_uses_a_standard_one(client, admin_staff):
    maintenance_set(actor_id=admin_staff.pk, enabled=True, message="  ")
    body = client.get("/").content.decode()
    assert "scheduled maintenance" in body
    assert json.loads(client.get("/api/v2").content)["error"].startswith("We are carrying out")


def test_celery_keeps_polling_and_settling(customer, make_service, sim, maintenance_on):
    service = make_service("Default", dripfeed=False)
    order = order_place(
        user=customer, service_id=service.pk, data={"link": "https://x.com/maint", "quantity": service.min * 3}
    ).order
    assert order_forward(order_id=order.pk) == "sent"
    sim.clock.advance(200)
    Order.objects.filter(forward_state=ForwardState.SENT).update(next_check_at=timezone.now() - timedelta(seconds=1))
    poll_orders()  # the beat task; batches run eagerly in tests
    order.refresh_from_db()
    assert order.status in (Status.COMPLETED, Status.PARTIAL, Status.CANCELED)
    assert order.settled_at is not None


def test_requests_read_the_switch_without_a_query(client, maintenance_on, django_assert_num_queries):
    maintenance_forget()
    with django_assert_num_queries(0):
        assert client.get("/").status_code == 503
        assert client.post("/api/v2", {"key": "k", "action": "balance"}).status_code == 503


def test_a_flushed_cache_is_restored_by_the_beat_task(client, maintenance_on):
    from django_celery_beat.models import PeriodicTask

    from backoffice.tasks import maintenance_sync as sync_task

    assert PeriodicTask.objects.filter(task="backoffice.maintenance_sync", enabled=True).exists()
    cache.clear()
    maintenance_forget()
    assert client.get("/").status_code == 302  # off (the login page) until the next sync, a minute at most
    assert sync_task() is True
    assert client.get("/").status_code == 503
    assert maintenance_sync() is True  # twice: the same


def test_switching_off_lets_everyone_back(client, customer, admin_staff, maintenance_on):
    client.force_login(customer)
    assert client.get("/").status_code == 503
    maintenance_set(actor_id=admin_staff.pk, enabled=False, message="")
    assert client.get("/").status_code == 200


# --- Signing in as a customer --------------------------------------------------------------------


def test_admin_signs_in_as_a_customer_and_back_audited(as_admin, admin_staff, customer):
    page = as_admin.get(reverse("admin:accounts_user_change", args=[customer.pk])).content.decode()
    assert 'id="bo-sign-in-as-button"' in page
    response = as_admin.post(reverse("admin:bo_sign_in_as"), {"user_pk": customer.pk, "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    home = as_admin.get("/")
    body = home.content.decode()
    assert home.wsgi_request.user.pk == customer.pk
    assert 'id="sign-in-as-banner"' in body and "buyer" in body
    started = AuditLog.objects.get(action="customer.sign_in_as")
    assert started.actor_id == admin_staff.pk and started.object_id == str(customer.pk)
    # One click back, to the customer's page in the backoffice.
    response = as_admin.post(
        reverse("hijack_release"), {"next": reverse("admin:accounts_user_change", args=[customer.pk])}
    )
    assert response.status_code == 302
    assert as_admin.get("/").wsgi_request.user.pk == admin_staff.pk
    ended = AuditLog.objects.get(action="customer.sign_in_as_end")
    assert ended.actor_id == admin_staff.pk and ended.object_id == str(customer.pk)


def test_support_role_may_not_sign_in_as(as_support, customer):
    page = as_support.get(reverse("admin:accounts_user_change", args=[customer.pk])).content.decode()
    assert "bo-sign-in-as-button" not in page
    response = as_support.post(reverse("admin:bo_sign_in_as"), {"user_pk": customer.pk})
    assert response.status_code == 403
    assert as_support.get("/").wsgi_request.user.username == "helper"
    assert not AuditLog.objects.filter(action="customer.sign_in_as").exists()


def test_nobody_signs_in_as_staff_or_a_banned_customer(as_admin, support_staff, customer):
    assert as_admin.post(reverse("admin:bo_sign_in_as"), {"user_pk": support_staff.pk}).status_code == 403
    User.objects.filter(pk=customer.pk).update(is_active=False)
    assert as_admin.post(reverse("admin:bo_sign_in_as"), {"user_pk": customer.pk}).status_code == 403
    assert not AuditLog.objects.filter(action="customer.sign_in_as").exists()


def test_customers_cannot_start_or_fake_it(client, customer, other_customer):
    client.force_login(customer)
    response = client.post(reverse("admin:bo_sign_in_as"), {"user_pk": other_customer.pk})
    assert response.status_code == 302 and "/login" in response["Location"]  # the backoffice's door
    assert client.get("/").wsgi_request.user.pk == customer.pk
    # Release without having signed in as anyone: refused.
    assert client.post(reverse("hijack_release")).status_code == 403


def test_staff_signed_in_as_a_customer_pass_maintenance(as_admin, admin_staff, customer):
    as_admin.post(reverse("admin:bo_sign_in_as"), {"user_pk": customer.pk, "next": "/"})
    maintenance_set(actor_id=admin_staff.pk, enabled=True, message="Closed")
    assert as_admin.get("/orders/").status_code == 200


@pytest.fixture
def other_customer(db):
    return User.objects.create(username="someone-else")


# --- Bulk service edit ---------------------------------------------------------------------------


def test_bulk_edit_changes_many_services_with_an_audit_row_each(as_admin, admin_staff, make_service):
    services = [make_service("Default"), make_service("Default", refill=True), make_service("Package")]
    target = Category.objects.create(name="Promoted")
    ids = ",".join(str(s.pk) for s in services)
    url = reverse("admin:bo_services_bulk_edit") + f"?ids={ids}"
    assert as_admin.get(url).status_code == 200
    response = as_admin.post(
        url,
        {"category": target.pk, "price": "markup", "markup_percent": "150", "enabled": "off", "reason": "promo"},
    )
    assert response.status_code == 302
    for service in Service.objects.filter(pk__in=[s.pk for s in services]):
        assert service.category_id == target.pk and not service.enabled
        assert service.markup_percent == Decimal("150") and service.fixed_rate is None
    rows = AuditLog.objects.filter(action="service.bulk_edit")
    assert rows.count() == 3
    row = rows.first()
    assert row.actor_id == admin_staff.pk and row.reason == "promo"
    assert row.after["category_id"] == target.pk and row.after["enabled"] is False


def test_bulk_edit_min_max_all_or_nothing(as_admin, make_service):
    a, b = make_service("Default"), make_service("Default", refill=True)
    url = reverse("admin:bo_services_bulk_edit") + f"?ids={a.pk},{b.pk}"
    # A min above one service's max: nothing changes at all.
    too_high = max(a.max, b.max) + 1
    response = as_admin.post(url, {"min": too_high}, follow=True)
    assert "Nothing was changed" in response.content.decode()
    assert Service.objects.get(pk=a.pk).min == a.min and Service.objects.get(pk=b.pk).min == b.min
    assert not AuditLog.objects.filter(action="service.bulk_edit").exists()
    low = max(a.min, b.min)
    high = min(a.max, b.max)
    response = as_admin.post(url, {"min": low, "max": high})
    assert response.status_code == 302
    assert {(s.min, s.max) for s in Service.objects.filter(pk__in=[a.pk, b.pk])} == {(low, high)}


def test_bulk_edit_refuses_a_price_below_cost(as_admin, make_service):
    service = make_service("Default")
    url = reverse("admin:bo_services_bulk_edit") + f"?ids={service.pk}"
    response = as_admin.post(url, {"price": "fixed", "fixed_rate": "0.00001"}, follow=True)
    assert "Nothing was changed" in response.content.decode()
    assert Service.objects.get(pk=service.pk).fixed_rate is None


def test_bulk_edit_needs_the_catalog_role(as_support, make_service):
    service = make_service("Default")
    url = reverse("admin:bo_services_bulk_edit") + f"?ids={service.pk}"
    assert as_support.get(url).status_code == 403
    assert as_support.post(url, {"enabled": "off"}).status_code == 403
    assert Service.objects.get(pk=service.pk).enabled


def test_service_and_category_edits_on_their_pages_are_audited(as_admin, admin_staff, make_service):
    category = Category.objects.create(name="Old name")
    response = as_admin.post(
        reverse("admin:catalog_category_change", args=[category.pk]), {"name": "New name", "position": 3}
    )
    assert response.status_code == 302
    row = AuditLog.objects.get(action="category.edit")
    assert row.before["name"] == "Old name" and row.after["name"] == "New name"
    # A service's page: the staff override of the average time, saved and audited.
    from catalog.tests.test_admin import form_data

    service = make_service("Default")
    data = form_data(service, refill=service.refill, cancel=service.cancel, avg_time_override="3:00:00")
    for inline in ("changes", "fallbacks"):
        data.update({f"{inline}-{k}": 0 for k in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS")})
    response = as_admin.post(reverse("admin:catalog_service_change", args=[service.pk]), data)
    assert response.status_code == 302, response.content[:3000]
    service.refresh_from_db()
    assert service.avg_time_override == timedelta(hours=3) and service.avg_time_shown == timedelta(hours=3)
    row = AuditLog.objects.get(action="service.edit", object_id=str(service.pk))
    assert row.actor_id == admin_staff.pk
    assert row.before["avg_time_override"] is None and row.after["avg_time_override"] == "3:00:00"
    # A negative override is refused.
    data["avg_time_override"] = "-1:00:00"
    response = as_admin.post(reverse("admin:catalog_service_change", args=[service.pk]), data)
    assert response.status_code == 200
