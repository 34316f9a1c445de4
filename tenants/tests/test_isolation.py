"""Two child panels and the parent: nothing of one is known on another's host name."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from tenants.tests.conftest import CHILDREN, PARENT_HOST, STAFF_PASSWORD

A, B = "child_a", "child_b"
HOSTS = {A: CHILDREN[A], B: CHILDREN[B], "public": PARENT_HOST}
INVALID_KEY = b'{"error":"Invalid API key"}'


def api(host: str, key: str, action: str, **params):
    return Client(HTTP_HOST=host).post("/api/v2", {"key": key, "action": action, **params})


def test_a_request_works_in_the_schema_of_its_host_name(children):
    client = Client()
    for schema, host in HOSTS.items():
        response = client.get("/healthz", HTTP_HOST=host)
        assert response.status_code == 200
        assert connection.schema_name == schema
    connection.set_schema_to_public()


def test_an_unknown_host_name_is_the_parent(children, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "elsewhere.test"]
    Client().get("/healthz", HTTP_HOST="elsewhere.test")
    assert connection.schema_name == "public"


def test_api_keys_work_only_on_their_own_panel(children, in_schema, make_customer):
    keys = {}
    for schema in HOSTS:
        with in_schema(schema):
            _, keys[schema] = make_customer(f"{schema}-api", balance="7")
    for schema, host in HOSTS.items():
        for other, key in keys.items():
            answer = api(host, key, "balance")
            assert answer.status_code == 200
            if other == schema:
                assert answer.json() == {"balance": "7.00000", "currency": "USD"}
            else:
                assert answer.content == INVALID_KEY, (schema, other)
    connection.set_schema_to_public()


def test_a_customer_session_is_unknown_on_other_panels(children, in_schema, make_customer):
    with in_schema(A):
        make_customer("session-owner")
    client = Client()
    # Signing in on A's host name: the session and the user are A's.
    response = client.post(
        "/accounts/login/",
        {"login": "session-owner", "password": "customer-Secret-123"},
        HTTP_HOST=HOSTS[A],
    )
    assert response.status_code == 302, response.content[:300]
    assert client.get("/orders/", HTTP_HOST=HOSTS[A]).status_code == 200
    # The same cookie on B and on the parent is nobody's session there.
    for other in (B, "public"):
        response = client.get("/orders/", HTTP_HOST=HOSTS[other])
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    # A customer of the same name on B cannot use A's session either.
    with in_schema(B):
        make_customer("session-owner")
    assert client.get("/orders/", HTTP_HOST=HOSTS[B]).status_code == 302
    connection.set_schema_to_public()


def test_a_child_staff_user_runs_only_their_own_backoffice(children, in_schema, settings):
    from accounts.models import User

    admin_home = "/" + settings.ADMIN_URL
    client = Client()
    with in_schema(A):
        # The staff user panel_create made, signed in through A's own session table.
        client.force_login(User.objects.get(username=f"{A}_staff"))
    assert client.get(admin_home, HTTP_HOST=HOSTS[A]).status_code == 200
    for other in (B, "public"):
        response = client.get(admin_home, HTTP_HOST=HOSTS[other])
        assert response.status_code == 302 and "login" in response["Location"], other
    # A's staff user does not exist on B: B's login (allauth, which staff use too) refuses them.
    response = Client().post(
        "/accounts/login/", {"login": f"{A}_staff", "password": STAFF_PASSWORD}, HTTP_HOST=HOSTS[B]
    )
    assert response.status_code == 200  # the form again, with its error
    connection.set_schema_to_public()


def test_cache_keys_differ_per_panel(children, in_schema):
    made = {}
    for schema in HOSTS:
        with in_schema(schema):
            made[schema] = cache.make_key("brand")
            cache.set("brand", f"{schema}'s")
    assert made["public"] == "panel:1:brand"  # the parent's keys are what they always were
    assert len(set(made.values())) == 3
    for schema in HOSTS:
        with in_schema(schema):
            assert cache.get("brand") == f"{schema}'s"


def test_rate_limit_counters_and_upstream_keys_are_per_panel(children, in_schema):
    from api.throttling import _counter_keys
    from orders.forwarding import upstream_idempotency_key

    names = {}
    for schema in HOSTS:
        with in_schema(schema):
            names[schema] = (_counter_keys(None, "192.0.2.1", 0.0)[0][0], upstream_idempotency_key(5))
    assert len({n for n, _ in names.values()}) == 3
    assert len({k for _, k in names.values()}) == 3
    assert names["public"][0].startswith("panel:api:rl:ip:")


def test_attachments_go_to_the_panels_own_folder(children, in_schema, settings):
    from support.attachments import attachments_dir

    folders = {}
    for schema in HOSTS:
        with in_schema(schema):
            folders[schema] = attachments_dir()
    assert folders["public"] == settings.VAR_DIR / "attachments"
    assert folders[A] == settings.VAR_DIR / "tenants" / A / "attachments"
    assert len(set(folders.values())) == 3


def test_an_order_placed_on_a_child_writes_only_the_childs_ledger(children, in_schema, make_customer):
    from accounts.ledger import ledger_drift
    from accounts.models import LedgerEntry
    from catalog.models import Category, Service, UpstreamService
    from orders.models import Order
    from upstream.models import Provider

    before = {}
    for schema in HOSTS:
        with in_schema(schema):
            before[schema] = (LedgerEntry.objects.count(), Order.objects.count())
    with in_schema(A):
        customer, key = make_customer("a-buyer", balance="10")
        provider = Provider.objects.create(name="up", api_url="http://127.0.0.1:9/api/v2", api_key="k")
        ups = UpstreamService.objects.create(
            provider=provider,
            upstream_id=1,
            name="Likes",
            type="Default",
            category="Likes",
            rate=Decimal("1"),
            min=10,
            max=1000,
        )
        service = Service.objects.create(
            category=Category.objects.create(name="Likes"),
            upstream=ups,
            name="Likes",
            type="Default",
            rate=Decimal("2"),
            min=10,
            max=1000,
        )
    answer = api(HOSTS[A], key, "add", service=service.pk, link="https://x.com/a", quantity=100)
    assert answer.status_code == 200 and "order" in answer.json(), answer.content
    with in_schema(A):
        order = Order.objects.get(pk=answer.json()["order"])
        assert order.user_id == customer.pk and order.charge == Decimal("0.2")
        assert LedgerEntry.objects.filter(user_id=customer.pk, kind="charge", order_id=order.pk).count() == 1
        customer.refresh_from_db()
        assert customer.balance == Decimal("9.8")
        assert ledger_drift() == []
    for schema in (B, "public"):
        with in_schema(schema):
            assert (LedgerEntry.objects.count(), Order.objects.count()) == before[schema]
    # B's own customer asking for A's order ID: no such order on B.
    with in_schema(B):
        _, b_key = make_customer("b-asker")
    assert api(HOSTS[B], b_key, "status", order=order.pk).json() == {"error": "Incorrect order ID"}


def test_a_suspended_child_answers_503_and_keeps_its_data(children, in_schema, make_customer):
    with in_schema(A):
        _, key = make_customer("suspended-customer")
    connection.set_schema_to_public()
    panel = children[A]
    panel.status = "suspended"
    panel.save()
    answer = api(HOSTS[A], key, "balance")
    assert answer.status_code == 503 and answer.json() == {"error": "This panel is suspended."}
    assert Client().get("/", HTTP_HOST=HOSTS[A]).status_code == 503
    assert api(HOSTS[B], key, "balance").content == INVALID_KEY
    connection.set_schema_to_public()
    panel.status = "active"
    panel.save()
    assert api(HOSTS[A], key, "balance").json()["balance"] == "100.00000"
    connection.set_schema_to_public()


@pytest.mark.parametrize("bad", ["public", "panel_template", "Upper", "a", "pg_x", "x;drop", "1abc"])
def test_schema_names_that_cannot_name_a_panel(children, bad):
    from django.core.exceptions import ValidationError

    from tenants.services import panel_create

    with pytest.raises(ValidationError):
        panel_create(
            name="x",
            schema_name=bad,
            domain=f"{len(bad)}.bad.test",
            staff_username="s",
            staff_email="",
            staff_password=None,
        )
