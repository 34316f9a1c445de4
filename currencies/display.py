"""The display currency of the current request, and money formatted in it.

Like Django's translation.activate: the middleware activates the currency a request asked for
(the customer's choice, or a visitor's cookie) in a context variable, and the templates' money
filters read it. The rate is looked up once per request, and only when a page shows money.
Outside a request (tasks, the API, emails) nothing is active and amounts stay in the panel
currency.
"""

import datetime
import functools
from contextvars import ContextVar, Token
from dataclasses import dataclass
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal
from django.conf import settings
from django.utils import translation

from panel.tenancy import panel_currency

from . import money
from .selectors import rate_in_use


@dataclass(frozen=True)
class Display:
    """A display currency with the rate it is shown at."""

    code: str
    rate: Decimal  # units of `code` for one unit of the panel currency
    valid_on: datetime.date
    source: str
    places: int  # money.display_places(code, rate)

    def amount(self, panel_amount: Decimal) -> Decimal:
        return money.display_amount(panel_amount, self.code, self.rate)

    def balance(self, panel_amount: Decimal) -> Decimal:
        return money.display_balance(panel_amount, self.code, self.rate)

    def price(self, rate_per_1000: Decimal, max_quantity: int | None) -> Decimal:
        return money.display_price(rate_per_1000, self.code, self.rate, max_quantity)


class _Wanted:
    """What one request asked for, and (once looked up) what it resolved to."""

    __slots__ = ("code", "display", "resolved")

    def __init__(self, code: str) -> None:
        self.code = code
        self.display: Display | None = None
        self.resolved = False


_wanted: ContextVar[_Wanted | None] = ContextVar("display_currency", default=None)


def activate(code: str | None) -> Token:
    """Show money in `code` from now on in this context (None or "" or the panel currency:
    in the panel currency). Returns the token `deactivate` takes."""
    return _wanted.set(_Wanted((code or "").strip().upper()[:3]))


def deactivate(token: Token | None = None) -> None:
    if token is not None:
        _wanted.reset(token)
    else:
        _wanted.set(None)


def wanted_code() -> str:
    """The code asked for in this context ("" for the panel currency), before any rate lookup."""
    wanted = _wanted.get()
    return wanted.code if wanted is not None else ""


def active() -> Display | None:
    """The active display currency with its rate, or None: amounts are shown in the panel
    currency (nothing asked, the panel currency asked, or a currency staff no longer offer or
    without a rate)."""
    wanted = _wanted.get()
    if wanted is None or not wanted.code or wanted.code == panel_currency():
        return None
    if not wanted.resolved:
        found = rate_in_use(wanted.code)
        if found is not None:
            wanted.display = Display(
                code=found.code,
                rate=found.rate,
                valid_on=found.valid_on,
                source=found.source,
                places=money.display_places(found.code, found.rate),
            )
        wanted.resolved = True
    return wanted.display


@functools.lru_cache(maxsize=32)
def _babel_locale(language: str) -> Locale:
    try:
        return Locale.parse(translation.to_locale(language))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def babel_locale() -> Locale:
    """The Babel locale of the active Django language (pt-br -> pt_BR)."""
    return _babel_locale(translation.get_language() or settings.LANGUAGE_CODE)


def format_money(value: Decimal, code: str) -> str:
    """`value` (already rounded as it is to be shown) in `code`, written the way the active
    language writes money: "€1,234.56" in English, "1 234,56 ₽" in Russian. Every decimal of
    `value` is shown, and at least the currency's own."""
    return format_currency(value, code, locale=babel_locale(), decimal_quantization=False)


def format_rate(rate: Decimal) -> str:
    """An exchange rate to six significant digits, in the active language's digits."""
    rounded = rate.quantize(Decimal(1).scaleb(min(rate.adjusted() - 5, 0)))
    return format_decimal(rounded.normalize(), locale=babel_locale(), decimal_quantization=False)
