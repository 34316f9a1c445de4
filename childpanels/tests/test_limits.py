"""A child panel's plan limits: customers (sign-up), staff users (the backoffice's user form) and
services (the service form), read from the registry through tenants.limits; the parent has none."""

from django.contrib.admin.sites import site
from django.test import Client, RequestFactory

from accounts.models import User
from tenants.limits import current_limits, room
from tenants.models import Panel

A_HOST = "a.panels.test"


def set_limits(panel: Panel, **limits) -> None:
    for name, value in limits.items():
        setattr(panel, name, value)
    panel.save()  # the registry's signal makes the cached lookups stale


def test_the_parent_has_no_limits_and_a_child_has_its_plans(children, in_schema):
    set_limits(children["child_a"], max_customers=7, max_services=0, max_staff=2)
    assert current_limits() is None
    with in_schema("child_a"):
        limits = current_limits()
    assert (limits.customers, limits.services, limits.staff) == (7, 0, 2)
    assert room(0, 10**6) is None and room(3, 1) == 2 and room(3, 5) == 0


def test_sign_up_closes_when_the_customer_limit_is_reached(children, in_schema, make_customer):
    browser = Client(HTTP_HOST=A_HOST)
    with in_schema("child_a"):
        customers = User.objects.filter(is_staff=False).count()
    set_limits(children["child_a"], max_customers=customers + 1)
    open_page = browser.get("/accounts/signup/")
    assert open_page.status_code == 200 and 'name="password1"' in open_page.content.decode()
    with in_schema("child_a"):
        make_customer("the-last-one")
    closed = browser.get("/accounts/signup/")
    assert 'name="password1"' not in closed.content.decode() and "closed" in closed.content.decode().lower()
    refused = browser.post(
        "/accounts/signup/",
        {"email": "late@example.com", "username": "late", "password1": "Late-Secret-48", "password2": "Late-Secret-48"},
    )
    assert refused.status_code in (200, 403)
    with in_schema("child_a"):
        assert not User.objects.filter(username="late").exists()
    # The parent's sign-up is not the child's business.
    assert 'name="password1"' in Client().get("/accounts/signup/").content.decode()


def _user_form(obj, data):
    admin = site._registry[User]
    request = RequestFactory().post("/")
    request.user = User(is_superuser=True, is_staff=True)
    form_class = admin.get_form(request, obj, change=True)
    return form_class(data=data, instance=obj)


def test_no_staff_user_beyond_the_staff_limit(children, in_schema, make_customer):
    with in_schema("child_a"):
        staff = User.objects.filter(is_staff=True).count()
    set_limits(children["child_a"], max_staff=staff)
    with in_schema("child_a"):
        customer, _key = make_customer("would-be-staff")
        data = {
            "username": customer.username,
            "email": customer.email,
            "is_staff": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "balance": "0",
            "discount_percent": "0",
            "timezone": "UTC",
        }
        form = _user_form(customer, data)
        form.is_valid()
        assert "is_staff" in form.errors and "limit is reached" in str(form.errors["is_staff"])
    set_limits(children["child_a"], max_staff=0)  # no limit
    with in_schema("child_a"):
        form = _user_form(customer, data)
        form.is_valid()
        assert "is_staff" not in form.errors
    # The parent has no limit at all.
    parent_customer = User.objects.create(username="parent-would-be-staff", email="p@example.com")
    form = _user_form(parent_customer, {**data, "username": parent_customer.username, "email": "p@example.com"})
    form.is_valid()
    assert "is_staff" not in form.errors


def test_no_service_beyond_the_service_limit(children, in_schema):
    from catalog.admin import ServiceForm
    from catalog.models import Category, Service

    with in_schema("child_a"):
        category = Category.objects.create(name="Limits")
        Service.objects.create(category=category, manual=True, name="Fits", type="Default", min=10, max=1000, rate=1)
        count = Service.objects.count()
    set_limits(children["child_a"], max_services=count)
    with in_schema("child_a"):
        form = ServiceForm(data={"name": "One too many"})
        form.is_valid()
        assert "limit is reached" in " ".join(form.non_field_errors())
    set_limits(children["child_a"], max_services=count + 1)
    with in_schema("child_a"):
        form = ServiceForm(data={"name": "Fits"})
        form.is_valid()
        assert "limit is reached" not in " ".join(form.non_field_errors())


def test_the_catalogue_sync_imports_only_what_the_service_limit_allows(children, in_schema, sim):
    from catalog.models import ProviderImport, Service, SyncRun
    from catalog.sync import sync_provider
    from upstream.models import Provider

    with in_schema("child_a"):
        provider = Provider.objects.create(name="sim for limits", api_url=sim.url, api_key=sim.sim.key)
        ProviderImport.objects.update_or_create(provider=provider, defaults={"auto_import": True})
        before = Service.objects.count()
    set_limits(children["child_a"], max_services=before + 5)
    with in_schema("child_a"):
        run = sync_provider(provider_id=provider.pk, import_existing=True)
        assert run.ok is True
        assert Service.objects.count() == before + 5
        assert Service.objects.filter(upstream__provider=provider).count() == 5
        note = SyncRun.objects.get(pk=run.pk).error
        assert note.endswith("services not imported: the panel's service limit is reached.")
        # Room made by a higher limit is filled by the next sync; nothing is imported twice.
    set_limits(children["child_a"], max_services=before + 8)
    with in_schema("child_a"):
        sync_provider(provider_id=provider.pk, import_existing=True)
        assert Service.objects.filter(upstream__provider=provider).count() == 8
        Service.objects.filter(upstream__provider=provider).delete()
        provider.delete()
