"""The customer's Child panel page: the list, the order form, Pay now; and buying it in a browser."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.ledger import ledger_credit, ledger_drift
from accounts.models import LedgerEntry, User
from tenants.models import ChildPanelPlan, Domain, Panel, PanelStatus, SuspendedReason
from tenants.tests.conftest import _child_schemas, children, in_schema, make_customer  # noqa: F401
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot

FORM = {
    "name": "Acme Boost",
    "domain": "acme",
    "currency": "USD",
    "staff_username": "boss",
    "staff_email": "boss@example.com",
    "password": "Boss-Secret-4821",
    "password_again": "Boss-Secret-4821",
}


@pytest.fixture
def selling(db, settings, plain_static_storage):
    settings.CHILD_PANEL_DOMAIN = "panels.example.net"
    plan = ChildPanelPlan.current()
    plan.selling, plan.monthly_price = True, Decimal("25")
    plan.save()
    return plan


def customer_with(balance: str, username: str = "reseller") -> User:
    user = User.objects.create(username=username, email=f"{username}@example.com")
    if Decimal(balance) > 0:
        ledger_credit(user_id=user.pk, amount=Decimal(balance), memo="test funds")
    return user


def test_the_page_shows_the_plan_the_balance_and_the_form(client, selling):
    client.force_login(customer_with("40"))
    page = client.get(reverse("dashboard:child_panels"))
    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="child-panel-form"' in text and "acme.panels.example.net" in text
    assert "$25.00" in text and "$40.00" in text and "You have no child panel yet." in text
    assert reverse("dashboard:child_panels") in text  # the sidebar's link


def test_buying_from_the_page_charges_once_and_lists_the_panel_being_prepared(
    client, selling, django_capture_on_commit_callbacks
):
    user = customer_with("40")
    client.force_login(user)
    with django_capture_on_commit_callbacks():  # the build is not run here (see childpanels' tests)
        answer = client.post(reverse("dashboard:child_panels"), FORM)
    assert answer.status_code == 302
    panel = Panel.objects.get(owner_id=user.pk)
    assert panel.status == PanelStatus.PENDING and panel.name == "Acme Boost"
    user.refresh_from_db()
    assert user.balance == Decimal("15") and ledger_drift() == []
    page = client.get(reverse("dashboard:child_panels")).content.decode()
    assert "Being prepared" in page and "acme.panels.example.net" in page and 'hx-trigger="every 4s"' in page
    # The same form again: the domain is taken, nothing more is charged.
    again = client.post(reverse("dashboard:child_panels"), FORM)
    assert again.status_code == 400 and "already serves a panel" in again.content.decode()
    assert LedgerEntry.objects.filter(user=user, kind="charge").count() == 1


def test_a_short_balance_is_a_form_error_with_a_link_to_add_funds(client, selling):
    user = customer_with("10")
    client.force_login(user)
    answer = client.post(reverse("dashboard:child_panels"), FORM)
    text = answer.content.decode()
    assert answer.status_code == 400 and "too low to pay the first month" in text
    assert reverse("dashboard:add_funds") in text and 'id="add-funds-hint"' in text
    assert not Panel.objects.filter(owner_id=user.pk).exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("domain", "127.0.0.1", "not an IP address"),
        ("domain", "bad_name.com", "not a valid domain"),
        ("domain", "www", "reserved"),
        ("password", "123", "too short"),
        ("password_again", "Other-Secret-4821", "differ"),
        ("staff_username", "boss man!", "Enter a valid username"),
    ],
)
def test_bad_input_is_a_form_error(client, selling, field, value, message):
    user = customer_with("100")
    client.force_login(user)
    data = {**FORM, field: value}
    if field == "password":
        data["password_again"] = value
    answer = client.post(reverse("dashboard:child_panels"), data)
    assert answer.status_code == 400 and message in answer.content.decode()
    assert not Panel.objects.filter(owner_id=user.pk).exists() and ledger_drift() == []


def test_not_selling_shows_a_notice_and_buys_nothing(client, selling):
    selling.selling = False
    selling.save()
    user = customer_with("100")
    client.force_login(user)
    page = client.get(reverse("dashboard:child_panels"))
    assert page.status_code == 200 and 'id="not-for-sale"' in page.content.decode()
    assert reverse("dashboard:child_panels") not in client.get(reverse("dashboard:home")).content.decode()
    assert client.post(reverse("dashboard:child_panels"), FORM).status_code == 400
    assert not Panel.objects.filter(owner_id=user.pk).exists()


def test_a_child_panels_customers_cannot_buy_one(client, selling, children, in_schema, make_customer):  # noqa: F811
    from django.test import Client

    browser = Client(HTTP_HOST="a.panels.test")
    with in_schema("child_a"):
        user, _key = make_customer("child-buyer")
        browser.force_login(user)
    page = browser.get(reverse("dashboard:child_panels"))
    assert page.status_code == 404 and 'id="not-available"' in page.content.decode()


def test_pay_now_restores_an_unpaid_panel_of_ones_own_only(client, selling):
    user = customer_with("30")
    other = customer_with("100", username="other")
    panel = Panel(
        schema_name="p_unpaid_example_net",
        name="Unpaid",
        owner_id=user.pk,
        monthly_price=Decimal("25"),
        status=PanelStatus.SUSPENDED,
        suspended_reason=SuspendedReason.UNPAID,
    )
    panel.auto_create_schema = False
    panel.save()
    Domain.objects.create(domain="unpaid.example.net", tenant=panel, is_primary=True)
    client.force_login(other)
    client.post(reverse("dashboard:child_panel_pay", args=[panel.pk]))
    panel.refresh_from_db()
    assert panel.status == PanelStatus.SUSPENDED
    client.force_login(user)
    page = client.get(reverse("dashboard:child_panels")).content.decode()
    assert "Suspended: not paid" in page and "Pay now" in page
    assert client.get(reverse("dashboard:child_panel_pay", args=[panel.pk])).status_code == 405
    answer = client.post(reverse("dashboard:child_panel_pay", args=[panel.pk]), follow=True)
    assert "works again" in answer.content.decode()
    panel.refresh_from_db()
    assert panel.status == PanelStatus.ACTIVE
    user.refresh_from_db()
    other.refresh_from_db()
    assert user.balance == Decimal("5") and other.balance == Decimal("100") and ledger_drift() == []
    assert client.post(reverse("dashboard:child_panel_pay", args=[2**70])).status_code == 302


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.django_db(transaction=True)
@BROWSER_MARKS[0]
@BROWSER_MARKS[1]
def test_buying_a_child_panel_in_the_browser(browser, live_server, selling, monkeypatch, width):
    # The build copies a schema (childpanels' tests cover it): here the page shows it being prepared.
    monkeypatch.setattr("childpanels.billing._enqueue_build", lambda panel_id: None)
    user = customer_with("60")
    page = page_logged_in_as(browser, live_server, user, viewport={"width": width, "height": 900})
    page.goto(live_server.url + reverse("dashboard:child_panels"))
    screenshot(page, f"child_panel_before_{width}")
    for name, value in FORM.items():
        if name == "currency":
            page.select_option(f"#id_{name}", value)
        else:
            page.fill(f"#id_{name}", value)
    page.click("#child-panel-form button[type=submit]")
    page.wait_for_selector("text=being prepared")
    screenshot(page, f"child_panel_after_{width}")
    assert page.locator("#child-panel-list").inner_text().count("acme.panels.example.net") == 1
    assert "$35.00" in page.locator("#balance").inner_text()
    # No horizontal scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.context.close()
    assert Panel.objects.filter(owner_id=user.pk, status=PanelStatus.PENDING).count() == 1
    assert ledger_drift() == []
