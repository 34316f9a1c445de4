"""PayPal in a real browser: Add funds → PayPal's approval page (the local fake's) → back to the
panel, which looks the order up server to server, captures it and credits the deposit; and the
payer who cancels at PayPal. Screenshots: screenshots/paypal-*.png."""

import re
from decimal import Decimal

import pytest

from accounts.models import User
from billing.gateways import gateway_class
from billing.models import Deposit, PaymentMethod
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot
from testing.gateways.paypal import Driver

pytestmark = BROWSER_MARKS


@pytest.fixture
def paypal(settings, db, plain_static_storage):
    settings.PANEL_CURRENCY = "USD"
    with Driver() as driver:
        settings.PAYMENT_GATEWAY_BASE_URLS = {"paypal": driver.base_url}
        # The site's CSP is left as configured (form-action 'self'): the add-funds form posts to
        # us, and the pay page goes on to PayPal by a plain navigation.
        secret_names = {field.name for field in gateway_class("paypal").fields if field.secret}
        config = driver.config()
        method = PaymentMethod(
            name="PayPal",
            kind="paypal",
            currency="USD",
            min_amount=Decimal("1"),
            settings={k: v for k, v in config.items() if k not in secret_names},
        )
        method.set_secret_values({k: v for k, v in config.items() if k in secret_names})
        method.save()
        yield driver, method


@pytest.fixture
def page(browser, live_server, customer):
    page = page_logged_in_as(browser, live_server, customer, viewport={"width": 1280, "height": 900})
    yield page
    page.context.close()


def start_at_paypal(page, live_server, method, amount: str) -> None:
    page.goto(f"{live_server.url}/funds/add/")
    form = page.locator(f"#method-{method.pk}")
    form.get_by_label("Amount").fill(amount)
    screenshot(page, "paypal-add-funds")
    refused = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security" in message.text else None)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/checkoutnow\?token=[A-Z0-9]+$"))
    assert refused == []


def test_pay_with_paypal_and_come_back_credited(paypal, page, live_server, customer):
    driver, method = paypal
    before = User.objects.get(pk=customer.pk).balance
    start_at_paypal(page, live_server, method, "25")
    assert "Pay 25.00 USD" in page.content()
    screenshot(page, "paypal-approve")
    page.get_by_role("button", name="Pay Now").click()
    page.wait_for_url(re.compile(r".*/funds/$"))
    screenshot(page, "paypal-paid")
    assert "Payment succeeded" in page.content()
    deposit = Deposit.objects.get(user=customer, gateway="paypal")
    assert deposit.status == Deposit.Status.PAID and deposit.transaction_id in driver.fake.captures
    assert User.objects.get(pk=customer.pk).balance == before + Decimal("25")
    # The capture was made once, by the return's lookup, with the order's capture request ID.
    assert [rid for path, rid in driver.fake.request_ids if path.endswith("/capture")] == [
        f"capture-{deposit.external_id}"
    ]


def test_cancel_at_paypal_charges_nothing(paypal, page, live_server, customer):
    driver, method = paypal
    before = User.objects.get(pk=customer.pk).balance
    start_at_paypal(page, live_server, method, "10")
    page.get_by_role("link", name="Cancel and return").click()
    page.wait_for_url(re.compile(r".*/funds/add/$"))
    screenshot(page, "paypal-cancelled")
    assert "is not confirmed" in page.content()
    deposit = Deposit.objects.get(user=customer, gateway="paypal")
    assert deposit.status == Deposit.Status.PENDING and deposit.ledger_entry_id is None
    assert driver.fake.captures == {}
    assert User.objects.get(pk=customer.pk).balance == before
