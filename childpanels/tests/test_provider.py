"""Wiring a child panel to the parent: one key, one provider, one catalogue, however often it
runs; the owner's own key untouched; the panel's key accepted as the owner and nothing else."""

# The fixtures come from the end-to-end module (the child panel `child_hb` and the live parent);
# pytest passes them by the names imported here.
# ruff: noqa: F811

from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts.models import PanelApiKey, User
from accounts.services import api_key_rotate, user_by_api_key
from catalog.models import Service, UpstreamService
from childpanels.provider import WireError, provider_unwire, provider_wire
from childpanels.tests.test_end_to_end import SCHEMA, _child_hb_schema, _short_lived_connections, parent  # noqa: F401
from tenants.models import Panel
from upstream.models import Provider
from upstream.urlguard import UnsafeURL, check_url

pytestmark = pytest.mark.django_db(transaction=True)


def _api(key: str, action: str, **params) -> object:
    return Client().post("/api/v2", {"key": key, "action": action, **params}).json()


def test_wiring_twice_gives_one_key_one_provider_and_one_catalogue(parent):
    owner_key = api_key_rotate(user=parent.owner)
    first = provider_wire(panel_id=parent.panel.pk)
    assert first.key_issued and first.sync.ok and first.sync.created == 1
    with schema_context(SCHEMA):
        provider = Provider.objects.get()
        held = provider.api_key
    again = provider_wire(panel_id=parent.panel.pk)
    assert not again.key_issued and again.provider_id == first.provider_id
    assert again.sync.ok and again.sync.created == 0

    assert PanelApiKey.objects.filter(panel_schema=SCHEMA).count() == 1
    with schema_context(SCHEMA):
        provider = Provider.objects.get()
        assert provider.api_key == held
        assert provider.is_parent and provider.honours_idempotency_keys and provider.send_idempotency_key
        assert provider.api_url == settings.CHILD_PARENT_API_URL and provider.name == settings.PANEL_NAME
        assert provider.currency == "USD" and provider.exchange_rate == Decimal("1")
        assert provider.catalog_import.auto_import
        # The parent's one service, imported once, for sale in the child.
        assert UpstreamService.objects.count() == 1
        service = Service.objects.get()
        assert service.upstream.upstream_id == str(parent.parent_service.pk) and service.enabled

    # The panel's key is the owner's on the parent; the owner's own key still works.
    assert _api(held, "balance")["balance"] == _api(owner_key, "balance")["balance"]
    assert user_by_api_key(held).pk == user_by_api_key(owner_key).pk == parent.owner.pk


def test_a_lost_provider_key_is_replaced_and_the_old_one_refused(parent):
    provider_wire(panel_id=parent.panel.pk, sync=False)
    with schema_context(SCHEMA):
        old = Provider.objects.get().api_key
        # The child's copy is lost (a restore, a hand edit): the next wiring issues a new key.
        Provider.objects.update(api_key="not-the-key-0000000000")
    wired = provider_wire(panel_id=parent.panel.pk, sync=False)
    assert wired.key_issued
    with schema_context(SCHEMA):
        new = Provider.objects.get().api_key
    assert new != old
    assert _api(old, "balance") == {"error": "Invalid API key"}
    assert "balance" in _api(new, "balance")


def test_a_revoked_key_and_an_inactive_owner_are_refused(parent):
    provider_wire(panel_id=parent.panel.pk, sync=False)
    with schema_context(SCHEMA):
        key = Provider.objects.get().api_key
    assert "balance" in _api(key, "balance")
    User.objects.filter(pk=parent.owner.pk).update(is_active=False)
    assert _api(key, "balance") == {"error": "Invalid API key"}
    assert _api(key, "status", order="1") == {"error": "Invalid API key"}
    User.objects.filter(pk=parent.owner.pk).update(is_active=True)
    assert provider_unwire(panel_id=parent.panel.pk)
    assert not provider_unwire(panel_id=parent.panel.pk)
    assert _api(key, "balance") == {"error": "Invalid API key"}
    assert _api(key, "status", order="1") == {"error": "Invalid API key"}


