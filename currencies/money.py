"""The arithmetic of displayed amounts: conversion, the display precision, and rounding.

Charges are computed in the panel currency by catalog.pricing; nothing here feeds back into
them. A displayed amount is convert(panel amount), rounded half-up to the display precision.

The display precision is the currency's own (Babel's CLDR data: JPY 0, most 2, BHD 3), unless the
rate is so large that one unit of the panel's precision (MONEY_PLACES, 0.00001) is worth a
quarter of a display unit or more: then it is coarser (USD to IDR at 16,000 shows whole rupiah,
USD to IRR at 42,000 tens of rials), since finer digits would claim a precision the charge does
not have.

A price per 1,000 carries `extra_places(max quantity)` more decimals, enough that the displayed
price x quantity / 1,000 never differs from the displayed total of that quantity by more than
one display unit. With u the display unit, x the rate, r the panel price per 1,000, q the
quantity, m = q / 1,000 and c = charge(q), which is r x m rounded up to MONEY_PLACES (d):

    |price x m - total| <= |price - r x| m  +  x |r m - c|  +  |c x - total|
                        <= u/2 x 10^-k x m  +  x d          +  u/2
                        <= u/4              +  u/4          +  u/2  = u

when 10^k >= 2 m (the extra places k) and x d <= u/4 (the precision above).
currencies/tests/test_money.py checks it over rates, prices and quantities up to 10,000,000.
"""

from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision
from django.conf import settings

THOUSAND = Decimal(1000)


def convert(amount: Decimal, rate: Decimal) -> Decimal:
    """The panel amount in the display currency, exact (not rounded)."""
    return Decimal(amount) * rate


def currency_places(code: str) -> int:
    """The currency's own number of decimals (CLDR, through Babel; 2 for a code it does not know)."""
    return get_currency_precision(code)


def display_places(code: str, rate: Decimal) -> int:
    """Decimals a converted amount is shown with: the currency's own, fewer when the rate makes
    the panel's precision coarser than that (see the module's note). May be negative (tens)."""
    own = currency_places(code)
    panel_step = Decimal(4) * rate * settings.MONEY_PLACES
    if panel_step <= 0:
        return own
    # The most decimals p with 10^-p >= panel_step.
    coarsest = int((-panel_step.log10()).to_integral_value(rounding=ROUND_FLOOR))
    return min(own, coarsest)


def unit(places: int) -> Decimal:
    """One unit of `places` decimals: 0.01 for 2, 1 for 0, 10 for -1."""
    return Decimal(1).scaleb(-places)


def round_half_up(value: Decimal, places: int) -> Decimal:
    return value.quantize(unit(places), rounding=ROUND_HALF_UP)


def round_down(value: Decimal, places: int) -> Decimal:
    return value.quantize(unit(places), rounding=ROUND_DOWN)


def extra_places(max_quantity: int | None) -> int:
    """Decimals a price per 1,000 needs beyond the display precision: the smallest k with
    10^k >= 2 x max_quantity / 1,000 (0 for a package or up to 500 units)."""
    if not max_quantity or max_quantity <= 0:
        return 0
    need = Decimal(2) * Decimal(max_quantity) / THOUSAND
    places = 0
    while unit(-places) < need:
        places += 1
    return places


def display_amount(amount: Decimal, code: str, rate: Decimal) -> Decimal:
    """A charge, deposit or any amount as shown: converted, rounded half-up to the display precision."""
    return round_half_up(convert(amount, rate), display_places(code, rate))


def display_balance(amount: Decimal, code: str, rate: Decimal) -> Decimal:
    """A balance at a glance: converted, rounded down so it never overstates."""
    return round_down(convert(amount, rate), display_places(code, rate))


def display_price(rate_per_1000: Decimal, code: str, rate: Decimal, max_quantity: int | None) -> Decimal:
    """A price per 1,000 as shown: with the extra decimals its largest quantity needs, trailing
    zeros past the display precision dropped."""
    places = display_places(code, rate)
    price = round_half_up(convert(rate_per_1000, rate), places + extra_places(max_quantity))
    trimmed = price.normalize()
    if trimmed.as_tuple().exponent > -places:
        return round_half_up(price, places)
    return trimmed
