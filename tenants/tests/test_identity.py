"""A child panel's own address and currency, in requests, in tasks and in what it sends."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from panel.tenancy import panel_currency, panel_url
from tenants.models import Panel
from tenants.tests.conftest import CHILDREN, PARENT_HOST

A, B = "child_a", "child_b"


@pytest.fixture
def euro_a(children):
    """Child A bought in EUR (its registry row says so); put back to USD afterwards."""
    panel = children[A]
    panel.currency = "EUR"
    panel.save()
    yield panel
    connection.set_schema_to_public()
    panel.currency = "USD"
    panel.save()


def test_the_parent_keeps_its_settings(children, settings):
    settings.PANEL_URL = "https://panel.example.com/"
    settings.PANEL_CURRENCY = "USD"
    assert panel_url() == "https://panel.example.com"
    assert panel_currency() == "USD"


def test_a_childs_address_is_its_primary_domain_with_the_parents_scheme_and_port(children, in_schema, settings):
    settings.PANEL_URL = "https://panel.example.com"
    with in_schema(A):
        assert panel_url() == f"https://{CHILDREN[A]}"
    with in_schema(B):
        assert panel_url() == f"https://{CHILDREN[B]}"
    # In development the children answer on the parent's port (acme.localhost:8000).
    settings.PANEL_URL = "http://127.0.0.1:8000"
    with in_schema(A):
        assert panel_url() == f"http://{CHILDREN[A]}:8000"


def test_a_celery_task_in_a_childs_schema_links_to_the_child(children, settings):
    from notifications.channels.email import absolute

    settings.PANEL_URL = "https://panel.example.com"
    # tenant-schemas-celery sets the connection's tenant to the registry row (no primary_host).
    connection.set_tenant(Panel.objects.get(schema_name=B))
    try:
        assert absolute("/orders/") == f"https://{CHILDREN[B]}/orders/"
    finally:
        connection.set_schema_to_public()
    assert absolute("/orders/") == "https://panel.example.com/orders/"


def test_an_email_sent_on_a_child_links_to_the_child(children, in_schema, make_customer, settings):
    from notifications.channels.email import email_context
    from notifications.kinds import KINDS
    from notifications.models import Event

    settings.PANEL_URL = "https://panel.example.com"
    with in_schema(A):
        user, _ = make_customer("mail-reader")
        event = Event(kind=next(iter(KINDS)), data={})
        context = email_context(event, user)
    assert context["panel_url"] == f"https://{CHILDREN[A]}"
    assert context["preferences_url"].startswith(f"https://{CHILDREN[A]}/")
    assert context["unsubscribe_url"].startswith(f"https://{CHILDREN[A]}/")


def test_a_child_in_eur_answers_and_shows_eur(euro_a, in_schema, make_customer):
    with in_schema(A):
        a_user, a_key = make_customer("euro-buyer", balance="100")
        assert panel_currency() == "EUR"
    with in_schema(B):
        _, b_key = make_customer("dollar-buyer", balance="100")
        assert panel_currency() == "USD"
    with in_schema("public"):
        _, p_key = make_customer("parent-buyer", balance="100")
    for host, key, currency in ((CHILDREN[A], a_key, "EUR"), (CHILDREN[B], b_key, "USD"), (PARENT_HOST, p_key, "USD")):
        answer = Client(HTTP_HOST=host).post("/api/v2", {"key": key, "action": "balance"})
        assert answer.json() == {"balance": "100.00000", "currency": currency}, host
    client = Client()
    with in_schema(A):
        client.force_login(a_user)
    page = client.get("/funds/", HTTP_HOST=CHILDREN[A]).content.decode()
    assert "€100.00" in page and "$100.00" not in page
    connection.set_schema_to_public()


def test_a_gateway_deposit_on_a_eur_child_is_charged_in_eur(euro_a, in_schema, make_customer, settings):
    from billing.models import PaymentMethod
    from billing.payments.deposits import deposit_create, deposit_start
    from testing.gateways.stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe

    fake = FakeStripe()
    fake.start()
    settings.PAYMENT_GATEWAY_BASE_URLS = {"stripe": fake.url}
    try:
        for schema, currency in ((A, "EUR"), ("public", "USD")):
            with in_schema(schema):
                user, _ = make_customer(f"payer-{schema}", balance="1")
                method = PaymentMethod(name="Card", kind="stripe", min_amount=Decimal("5"), max_amount=Decimal("1000"))
                method.set_secret_values({"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET})
                method.save()
                deposit = deposit_create(user=user, method=method, amount=Decimal("20"))
                assert deposit.charge_currency == currency
                deposit_start(
                    deposit=deposit,
                    return_url="https://x.test/r",
                    cancel_url="https://x.test/c",
                    notify_url="https://x.test/n",
                )
            sent = list(fake.sessions.values())[-1]
            assert sent["currency"] == currency.lower() and sent["amount_total"] == 2000
    finally:
        fake.stop()
        connection.set_schema_to_public()


def test_a_child_without_a_branded_name_is_called_by_the_name_it_was_bought_with(children, in_schema, settings):
    from site_pages.models import Branding
    from site_pages.selectors import brand, brand_forget

    children["child_b"].name = "Bravo Boost"
    children["child_b"].save(update_fields=["name"])
    with in_schema("child_b"):
        Branding.objects.filter(pk=1).update(panel_name="")
        brand_forget()
        assert brand().name == "Bravo Boost"
        Branding.objects.update_or_create(pk=1, defaults={"panel_name": "Bravo Likes"})
        brand_forget()
        assert brand().name == "Bravo Likes"
        brand_forget()
    brand_forget()
    assert brand().name == settings.PANEL_NAME