def test_another_panels_key_names_only_its_own_owner(parent):
    other = User.objects.create(username="other-owner")
    other_panel = Panel.objects.create(schema_name="child_hb_other", name="Other", owner_id=other.pk)
    from accounts.services import panel_api_key_issue

    other_key = panel_api_key_issue(user_id=other.pk, panel_schema=other_panel.schema_name)
    provider_wire(panel_id=parent.panel.pk, sync=False)
    with schema_context(SCHEMA):
        key = Provider.objects.get().api_key
    assert user_by_api_key(other_key).pk == other.pk
    assert user_by_api_key(key).pk == parent.owner.pk
    # The parent's key check is per panel schema: in a child's schema the parent's keys name nobody.
    with schema_context(SCHEMA):
        assert user_by_api_key(key) is None


def test_the_key_check_stays_one_query(parent):
    owner_key = api_key_rotate(user=parent.owner)
    provider_wire(panel_id=parent.panel.pk, sync=False)
    with schema_context(SCHEMA):
        key = Provider.objects.get().api_key
    connection.set_schema_to_public()
    for raw in (owner_key, key, "0" * 48):
        with CaptureQueriesContext(connection) as queries:
            user_by_api_key(raw)
        assert len([q for q in queries if not q["sql"].startswith("SET ")]) == 1


def test_wiring_refuses_a_panel_without_an_owner(parent):
    Panel.objects.filter(pk=parent.panel.pk).update(owner_id=None)
    with pytest.raises(WireError, match="no active owner"):
        provider_wire(panel_id=parent.panel.pk)
    with schema_context(SCHEMA):
        assert not Provider.objects.exists()


def test_a_child_currency_without_a_rate_is_refused_and_one_with_a_rate_is_used(parent):
    from currencies.models import ExchangeRate, Source

    Panel.objects.filter(pk=parent.panel.pk).update(currency="EUR")
    with pytest.raises(WireError, match="No exchange rate from USD to EUR"):
        provider_wire(panel_id=parent.panel.pk, sync=False)
    ExchangeRate.objects.create(source=Source.FIXED, base="USD", currency="EUR", rate=Decimal("0.9"))
    provider_wire(panel_id=parent.panel.pk, sync=False)
    with schema_context(SCHEMA):
        provider = Provider.objects.get()
        assert provider.currency == "USD" and provider.exchange_rate == Decimal("0.9")


def test_the_url_guard_allows_exactly_the_parent_api_url(parent, settings):
    settings.UPSTREAM_ALLOW_PRIVATE = False
    settings.CHILD_PARENT_API_URL = "http://127.0.0.1:8000/api/v2"
    check_url("http://127.0.0.1:8000/api/v2", allow_private=False)
    check_url("http://127.0.0.1:8000/api/v2/", allow_private=False)
    for refused in ("http://127.0.0.1:8000/admin/", "http://127.0.0.1:8001/api/v2", "http://10.0.0.1/api/v2"):
        with pytest.raises(UnsafeURL):
            check_url(refused, allow_private=False)


def test_the_wire_command_runs_again_safely(parent, capsys):
    call_command("wire_child", SCHEMA)
    call_command("wire_child", SCHEMA)
    out = capsys.readouterr().out
    assert "a new key issued" in out and "its key kept" in out
    assert PanelApiKey.objects.count() == 1


def test_in_a_child_the_parent_provider_cannot_be_changed_deleted_or_joined(parent, rf):
    from django.contrib import admin as django_admin

    provider_wire(panel_id=parent.panel.pk, sync=False)
    model_admin = django_admin.site._registry[Provider]
    with schema_context(SCHEMA):
        staff = User.objects.create(username="hb-admin", is_staff=True, is_superuser=True)
        request = rf.get("/")
        request.user = staff
        provider = Provider.objects.get()
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request, provider)
        assert not model_admin.has_delete_permission(request, provider)
        assert model_admin.has_view_permission(request, provider)
