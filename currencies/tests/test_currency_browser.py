"""In chromium: a customer who sees money in another currency. Roubles in Russian and euros in
Arabic (right to left) on the new order page (the live quote, then placing the order), the
orders list and the add-funds page; choosing the currency on the account page. Screenshots go to
screenshots/currency-*.png; the Content-Security-Policy refuses nothing throughout.
"""

import re
from decimal import Decimal

import pytest

from accounts.models import User
from billing.models import Deposit, PaymentMethod
from catalog.pricing import quote
from currencies import money
from dashboard.templatetags.panel import panel_money
from orders.models import Order
from panel.tests.csp_watch import watch_csp
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot

pytestmark = BROWSER_MARKS

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
NBSP = "\xa0"


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


@pytest.fixture
def shop(currencies_on, make_service, customer):
    """EUR, RUB and JPY on offer at fixed rates; a service; a manual method; a deposit through a
    gateway that charged in roubles."""
    currencies_on(rates={"EUR": "0.921658986175", "RUB": "91.3821", "JPY": "150.48"})
    service = make_service("Default")
    PaymentMethod.objects.create(name="Bank transfer", instructions="IBAN DE00 1234", min_amount=Decimal("5"))
    cards = PaymentMethod.objects.create(
        name="Cards in roubles", kind="stripe", currency="RUB", rate=Decimal("91.3821"), enabled=False
    )
    Deposit.objects.create(
        user=customer,
        method=cards,
        gateway="stripe",
        amount=Decimal("25"),
        charge_amount=Decimal("2284.56"),
        charge_currency="RUB",
        rate=Decimal("91.3821"),
        status=Deposit.Status.PAID,
        credited=Decimal("25"),
    )
    return service


def _as(customer, *, currency: str, language: str) -> User:
    customer.display_currency = currency
    customer.language = language
    customer.save(update_fields=["display_currency", "language"])
    return User.objects.get(pk=customer.pk)


def _order(page, live_server, service, quantity: int, charge: Decimal):
    """Open the new order page, type a link and a quantity, wait for the live quote of `charge`."""
    page.goto(f"{live_server.url}/order/?service={service.pk}")
    page.fill("#service-form input[name=link]", "https://instagram.com/p/currency")
    page.fill("#service-form input[name=quantity]", str(quantity))
    expect()(page.locator("#charge bdi").first).to_have_text(panel_money(charge))
    expect()(page.locator("#charge .money-alt")).to_be_visible()


def test_roubles_in_russian_on_the_order_orders_and_add_funds_pages(browser, live_server, customer, shop):
    service = shop
    user = _as(customer, currency="RUB", language="ru")
    page = page_logged_in_as(browser, live_server, user, viewport=DESKTOP)
    watch = watch_csp(page)
    quantity = service.min * 3
    charge = quote(service, user, quantity=quantity).charge
    rub = money.display_amount(charge, "RUB", Decimal("91.3821"))

    _order(page, live_server, service, quantity, charge)
    # The charge that moves (dollars) with roubles beside it, written the Russian way.
    shown = page.text_content("#charge")
    assert shown.startswith(f"{panel_money(charge)} ≈ ")
    assert f"≈ {rub:,.2f}".replace(",", NBSP).replace(".", ",") + f"{NBSP}₽" in shown
    # The price per 1,000 in roubles, with the decimals the largest quantity needs.
    price = money.display_price(service.rate, "RUB", Decimal("91.3821"), service.max)
    expect()(page.locator("#charge-price")).to_contain_text(f"{price:f}".replace(".", ","))
    expect()(page.locator("#charge-rate")).to_contain_text("1 USD = 91,3821 RUB")
    # The balance in the top bar is converted too (rounded down).
    expect()(page.locator("#balance")).to_contain_text("₽")
    screenshot(page, "currency-ru-rub-order-new")
    page.click("#service-form button.btn.lg")
    page.wait_for_selector("#placed")
    order = Order.objects.get(user=user)
    assert order.charge == charge  # charged in the panel currency, as quoted
    expect()(page.locator("#placed")).to_contain_text(f"{rub:,.2f}".replace(",", NBSP).replace(".", ","))
    watch.assert_clean("order page")

    page.goto(f"{live_server.url}/orders/")
    row = page.locator(f"#order-{order.pk}")
    expect()(row).to_contain_text("₽")
    screenshot(page, "currency-ru-rub-orders")
    watch.assert_clean("orders list")

    page.goto(f"{live_server.url}/funds/add/")
    expect()(page.locator("#money-note")).to_contain_text("RUB")
    history = page.locator("#deposit-history")
    expect()(history).to_contain_text("$25.00")
    expect()(history).to_contain_text("2284.56 RUB · 1 USD = 91.3821 RUB")
    screenshot(page, "currency-ru-rub-add-funds")
    watch.assert_clean("add funds")

    phone = browser.new_context(
        viewport=PHONE, device_scale_factor=2, storage_state=page.context.storage_state()
    ).new_page()
    phone_watch = watch_csp(phone)
    for name, path in {
        "order-new": f"/order/?service={service.pk}",
        "orders": "/orders/",
        "add-funds": "/funds/add/",
    }.items():
        phone.goto(live_server.url + path)
        screenshot(phone, f"currency-ru-rub-{name}-phone")
    phone_watch.assert_clean("phone pages")
    phone.context.close()
    page.context.close()


def test_euros_in_arabic_right_to_left(browser, live_server, customer, shop):
    service = shop
    user = _as(customer, currency="EUR", language="ar")
    page = page_logged_in_as(browser, live_server, user, viewport=DESKTOP)
    watch = watch_csp(page)
    charge = quote(service, user, quantity=service.min * 2).charge
    _order(page, live_server, service, service.min * 2, charge)
    assert page.get_attribute("html", "dir") == "rtl"
    eur = money.display_amount(charge, "EUR", Decimal("0.921658986175"))
    expect()(page.locator("#charge .money-alt")).to_contain_text(f"{eur:.2f}")
    screenshot(page, "currency-ar-eur-order-new")
    page.goto(f"{live_server.url}/orders/")
    screenshot(page, "currency-ar-eur-orders")
    page.goto(f"{live_server.url}/funds/add/")
    expect()(page.locator("#money-note")).to_contain_text("EUR")
    screenshot(page, "currency-ar-eur-add-funds")
    watch.assert_clean("arabic pages")
    page.context.close()


def test_the_customer_chooses_a_currency_on_the_account_page(browser, live_server, customer, shop):
    page = page_logged_in_as(browser, live_server, customer, viewport=DESKTOP)
    watch = watch_csp(page)
    page.goto(f"{live_server.url}/account/")
    page.select_option("#id_currency", "JPY")
    page.click("#display-currency button[type=submit]")
    page.wait_for_url(re.compile(r".*/account/$"))
    expect()(page.locator("#display-currency-rate")).to_contain_text("1 USD = 150.48 JPY · rates of")
    assert User.objects.get(pk=customer.pk).display_currency == "JPY"
    # Yen have no decimals: the balance of $1,000 is ¥150,480.
    expect()(page.locator("#balance")).to_have_text("¥150,480")
    screenshot(page, "currency-en-jpy-account")
    page.goto(f"{live_server.url}/services/")
    expect()(page.locator("#money-note")).to_contain_text("Prices in JPY are approximate")
    screenshot(page, "currency-en-jpy-services")
    watch.assert_clean("account and services")
    page.context.close()
