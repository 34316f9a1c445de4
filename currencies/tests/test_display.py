"""Showing money in the display currency: the rate in use, the per-request activation, and the
money filters (Babel, in the active language), which write exactly what they always did when no
display currency is chosen."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import translation

from catalog.models import Service, ServiceType
from currencies.display import activate, active, deactivate
from currencies.middleware import DisplayCurrencyMiddleware
from currencies.models import CurrencySettings, Source
from currencies.selectors import display_choices, rate_in_use
from currencies.tests.conftest import fixed_rate
from dashboard.templatetags.panel import money, money2, money_both, money_rate

pytestmark = pytest.mark.django_db


@pytest.fixture
def shown_in():
    """Render with `code` active in `language`; always deactivated afterwards."""
    tokens = []

    def use(code: str, language: str = "en"):
        tokens.append(activate(code))
        translation.activate(language)

    yield use
    for token in reversed(tokens):
        deactivate(token)
    translation.activate("en")


def test_without_a_display_currency_nothing_changes(usd, currencies_on):
    currencies_on()
    assert active() is None
    assert money(Decimal("12.5")) == "$12.50"
    assert money(Decimal("0.27819")) == "$0.27819"
    assert money(Decimal("-1234.5")) == "-$1,234.50"
    assert money2(Decimal("10.999")) == "$10.99"
    assert money_both(Decimal("12.5")) == "$12.50"
    assert money_rate(Decimal("1.23456"), Service(type=ServiceType.DEFAULT, max=10_000)) == "$1.23456"


def test_the_panel_currency_chosen_is_no_display_currency(usd, currencies_on, shown_in):
    currencies_on()
    shown_in("USD")
    assert active() is None and money(Decimal("12.5")) == "$12.50"


def test_amounts_in_euro_in_english(usd, currencies_on, shown_in):
    currencies_on()
    shown_in("EUR")
    assert active().code == "EUR" and active().rate == Decimal("0.92")
    assert money(Decimal("12.5")) == "€11.50"
    assert money(Decimal("0.27819")) == "€0.26"  # 0.2559348 half-up
    assert money2(Decimal("10.999")) == "€10.11"  # 10.11908 down
    assert money_both(Decimal("1.23")) == (
        '<span class="money-both"><bdi>$1.23</bdi> <span class="money-alt">≈ <bdi>€1.13</bdi></span></span>'
    )


def test_amounts_in_roubles_in_russian(usd, currencies_on, shown_in):
    currencies_on()
    shown_in("RUB", "ru")
    # Babel writes Russian money with no-break spaces: "1 234,56 ₽".
    assert money(Decimal("13.347")) == "1\xa0234,60\xa0₽"
    assert "≈ <bdi>113,78\xa0₽</bdi>" in money_both(Decimal("1.23"))
    assert money_both(Decimal("1.23")).startswith('<span class="money-both"><bdi>$1.23</bdi>')


def test_yen_has_no_decimals_and_arabic_and_hindi_keep_latin_digits(usd, currencies_on, shown_in):
    currencies_on()
    shown_in("JPY")
    assert money(Decimal("12.5")) == "¥1,875"
    shown_in("EUR", "ar")
    assert "11.50" in money(Decimal("12.5")) and "€" in money(Decimal("12.5"))
    shown_in("EUR", "hi")
    assert money(Decimal("123456")) == "€1,13,579.52"


def test_a_price_per_1000_carries_the_decimals_its_largest_quantity_needs(usd, currencies_on, shown_in):
    currencies_on(rates={"EUR": "0.921658986175"})
    shown_in("EUR")
    small = Service(type=ServiceType.DEFAULT, max=1_000)
    big = Service(type=ServiceType.DEFAULT, max=10_000_000)
    package = Service(type=ServiceType.PACKAGE, max=1)
    assert money_rate(Decimal("1.5"), small) == "€1.382"
    assert money_rate(Decimal("1.5"), big) == "€1.3824885"
    assert money_rate(Decimal("1.5"), package) == "€1.38"
    assert money(Decimal("1.5")) == "€1.38"


def test_a_currency_staff_no_longer_offer_falls_back_to_the_panel_currency(usd, currencies_on, shown_in):
    currencies_on()
    CurrencySettings.objects.filter(pk=1).update(currencies=["JPY"])
    shown_in("EUR")
    assert active() is None and money(Decimal("12.5")) == "$12.50"


def test_a_currency_without_a_rate_falls_back_to_the_panel_currency(usd, currencies_on, shown_in):
    currencies_on(codes=("EUR", "GBP"))
    shown_in("GBP")
    assert active() is None and money(Decimal("12.5")) == "$12.50"


def test_the_newest_rate_dated_today_or_earlier_is_used(usd, currencies_on):
    currencies_on(rates={})
    fixed_rate("EUR", "0.90", days_ago=10)
    fixed_rate("EUR", "0.92", days_ago=2)
    fixed_rate("EUR", "0.99", days_ago=-1)  # tomorrow's: not yet
    assert rate_in_use("EUR").rate == Decimal("0.92")
    # Rates against another panel currency (before the panel changed currency) are never used.
    fixed_rate("GBP", "0.8", base="EUR")
    CurrencySettings.objects.filter(pk=1).update(currencies=["EUR", "GBP"])
    assert rate_in_use("GBP") is None


def test_the_choices_are_the_panel_currency_and_the_enabled_ones_with_a_rate(usd, currencies_on):
    currencies_on(codes=("EUR", "GBP", "JPY"), rates={"EUR": "0.92", "JPY": "150"})
    choices = display_choices()
    assert [choice.code for choice in choices] == ["", "EUR", "JPY"]
    assert choices[0].label == "USD — US Dollar" and choices[1].label == "EUR — Euro"
    assert display_choices(locale="ru")[1].label == "EUR — евро"


def test_with_the_ecb_source_a_fixed_rate_covers_what_the_feed_lacks(usd, currencies_on):
    currencies_on(source=Source.ECB, rates={"RUB": "92.5"})
    assert rate_in_use("RUB").source == Source.FIXED


def test_the_middleware_activates_a_customers_choice_or_a_visitors_cookie(usd, currencies_on, customer):
    currencies_on()
    seen = []

    def view(request):
        seen.append(active().code if active() else None)
        return None

    middleware = DisplayCurrencyMiddleware(view)
    request = RequestFactory().get("/")
    request.user = customer
    customer.display_currency = "RUB"
    middleware(request)
    from django.contrib.auth.models import AnonymousUser

    visitor = RequestFactory().get("/", HTTP_COOKIE="currency=JPY")
    visitor.user = AnonymousUser()
    middleware(visitor)
    # A signed-in customer with no choice sees the panel currency whatever a cookie says.
    customer.display_currency = ""
    signed_in = RequestFactory().get("/", HTTP_COOKIE="currency=JPY")
    signed_in.user = customer
    middleware(signed_in)
    assert seen == ["RUB", "JPY", None]
    # Nothing leaks out of the request.
    assert active() is None


def test_rate_note_says_the_date_and_the_source(usd, currencies_on, shown_in):
    currencies_on(rates={"EUR": "0.921658986175"})
    shown_in("EUR")
    note = Template("{% load panel %}{% display_currency as dc %}{{ dc|rate_note }}").render(Context({}))
    assert note.startswith('<bdi dir="ltr">1 USD = 0.921659 EUR</bdi> · rates of ')
    assert note.endswith(", set by the panel")
