"""The customer's side: choosing the display currency (account page, visitor's cookie), and the
pages where money moves showing the panel amount with the converted one beside it. The API
never converts anything."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import User
from billing.models import Deposit, PaymentMethod
from currencies.middleware import COOKIE
from orders.models import Source as OrderSource
from orders.placement import order_place

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_euro(client, customer, currencies_on):
    currencies_on()
    customer.display_currency = "EUR"
    customer.save(update_fields=["display_currency"])
    client.force_login(customer)
    return client


def test_the_account_page_offers_the_enabled_currencies_with_their_rate(client, customer, currencies_on):
    currencies_on(codes=("EUR", "GBP", "RUB"), rates={"EUR": "0.92", "RUB": "92.5"})
    client.force_login(customer)
    body = client.get(reverse("dashboard:account")).content.decode()
    assert 'id="display-currency"' in body
    assert '<option value="" selected>USD — US Dollar</option>' in body
    assert '<option value="EUR">EUR — Euro</option>' in body and 'value="RUB"' in body
    assert 'value="GBP"' not in body  # enabled, but it has no rate
    assert 'id="display-currency-rate"' not in body


def test_with_no_other_currency_offered_the_account_page_says_so(client, customer, usd):
    client.force_login(customer)
    body = client.get(reverse("dashboard:account")).content.decode()
    assert "Amounts are shown in USD; no other currency is offered yet." in body
    assert 'name="currency"' not in body


def test_choosing_a_currency_saves_it_on_the_account_and_in_a_cookie(client, customer, currencies_on):
    currencies_on()
    client.force_login(customer)
    response = client.post(reverse("dashboard:set_currency"), {"currency": "EUR", "next": "/account/"})
    assert response.status_code == 302 and response["Location"] == "/account/"
    assert User.objects.get(pk=customer.pk).display_currency == "EUR"
    assert response.cookies[COOKIE].value == "EUR" and response.cookies[COOKIE]["httponly"]
    body = client.get(reverse("dashboard:account")).content.decode()
    assert "Amounts are now shown in EUR." in body
    assert '<option value="EUR" selected>' in body
    assert "1 USD = 0.92 EUR</bdi> · rates of " in body and "set by the panel" in body
    # Back to the panel currency.
    response = client.post(reverse("dashboard:set_currency"), {"currency": ""})
    assert response["Location"] == reverse("dashboard:account")
    assert User.objects.get(pk=customer.pk).display_currency == ""
    assert response.cookies[COOKIE].value == ""  # deleted


@pytest.mark.parametrize("code", ["GBP", "eur", "XXXX", "<b>", "USD "])
def test_a_currency_not_offered_is_refused_with_a_message(client, customer, currencies_on, code):
    currencies_on()
    client.force_login(customer)
    response = client.post(reverse("dashboard:set_currency"), {"currency": code}, follow=True)
    assert response.status_code == 200
    assert "Choose one of the currencies offered." in response.content.decode()
    assert User.objects.get(pk=customer.pk).display_currency == ""


def test_a_visitor_picks_a_currency_in_a_cookie(client, currencies_on):
    currencies_on()
    response = client.post(reverse("dashboard:set_currency"), {"currency": "JPY", "next": "/welcome/"})
    assert response["Location"] == "/welcome/" and response.cookies[COOKIE].value == "JPY"
    # Off-site `next` is refused.
    response = client.post(reverse("dashboard:set_currency"), {"currency": "JPY", "next": "https://evil.example/"})
    assert response["Location"] == "/"
    # A `next` that is plain text is a relative address, never a view name to look up.
    response = client.post(reverse("dashboard:set_currency"), {"currency": "JPY", "next": "9" * 32})
    assert response.status_code == 302 and response["Location"] == "9" * 32
    assert client.get(reverse("dashboard:set_currency")).status_code == 405


def test_the_new_order_page_shows_the_charge_in_both_and_the_price_with_enough_decimals(in_euro, make_service):
    service = make_service("Default")
    body = in_euro.get(f"{reverse('dashboard:order_new')}?service={service.pk}").content.decode()
    assert "css/money.css" in body
    quote = in_euro.get(reverse("dashboard:order_quote"), {"service": service.pk, "quantity": "1000"}).content.decode()
    charge = service.rate  # 1,000 units: the rate per 1,000
    eur = (charge * Decimal("0.92")).quantize(Decimal("0.01"))
    assert f'<bdi>${charge:.2f}</bdi> <span class="money-alt">≈ <bdi>€{eur}</bdi>' in quote
    assert 'id="charge-price"' in quote and "Per 1,000" in quote
    assert "1 USD = 0.92 EUR</bdi> · rates of " in quote


def test_the_placed_order_and_the_funds_history_show_what_moved_in_both(in_euro, customer, make_service):
    service = make_service("Default")
    placed = order_place(
        user=customer,
        service_id=service.pk,
        data={"link": "https://instagram.com/p/x", "quantity": str(service.min)},
        source=OrderSource.WEB,
        idempotency_key="web:currency-test",
    )
    charge = placed.order.charge
    page = in_euro.get(f"{reverse('dashboard:order_new')}?service={service.pk}&placed={placed.order.pk}")
    assert f"<bdi>${charge:.2f}".rstrip("0") in page.content.decode()
    funds = in_euro.get(reverse("dashboard:funds")).content.decode()
    assert 'id="money-note"' in funds
    # The order's charge: -$x ≈ -€y; the starting credit: +$1,000.00 ≈ €920.00.
    assert '+<span class="money-both"><bdi>$1,000.00</bdi> <span class="money-alt">≈ <bdi>€920.00</bdi>' in funds
    # The balance after is a balance: converted only.
    assert "€920.00" in funds


def test_add_funds_and_its_quote_show_the_panel_amount_beside_the_converted_one(in_euro, customer):
    method = PaymentMethod.objects.create(name="Cards in roubles", kind="stripe", currency="RUB", rate=Decimal("92.5"))
    page = in_euro.get(reverse("dashboard:add_funds")).content.decode()
    assert "Amounts in EUR are approximate; your balance is kept and credited in USD." in page
    quote = in_euro.get(reverse("dashboard:deposit_quote", args=[method.pk]), {"amount": "10"}).content.decode()
    assert '<bdi>$10.00</bdi> <span class="money-alt">≈ <bdi>€9.20</bdi>' in quote
    assert "925.00 RUB" in quote and "1 USD = 92.5 RUB" in quote  # the gateway's own charge, unchanged
    assert 'data-q="display-rate"' in quote


def test_the_pay_page_shows_the_rate_recorded_on_the_deposit(in_euro, customer):
    method = PaymentMethod.objects.create(name="Cards in roubles", kind="stripe", currency="RUB", rate=Decimal("92.5"))
    deposit = Deposit.objects.create(
        user=customer,
        method=method,
        gateway="stripe",
        amount=Decimal("10"),
        charge_amount=Decimal("925"),
        charge_currency="RUB",
        rate=Decimal("92.5"),
        status=Deposit.Status.PENDING,
        checkout={"redirect_url": "https://checkout.example/pay/1"},
    )
    body = in_euro.get(reverse("dashboard:deposit_pay", args=[deposit.pk])).content.decode()
    assert '<bdi>$10.00</bdi> <span class="money-alt">≈ <bdi>€9.20</bdi></span></span> is credited' in body
    assert "You pay 925.00 RUB, at the rate recorded on this deposit: 1 USD = 92.5 RUB." in body
    history = in_euro.get(reverse("dashboard:add_funds")).content.decode()
    assert "(925.00 RUB · 1 USD = 92.5 RUB)" in history


def test_the_services_page_shows_prices_in_the_display_currency(in_euro, make_service):
    service = make_service("Default")
    body = in_euro.get(reverse("dashboard:services")).content.decode()
    assert "Prices in EUR are approximate; orders are charged in USD." in body
    assert "€" in body and f"${service.rate:.2f}" not in body


def test_without_a_display_currency_the_pages_are_as_before(client, customer, currencies_on, make_service):
    currencies_on()
    client.force_login(customer)
    service = make_service("Default")
    quote = client.get(reverse("dashboard:order_quote"), {"service": service.pk, "quantity": "1000"}).content.decode()
    assert f'<div class="charge" id="charge">${service.rate:.2f}</div>' in quote
    assert "charge-price" not in quote and "money-both" not in quote
    funds = client.get(reverse("dashboard:funds")).content.decode()
    assert "+$1,000.00</td>" in funds and "money-note" not in funds


def test_the_api_never_converts(client, customer, currencies_on, make_service):
    from accounts.services import api_key_rotate

    currencies_on()
    customer.display_currency = "EUR"
    customer.save(update_fields=["display_currency"])
    service = make_service("Default")
    key = api_key_rotate(user=customer)
    client.cookies[COOKIE] = "EUR"
    balance = client.post("/api/v2", {"key": key, "action": "balance"}).json()
    assert balance["currency"] == "USD" and Decimal(balance["balance"]) == customer.balance
    services = client.post("/api/v2", {"key": key, "action": "services"}).json()
    listed = next(row for row in services if int(row["service"]) == service.pk)
    assert Decimal(listed["rate"]) == service.rate


def test_the_new_order_pages_balance_is_rounded_down_like_the_top_bars(in_euro, customer):
    from accounts.ledger import ledger_credit

    # 1,000.00599 USD x 0.92 = 920.0055... EUR: a balance never shows the cent it does not have.
    ledger_credit(user_id=customer.pk, amount=Decimal("0.00599"), memo="odd cents")
    html = in_euro.get(reverse("dashboard:order_new")).content.decode()
    card = html.split('class="stat-line"', 1)[1].split("</p>", 1)[0]
    assert "920.00" in card and "920.01" not in html.split('id="balance"', 1)[1][:80]
    assert "920.01" not in card
