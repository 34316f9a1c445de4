"""Browser tests of the add-funds page for every method kind: each gateway whose driver exists (and
each way to pay it offers, by its ``checkout`` setting), and a manual method. Debian's chromium
driven by Playwright against the live server; the gateways are their local fakes; screenshots go
to screenshots/funds-*.png.

The customer types an amount (the live quote shows fee, bonus and what they pay), presses Pay and
lands where the gateway sends them: its page (redirect or auto-submitted form), our page with the
address and QR code, or the gateway's checkout window (Razorpay's checkout.js, answered here by a
stand-in script since tests never reach the internet). Then the fake is paid, its signed
notification delivered, and the customer comes back to a credited balance.
"""

from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from billing.gateways import gateway_class
from billing.models import BonusTier, Deposit, DepositRequest, PaymentMethod
from billing.payments import checkout_from_json, method_problem
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot
from testing.gateways import available_drivers, driver_class

pytestmark = BROWSER_MARKS

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
# Razorpay's checkout.js, as far as the pay page uses it: a constructor whose open() shows the window.
RAZORPAY_STAND_IN = """
window.Razorpay = function (options) {
  this.open = function () {
    document.body.dataset.razorpayOpened = options.order_id || "yes";
    var box = document.createElement("div");
    box.id = "razorpay-window";
    box.textContent = "Razorpay Checkout: " + (options.name || "") + " " + options.amount + " " + options.currency;
    box.style.cssText = "position:fixed;inset:20% 30%;background:#fff;border:2px solid #3395ff;padding:24px;z-index:9";
    document.body.appendChild(box);
  };
};
"""


def cases() -> list:
    """(code, settings overrides) for every driver, one per choice of a gateway's `checkout` setting."""
    out = []
    for code in available_drivers():
        choices = [f.choices for f in gateway_class(code).fields if f.name == "checkout" and f.choices]
        names = {f.name for f in gateway_class(code).fields}
        if choices:
            for value, _label in choices[0]:
                overrides = {"checkout": value}
                if value == "address" and "to_currency" in names:
                    overrides["to_currency"] = "USDT"  # an address needs a coin to quote in
                out.append(pytest.param(code, overrides, id=f"{code}-{value}"))
        else:
            out.append(pytest.param(code, {}, id=code))
    return out


def method_for(driver, overrides: dict) -> PaymentMethod:
    secret_names = {f.name for f in gateway_class(driver.code).fields if f.secret}
    config = {**driver.config(), **overrides}
    method = PaymentMethod(
        name=f"{gateway_class(driver.code).label}",
        kind=driver.code,
        currency=driver.currency,
        rate=Decimal("1") if driver.currency == "USD" else Decimal("80"),
        min_amount=Decimal("5"),
        max_amount=Decimal("1000"),
        fee_percent=Decimal("2"),
        instructions="Pay online; your balance is credited as soon as the payment is confirmed.",
        settings={k: v for k, v in config.items() if k not in secret_names},
        position=1,
    )
    method.set_secret_values({k: v for k, v in config.items() if k in secret_names})
    method.save()
    return method


def deliver(method, incoming) -> int:
    url = reverse("dashboard:payment_notify", args=[method.pk])
    if incoming.query:
        url += "?" + urlencode(incoming.query)
    body = incoming.body or (urlencode(incoming.form).encode() if incoming.form else b"")
    content_type = incoming.headers.get("content-type") or (
        "application/x-www-form-urlencoded" if incoming.form else "application/json"
    )
    headers = {k: v for k, v in incoming.headers.items() if k not in ("content-type", "content-length")}
    response = Client().generic(
        "POST", url, data=body, content_type=content_type, headers=headers, REMOTE_ADDR=incoming.remote_addr
    )
    return response.status_code


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


@pytest.fixture
def tiers(db):
    BonusTier.objects.create(min_amount=Decimal("50"), percent=Decimal("5"))
    BonusTier.objects.create(min_amount=Decimal("500"), percent=Decimal("10"))


