"""The backoffice: pages render, the guard shows as a form error, actions go through services."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import User
from catalog.admin import CustomerPriceForm, ServiceForm
from catalog.models import Category, Service, SyncRun

D = Decimal


@pytest.fixture(autouse=True)
def admin_settings(settings):
    # Tests run with DEBUG=false: staff would need a TOTP device, and the manifest storage
    # `collectstatic`; neither is what these tests are about.
    settings.STAFF_REQUIRE_2FA = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw-boss-123"))
    return client


@pytest.fixture
def synced(pricing, simulator, provider_for):
    from catalog.sync import sync_provider

    provider = provider_for(simulator(services=20), auto_import=True)
    assert sync_provider(provider_id=provider.pk).ok
    return provider


@pytest.mark.parametrize(
    "model",
    [
        "category",
        "service",
        "customerprice",
        "pricingsettings",
        "providerimport",
        "upstreamservice",
        "syncrun",
        "servicechange",
    ],
)
def test_changelists_render(staff_client, synced, model):
    response = staff_client.get(reverse(f"admin:catalog_{model}_changelist"))
    assert response.status_code == 200


def test_service_and_provider_pages_render(staff_client, synced):
    service = Service.objects.filter(upstream__provider=synced).first()
    assert staff_client.get(reverse("admin:catalog_service_change", args=[service.pk])).status_code == 200
    assert staff_client.get(reverse("admin:catalog_service_add")).status_code == 200
    page = staff_client.get(reverse("admin:upstream_provider_change", args=[synced.pk]))
    assert page.status_code == 200 and b"auto-import" in page.content


def form_data(service: Service, **changes) -> dict:
    data = {
        "category": service.category_id,
        "upstream": service.upstream_id,
        "name": service.name,
        "type": service.type,
        "description": "",
        "min": service.min,
        "max": service.max,
        "refill_days": 30,
        "enabled": True,
        "position": 0,
        "markup_percent": "",
        "fixed_rate": "",
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not False}


def test_service_form_refuses_a_price_below_cost_unless_loss_leader(synced):
    service = Service.objects.select_related("upstream").filter(upstream__provider=synced).first()
    below = service.upstream.rate - D("0.00001")
    form = ServiceForm(data=form_data(service, fixed_rate=below), instance=service)
    assert not form.is_valid()
    assert "below its cost" in form.errors["fixed_rate"][0]
    form = ServiceForm(data=form_data(service, markup_percent="-5"), instance=service)
    assert "below its cost" in form.errors["markup_percent"][0]
    form = ServiceForm(data=form_data(service, fixed_rate=below, allow_below_cost=True), instance=service)
    assert form.is_valid(), form.errors


def test_service_form_refuses_to_enable_a_service_gone_upstream(synced):
    service = Service.objects.select_related("upstream").filter(upstream__provider=synced).first()
    service.upstream.present = False
    service.upstream.save()
    form = ServiceForm(data=form_data(service), instance=service)
    assert "no longer lists" in form.errors["enabled"][0]


def test_saving_a_service_in_the_admin_recomputes_its_rate(staff_client, synced):
    service = Service.objects.select_related("upstream").filter(upstream__provider=synced).first()
    url = reverse("admin:catalog_service_change", args=[service.pk])
    data = form_data(service, markup_percent="100")
    for inline in ("changes", "fallbacks"):
        data.update(
            {
                f"{inline}-TOTAL_FORMS": 0,
                f"{inline}-INITIAL_FORMS": 0,
                f"{inline}-MIN_NUM_FORMS": 0,
                f"{inline}-MAX_NUM_FORMS": 0,
            }
        )
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.content[:2000]
    service.refresh_from_db()
    assert service.rate == (service.upstream.rate * 2).quantize(D("0.0001"), rounding="ROUND_UP")


def test_customer_price_form_refuses_below_cost(synced):
    service = Service.objects.select_related("upstream").filter(upstream__provider=synced).first()
    user = User.objects.create(username="cheap")
    form = CustomerPriceForm(data={"user": user.pk, "service": service.pk, "rate": "0"})
    assert "Below the service's cost" in form.errors["rate"][0]


def test_category_markup_edit_recomputes_its_services(staff_client, synced):
    category = Category.objects.filter(services__upstream__provider=synced).first()
    url = reverse("admin:catalog_category_change", args=[category.pk])
    response = staff_client.post(url, {"name": category.name, "position": 5, "markup_percent": "10"})
    assert response.status_code == 302
    for service in Service.objects.filter(category=category).select_related("upstream"):
        assert service.rate == (service.upstream.rate * D("1.1")).quantize(D("0.0001"), rounding="ROUND_UP")


def test_negative_category_markup_is_refused(staff_client, synced):
    category = Category.objects.first()
    url = reverse("admin:catalog_category_change", args=[category.pk])
    response = staff_client.post(url, {"name": category.name, "position": 5, "markup_percent": "-10"})
    assert response.status_code == 200  # the form again, with its error


def test_sync_now_action_on_providers(staff_client, synced):
    url = reverse("admin:upstream_provider_changelist")
    response = staff_client.post(url, {"action": "sync_services_now", "_selected_action": [synced.pk]}, follow=True)
    assert response.status_code == 200
    assert SyncRun.objects.filter(provider=synced).count() == 2
    assert b"20 upstream services" in response.content


def test_enable_disable_and_clear_flag_actions(staff_client, synced):
    services = list(Service.objects.filter(upstream__provider=synced).order_by("pk")[:3])
    ids = [service.pk for service in services]
    url = reverse("admin:catalog_service_changelist")
    staff_client.post(url, {"action": "disable", "_selected_action": ids})
    assert not Service.objects.filter(pk__in=ids, enabled=True).exists()
    gone = services[0].upstream
    gone.present = False
    gone.save()
    response = staff_client.post(url, {"action": "enable", "_selected_action": ids}, follow=True)
    assert Service.objects.filter(pk__in=ids, enabled=True).count() == 2
    assert b"no longer lists them" in response.content
    Service.objects.filter(pk__in=ids).update(flagged=True, flag_reason="removed upstream")
    staff_client.post(url, {"action": "clear_flag", "_selected_action": ids})
    assert not Service.objects.filter(pk__in=ids, flagged=True).exists()
