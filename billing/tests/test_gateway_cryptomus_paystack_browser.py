"""Cryptomus and Paystack in a real browser (Debian's chromium): the add-funds page, the gateway's
page (the local fake's), back to the panel, credited from the panel's own look-up; and Cryptomus'
address-and-QR page, credited from its webhook. Screenshots in screenshots/."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from django.urls import reverse

from accounts.models import User
from billing.gateways import gateway_class
from billing.models import Deposit, PaymentMethod
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot
from testing.gateways import driver_class

pytestmark = BROWSER_MARKS

VIEWPORT = {"width": 1200, "height": 900}


def method_for(driver, **settings_extra) -> PaymentMethod:
    secret_names = {field.name for field in gateway_class(driver.code).fields if field.secret}
    config = {**driver.config(), **settings_extra}
    method = PaymentMethod(
        name=f"{driver.code.capitalize()} (local fake)",
        kind=driver.code,
        currency=driver.currency,
        rate=Decimal("1") if driver.currency == "USD" else Decimal("1500"),
        min_amount=Decimal("1"),
        settings={k: v for k, v in config.items() if k not in secret_names},
    )
    method.set_secret_values({k: v for k, v in config.items() if k in secret_names})
    method.save()
    return method


def balance(user) -> Decimal:
    return User.objects.get(pk=user.pk).balance


@pytest.mark.parametrize("code", ["cryptomus", "paystack"])
def test_add_funds_through_the_gateways_page_and_back(
    code, settings, browser, live_server, customer, plain_static_storage
):
    settings.PANEL_CURRENCY = "USD"
    with driver_class(code)() as driver:
        settings.PAYMENT_GATEWAY_BASE_URLS = {code: driver.base_url}
        method = method_for(driver)
        before = balance(customer)
        page = page_logged_in_as(browser, live_server, customer, viewport=VIEWPORT)
        refused = []
        page.on("console", lambda message: refused.append(message.text) if "Refused" in message.text else None)
        page.goto(f"{live_server.url}{reverse('dashboard:add_funds')}")
        form = page.locator(f"#method-{method.pk}")
        form.locator("input[name$=amount]").fill("25")
        screenshot(page, f"{code}-add-funds")
        form.locator("button[type=submit]").click()
        page.wait_for_url(f"{driver.base_url}/**")
        screenshot(page, f"{code}-gateway-page")
        assert refused == []
        page.get_by_role("button", name="Pay").click()
        page.wait_for_url(f"{live_server.url}{reverse('dashboard:funds')}")
        screenshot(page, f"{code}-credited")
        assert "Payment succeeded" in page.content()
        deposit = Deposit.objects.get(method=method)
        assert deposit.status == Deposit.Status.PAID and deposit.credited == Decimal("25")
        assert balance(customer) == before + Decimal("25")
        page.context.close()


def test_cryptomus_address_and_qr_in_the_panel(settings, browser, live_server, customer, plain_static_storage):
    pytest.importorskip("PIL", reason="the pay page draws its QR code with qrcode's Pillow images")
    settings.PANEL_CURRENCY = "USD"
    with driver_class("cryptomus")() as driver:
        settings.PAYMENT_GATEWAY_BASE_URLS = {"cryptomus": driver.base_url}
        method = method_for(driver, to_currency="USDT", network="tron", checkout="address")
        before = balance(customer)
        page = page_logged_in_as(browser, live_server, customer, viewport=VIEWPORT)
        page.goto(f"{live_server.url}{reverse('dashboard:add_funds')}")
        form = page.locator(f"#method-{method.pk}")
        form.locator("input[name$=amount]").fill("12.5")
        form.locator("button[type=submit]").click()
        deposit = Deposit.objects.get(method=method)
        page.wait_for_url(f"{live_server.url}{reverse('dashboard:deposit_pay', args=[deposit.pk])}")
        invoice = driver.fake.invoices[deposit.external_id]
        assert page.locator("#pay-address").input_value() == invoice.address
        assert page.locator("#pay-amount").input_value() == "12.50000000"
        assert page.locator("#pay-qr").is_visible()
        screenshot(page, "cryptomus-address-qr")

        # The customer sends the coins; Cryptomus posts its signed webhook to the notify URL.
        driver.fake.pay(deposit.external_id)
        webhook = driver.fake.webhook(deposit.external_id)
        answer = requests.post(
            f"{live_server.url}{reverse('dashboard:payment_notify', args=[method.pk])}",
            data=webhook.body,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert answer.status_code == 200
        page.wait_for_url(f"{live_server.url}{reverse('dashboard:funds')}", timeout=20_000)
        screenshot(page, "cryptomus-address-credited")
        deposit.refresh_from_db()
        assert deposit.status == Deposit.Status.PAID
        assert balance(customer) == before + Decimal("12.5")
        page.context.close()
