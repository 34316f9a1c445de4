"""The host name lookup is cached: no registry query after the first request, and a change to
the registry is seen at the very next request."""

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tenants.lookup import panel_for_host, panel_for_schema
from tenants.models import Domain, PanelStatus
from tenants.tests.conftest import CHILDREN, PARENT_HOST

A, B = "child_a", "child_b"


def registry_queries(client: Client, host: str, path: str = "/healthz") -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, HTTP_HOST=host)
    connection.set_schema_to_public()
    registry = [q["sql"] for q in queries if "tenants_panel" in q["sql"] or "tenants_domain" in q["sql"]]
    return response.status_code, registry


def test_a_child_host_costs_no_registry_query_after_the_first_request(children):
    client = Client()
    status, first = registry_queries(client, CHILDREN[A])
    assert status == 200 and first, "the first request reads the registry"
    for _ in range(3):
        status, again = registry_queries(client, CHILDREN[A])
        assert status == 200 and again == []
    # The other child has an entry of its own.
    assert registry_queries(client, CHILDREN[B])[1]
    assert registry_queries(client, CHILDREN[B])[1] == []


def test_the_parents_unknown_host_names_are_cached_too(children, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "unknown.example.test"]
    client = Client()
    for host in (PARENT_HOST, "unknown.example.test"):
        status, first = registry_queries(client, host)
        assert status == 200 and first
        status, again = registry_queries(client, host)
        assert status == 200 and again == []
        assert connection.schema_name == "public"


def test_a_suspension_is_seen_at_the_next_request(children):
    client = Client()
    assert client.get("/healthz", HTTP_HOST=CHILDREN[A]).status_code == 200
    connection.set_schema_to_public()
    panel = children[A]
    panel.status = PanelStatus.SUSPENDED
    panel.save()
    try:
        assert client.get("/healthz", HTTP_HOST=CHILDREN[A]).status_code == 503
        assert client.get("/healthz", HTTP_HOST=CHILDREN[B]).status_code == 200
    finally:
        connection.set_schema_to_public()
        panel.status = PanelStatus.ACTIVE
        panel.save()
    assert client.get("/healthz", HTTP_HOST=CHILDREN[A]).status_code == 200
    connection.set_schema_to_public()


def test_a_domain_added_moved_or_removed_is_seen_at_the_next_request(children, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "new.example.test"]
    client = Client()

    def schema_of(host: str) -> str:
        client.get("/healthz", HTTP_HOST=host)
        schema = connection.schema_name
        connection.set_schema_to_public()
        return schema

    assert schema_of("new.example.test") == "public"  # cached as "no panel"
    domain = Domain.objects.create(domain="new.example.test", tenant=children[A], is_primary=False)
    assert schema_of("new.example.test") == A
    domain.tenant = children[B]
    domain.save()
    assert schema_of("new.example.test") == B
    domain.delete()
    assert schema_of("new.example.test") == "public"


def test_a_cached_panel_is_a_full_registry_row_that_can_be_saved(children):
    cached = panel_for_host(CHILDREN[A])
    cached = panel_for_host(CHILDREN[A])
    assert cached.pk == children[A].pk and cached.schema_name == A
    assert cached.primary_host == CHILDREN[A]
    assert cached.currency == children[A].currency and cached.created == children[A].created
    cached.name = "Renamed A"
    cached.save()
    assert panel_for_schema(A).name == "Renamed A"
    cached.name = children[A].name
    cached.save()
    assert panel_for_host("nothing.example.test") is None
    assert panel_for_schema("no_such_schema") is None