@pytest.mark.parametrize(("code", "overrides"), cases())
def test_pay_with_each_gateway_from_the_add_funds_page(
    browser, live_server, settings, customer, tiers, code, overrides
):
    settings.PANEL_CURRENCY = "USD"
    with driver_class(code)() as driver:
        settings.PAYMENT_GATEWAY_BASE_URLS = {code: driver.base_url}
        method = method_for(driver, overrides)
        assert not method_problem(method)
        name = "-".join([code, *overrides.values()]).lower()
        page = page_logged_in_as(browser, live_server, customer, viewport=DESKTOP)
        errors = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.route(
            "https://checkout.razorpay.com/v1/checkout.js",
            lambda route: route.fulfill(status=200, content_type="application/javascript", body=RAZORPAY_STAND_IN),
        )
        try:
            page.goto(f"{live_server.url}{reverse('dashboard:add_funds')}")
            card = page.locator(f"#method-{method.pk}")
            expect()(card).to_contain_text(method.name)
            # The quote asked for as the page loads says nothing before an amount is typed.
            page.wait_for_load_state("networkidle")
            assert card.locator(".deposit-quote").inner_text().strip() == ""
            expect()(card).not_to_contain_text("Enter an amount")
            expect()(card).to_contain_text("Fee 2%")
            expect()(page.locator("#bonus-tiers")).to_contain_text("+5%")
            card.locator("input[name$='amount']").fill("100")
            quote = card.locator("[data-quote]")
            expect()(quote).to_contain_text("+$5.00")  # the bonus, before paying
            expected_charge = (Decimal("102") * method.rate).quantize(Decimal("0.01"))
            expect()(quote.locator("[data-q=charge]")).to_contain_text(f"{expected_charge:f}")
            screenshot(page, f"funds-{name}-1-quote")

            card.locator("button[type=submit]").click()
            page.wait_for_load_state()
            deposit = Deposit.objects.get(method=method)
            assert (deposit.amount, deposit.fee, deposit.bonus) == (Decimal("100"), Decimal("2"), Decimal("5"))
            checkout = checkout_from_json(deposit.checkout)
            if checkout.redirect_url or checkout.form_action:
                page.wait_for_url(lambda url: url.startswith(driver.base_url), timeout=10_000)
            elif checkout.pay_address:
                expect()(page.locator("#pay-address")).to_have_value(checkout.pay_address)
                expect()(page.locator("#pay-qr")).to_be_visible()
            elif checkout.client_options:
                expect()(page.locator("#razorpay-window")).to_be_visible()
                assert page.evaluate("document.body.dataset.razorpayOpened")
            else:
                pytest.fail(f"{code} gave nowhere to pay: {deposit.checkout}")
            page.wait_for_timeout(300)
            screenshot(page, f"funds-{name}-2-pay")

            driver.pay(checkout)
            for _ in range(2):  # two-step gateways: the approval, then the capture
                assert deliver(method, driver.notification(checkout, outcome="paid")) < 300
                deposit.refresh_from_db()
                if deposit.status == Deposit.Status.PAID:
                    break
            assert deposit.status == Deposit.Status.PAID, deposit.note

            # Back from the gateway (or the pay page notices by itself): the balance is credited.
            if checkout.pay_address or checkout.client_options:
                page.wait_for_url(lambda url: "/funds/" in url and "/pay/" not in url, timeout=15_000)
            else:
                page.goto(f"{live_server.url}{reverse('dashboard:deposit_return', args=[deposit.pk])}")
            expect()(page.locator("body")).to_contain_text("Payment succeeded")
            assert User.objects.get(pk=customer.pk).balance == Decimal("1105")
            screenshot(page, f"funds-{name}-3-credited")
            page.goto(f"{live_server.url}{reverse('dashboard:add_funds')}")
            expect()(page.locator("#deposit-history")).to_contain_text(f"#{deposit.pk}")
            expect()(page.locator("#deposit-history")).to_contain_text("Paid")
            assert not [e for e in errors if "Content Security Policy" in e], errors
        finally:
            page.context.close()


def test_manual_method_and_failures_on_the_add_funds_page(browser, live_server, settings, customer, tiers):
    bank = PaymentMethod.objects.create(
        name="Bank transfer",
        kind="manual",
        instructions="IBAN DE00 1234 5678 9000\nReference: your username",
        min_amount=Decimal("10"),
        max_amount=Decimal("5000"),
        position=5,
    )
    page = page_logged_in_as(browser, live_server, customer, viewport=DESKTOP)
    try:
        page.goto(f"{live_server.url}{reverse('dashboard:add_funds')}")
        expect()(page.locator(f"#method-{bank.pk}")).to_contain_text("IBAN DE00 1234 5678 9000")
        form = page.locator("#manual-deposit")
        form.locator("select[name=method]").select_option(str(bank.pk))
        form.locator("input[name=amount]").fill("5")
        form.locator("button[type=submit]").click()
        expect()(page.locator("#manual-deposit")).to_contain_text("The minimum for this method is 10")
        form = page.locator("#manual-deposit")
        form.locator("select[name=method]").select_option(str(bank.pk))
        form.locator("input[name=amount]").fill("500")
        form.locator("input[name=reference]").fill("TX-99")
        form.locator("button[type=submit]").click()
        deposit = DepositRequest.objects.get(user=customer)
        expect()(page.locator("body")).to_contain_text(f"Deposit request {deposit.pk} received")
        assert deposit.bonus == Decimal("50")  # +10% from 500, credited when staff approve
        expect()(page.locator("#deposit-history")).to_contain_text("+$50.00 bonus")
        screenshot(page, "funds-manual")

        phone = page_logged_in_as(browser, live_server, customer, viewport=PHONE)
        phone.goto(f"{live_server.url}{reverse('dashboard:add_funds')}")
        screenshot(phone, "funds-manual-phone")
        phone.context.close()
    finally:
        page.context.close()


def test_an_unreachable_gateway_says_so_and_charges_nothing(browser, live_server, settings, customer):
    if "stripe" not in available_drivers():
        pytest.skip("no Stripe driver")
    with driver_class("stripe")() as driver:
        method = method_for(driver, {})
    settings.PAYMENT_GATEWAY_BASE_URLS = {"stripe": "http://127.0.0.1:9"}  # nothing listens there
    page = page_logged_in_as(browser, live_server, customer, viewport=DESKTOP)
    try:
        page.goto(f"{live_server.url}{reverse('dashboard:add_funds')}")
        card = page.locator(f"#method-{method.pk}")
        card.locator("input[name$='amount']").fill("20")
        card.locator("button[type=submit]").click()
        expect()(page.locator("body")).to_contain_text("We could not reach Stripe", timeout=30_000)
        expect()(page.locator("#deposit-history")).to_contain_text("Failed")
        screenshot(page, "funds-unreachable")
        card = page.locator(f"#method-{method.pk}")
        card.locator("input[name$='amount']").fill("2")
        card.locator("button[type=submit]").click()
        expect()(page.locator(f"#method-{method.pk}")).to_contain_text("The minimum is 5.")
        assert User.objects.get(pk=customer.pk).balance == Decimal("1000")
    finally:
        page.context.close()
