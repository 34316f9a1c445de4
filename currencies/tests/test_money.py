"""Conversion and rounding of displayed amounts (currencies.money), and the order page's promise:
the displayed price per 1,000 x quantity / 1,000 never differs from the displayed charge by more
than one unit of display precision, for any quantity the service allows. The charge is the real
one, from catalog.pricing.quote, always computed in the panel currency."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.models import Service, ServiceType
from catalog.pricing import quote
from currencies import money

THOUSAND = Decimal(1000)


def test_convert_is_exact_and_display_rounds_half_up():
    assert money.convert(Decimal("12.5"), Decimal("0.92")) == Decimal("11.500")
    # 0.005 exactly: half-up, not banker's rounding.
    assert money.display_amount(Decimal("0.125"), "EUR", Decimal("1")) == Decimal("0.13")
    assert money.display_amount(Decimal("0.135"), "EUR", Decimal("1")) == Decimal("0.14")
    assert money.display_amount(Decimal("-0.125"), "EUR", Decimal("1")) == Decimal("-0.13")
    assert money.display_amount(Decimal("1.23"), "RUB", Decimal("91.3821")) == Decimal("112.40")


def test_balance_rounds_down_so_it_never_overstates():
    assert money.display_balance(Decimal("10.999"), "EUR", Decimal("1")) == Decimal("10.99")
    assert money.display_balance(Decimal("1"), "JPY", Decimal("150.9")) == Decimal("150")


def test_each_currency_has_its_own_precision():
    assert money.display_places("EUR", Decimal("0.92")) == 2
    assert money.display_places("JPY", Decimal("150")) == 0
    assert money.display_places("BHD", Decimal("0.376")) == 3
    assert money.display_amount(Decimal("10"), "JPY", Decimal("150.456")) == Decimal("1505")
    assert money.display_amount(Decimal("1"), "BHD", Decimal("0.3765")) == Decimal("0.377")


def test_a_huge_rate_makes_the_display_coarser_than_the_currencys_own():
    # One unit of the panel's precision (0.00001 USD) is 0.16 rupiah at 16,000: whole rupiah.
    assert money.display_places("IDR", Decimal("16000")) == 0
    # At 1,000,000 (a panel in a strong currency, display in a weak one): hundreds.
    assert money.display_places("VND", Decimal("1000000")) == -2
    assert money.display_amount(Decimal("1.23456"), "VND", Decimal("1000000")) == Decimal("1.2346E+6")
    # A tiny rate changes nothing: the currency's own precision.
    assert money.display_places("USD", Decimal("0.0000625")) == 2


def test_extra_places_of_a_price_per_1000():
    assert money.extra_places(None) == 0
    assert money.extra_places(500) == 0
    assert money.extra_places(501) == 1
    assert money.extra_places(5_000) == 1
    assert money.extra_places(10_000) == 2
    assert money.extra_places(10_000_000) == 5


def test_display_price_drops_trailing_zeros_but_keeps_the_currencys_decimals():
    assert money.display_price(Decimal("1.5"), "EUR", Decimal("0.92"), 10_000) == Decimal("1.38")
    assert money.display_price(Decimal("2"), "EUR", Decimal("0.5"), 10_000) == Decimal("1.00")
    assert money.display_price(Decimal("1.23456"), "EUR", Decimal("0.921234"), 10_000_000) == Decimal("1.1373186")
    assert money.display_price(Decimal("1.23456"), "EUR", Decimal("0.921234"), 1_000) == Decimal("1.137")
    assert money.display_price(Decimal("3"), "JPY", Decimal("150.37"), 100) == Decimal("451")


def _service(rate: Decimal, maximum: int, type_: str = ServiceType.DEFAULT) -> Service:
    # Unsaved: quote() then reads nothing from the database (no customer, a manual cost of 0).
    return Service(
        rate=rate,
        type=type_,
        min=1,
        max=maximum,
        manual=True,
        manual_cost=Decimal("0"),
        allow_below_cost=True,
    )


CODES = st.sampled_from(["EUR", "GBP", "JPY", "RUB", "INR", "IDR", "BHD", "KRW", "TRY", "BRL"])
# Units of the display currency per panel unit, 0.0001 to 100,000, up to 12 places (the column's).
RATES = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100000"), places=12)
# A panel price per 1,000: 0.00001 to 10,000, with the protocol's 5 places.
PRICES = st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("10000"), places=5)


@st.composite
def orders(draw):
    maximum = draw(st.integers(min_value=1, max_value=10_000_000))
    quantity = draw(st.one_of(st.just(maximum), st.just(1), st.integers(min_value=1, max_value=maximum)))
    return maximum, quantity


@settings(max_examples=3000, deadline=None)
@given(code=CODES, rate=RATES, price=PRICES, order=orders())
def test_displayed_price_times_quantity_agrees_with_the_displayed_charge(code, rate, price, order):
    maximum, quantity = order
    service = _service(price, maximum)
    charge = quote(service, None, quantity=quantity).charge  # the real charge, in the panel currency
    shown_total = money.display_amount(charge, code, rate)
    shown_price = money.display_price(price, code, rate, maximum)
    step = money.unit(money.display_places(code, rate))
    assert abs(shown_price * quantity / THOUSAND - shown_total) <= step, (shown_price, shown_total, step)


@settings(max_examples=500, deadline=None)
@given(code=CODES, rate=RATES, price=PRICES)
def test_a_package_shows_its_charge_as_its_price(code, rate, price):
    service = _service(price, 1, ServiceType.PACKAGE)
    charge = quote(service, None, quantity=1).charge
    assert money.display_price(price, code, rate, None) == money.display_amount(charge, code, rate)


@settings(max_examples=1000, deadline=None)
@given(code=CODES, rate=RATES, amount=st.decimals(min_value=Decimal("-100000"), max_value=Decimal("100000"), places=5))
def test_a_displayed_amount_is_the_conversion_rounded_half_up(code, rate, amount):
    shown = money.display_amount(amount, code, rate)
    step = money.unit(money.display_places(code, rate))
    exact = amount * rate
    assert abs(shown - exact) <= step / 2
    assert shown % step == 0
    # Balances are never negative (a database constraint): rounded down, never above the exact value.
    balance = abs(amount)
    assert balance * rate - step < money.display_balance(balance, code, rate) <= balance * rate
