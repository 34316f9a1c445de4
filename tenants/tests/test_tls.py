"""The TLS front end's question: may a certificate be obtained for this host name?"""

import pytest

from tenants.models import PanelStatus

pytestmark = pytest.mark.django_db


def ask(client, domain, remote="127.0.0.1"):
    return client.get("/tls/allowed", {"domain": domain}, REMOTE_ADDR=remote)


def test_a_child_domain_is_allowed_in_any_case_and_with_a_trailing_dot(client, children):
    assert ask(client, "a.panels.test").status_code == 200
    assert ask(client, "B.Panels.Test.").status_code == 200


def test_unknown_names_are_refused(client, children):
    assert ask(client, "evil.example.net").status_code == 404
    assert ask(client, "x.a.panels.test").status_code == 404
    assert ask(client, "").status_code == 400


def test_a_suspended_panel_keeps_its_certificate_and_a_deleted_one_loses_it(client, children):
    panel = children["child_a"]
    panel.status = PanelStatus.SUSPENDED
    panel.save(update_fields=["status"])
    assert ask(client, "a.panels.test").status_code == 200
    panel.status = PanelStatus.DELETED
    panel.save(update_fields=["status"])
    assert ask(client, "a.panels.test").status_code == 404


def test_only_callers_nearby_may_ask(client, children):
    assert ask(client, "a.panels.test", remote="93.184.216.34").status_code == 403


def test_without_child_panels_no_child_domain_is_allowed(client, children, settings):
    settings.CHILD_PANELS = False
    assert ask(client, "a.panels.test").status_code == 404


def test_with_child_panels_a_registered_custom_domain_is_served_and_a_forged_host_refused(client, children, settings):
    # As settings do with CHILD_PANELS=true: Django accepts any host, the middleware decides.
    settings.PARENT_HOSTS = ["testserver", ".panels.test"]
    settings.ALLOWED_HOSTS = ["*"]
    from tenants.models import Domain

    Domain.objects.create(domain="shop.customer-owned.example", tenant=children["child_a"], is_primary=False)
    assert client.get("/healthz", HTTP_HOST="shop.customer-owned.example").status_code == 200
    assert client.get("/healthz", HTTP_HOST="SHOP.customer-owned.example.:443").status_code == 200
    assert client.get("/healthz", HTTP_HOST="testserver").status_code == 200
    assert client.get("/healthz", HTTP_HOST="evil.example.net").status_code == 400
    assert client.get("/accounts/login/", HTTP_HOST="evil.example.net").status_code == 400
    assert ask(client, "shop.customer-owned.example").status_code == 200
