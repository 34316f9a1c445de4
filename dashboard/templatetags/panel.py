"""Money and status helpers for templates.

Money is kept and charged in the panel currency. When the request has a display currency
(currencies.display: the customer's choice, or a visitor's cookie), `money` and `money2` show
amounts converted into it, written as the active language writes money (Babel); `money_both`
shows the panel amount that actually moves with the converted one beside it; `money_rate` shows a
price per 1,000 with the decimals its largest quantity needs. Without one (or when it is the
panel currency) every filter writes exactly what it always has: "$12.50".
"""

from decimal import ROUND_DOWN, Decimal, InvalidOperation
from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.utils.html import format_html
from django.utils.translation import gettext as _

from catalog.pricing import FLAT_TYPES
from currencies.display import Display, active, babel_locale, format_money, format_rate
from currencies.models import Source
from currencies.selectors import display_choices
from panel.tenancy import panel_currency

register = template.Library()

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "INR": "₹", "TRY": "₺", "RUB": "₽", "BRL": "R$"}
STATUS_CLASSES = {
    "Pending": "pending",
    "In progress": "progress",
    "Processing": "progress",
    "Completed": "ok",
    "Partial": "warn",
    "Canceled": "bad",
    "Rejected": "bad",
    "pending": "pending",
    "approved": "ok",
    "paid": "ok",
    "created": "pending",
    "failed": "bad",
    "expired": "muted",
    "partial": "warn",
    "credited": "ok",
    "paid_outside": "ok",
    "applied": "ok",
    "dismissed": "muted",
    "rejected": "bad",
    "open": "pending",
    "answered": "progress",
    "closed": "muted",
}


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None


def _with_currency(text: str) -> str:
    symbol = SYMBOLS.get(panel_currency())
    if symbol:
        return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"
    return f"{text} {panel_currency()}"


def panel_money(amount: Decimal) -> str:
    """An exact amount in the panel currency: 2 decimals when that says it all, up to the 5 the
    protocol carries."""
    amount = amount.quantize(settings.MONEY_PLACES)
    text = f"{amount:,.5f}".rstrip("0")
    whole, _dot, frac = text.partition(".")
    return _with_currency(f"{whole}.{frac.ljust(2, '0')}")


@register.filter
def money(value) -> str:
    """An amount: in the display currency if there is one (rounded half-up to its precision),
    else exact in the panel currency."""
    amount = _decimal(value)
    if amount is None:
        return ""
    display = active()
    if display is None:
        return panel_money(amount)
    return format_money(display.amount(amount), display.code)


@register.filter
def money2(value) -> str:
    """For reading at a glance (the balance): 2 decimals (the display currency's own precision),
    rounded down so it never overstates."""
    amount = _decimal(value)
    if amount is None:
        return ""
    display = active()
    if display is None:
        return _with_currency(f"{amount.quantize(Decimal('0.01'), rounding=ROUND_DOWN):,.2f}")
    return format_money(display.balance(amount), display.code)


@register.filter
def money_both(value) -> str:
    """Where money actually moves (a charge, a deposit, a ledger entry): the panel-currency amount
    that moves, and beside it what that is in the display currency: "$1.23 ≈ 112,40 ₽". Without a
    display currency, just the panel amount, as `money` writes it."""
    amount = _decimal(value)
    if amount is None:
        return ""
    display = active()
    if display is None:
        return panel_money(amount)
    return format_html(
        '<span class="money-both"><bdi>{}</bdi> <span class="money-alt">≈ <bdi>{}</bdi></span></span>',
        panel_money(amount),
        format_money(display.amount(amount), display.code),
    )


@register.filter
def money_rate(value, service=None) -> str:
    """A service's price: per package, as `money`; per 1,000, in a display currency, with the
    extra decimals that make price x quantity / 1,000 agree with the displayed charge of any
    quantity up to the service's maximum (currencies.money)."""
    amount = _decimal(value)
    if amount is None:
        return ""
    display = active()
    if display is None:
        return panel_money(amount)
    if service is None or getattr(service, "type", None) in FLAT_TYPES:
        return format_money(display.amount(amount), display.code)
    return format_money(display.price(amount, getattr(service, "max", None)), display.code)


@register.filter
def plain_rate(value) -> str:
    """An exchange rate as recorded, without trailing zeros: "92.5", "0.921659"."""
    rate = _decimal(value)
    if rate is None:
        return ""
    return f"{rate.normalize():f}"


@register.filter
def is_package(service) -> bool:
    """Priced per package (one price), not per 1,000."""
    return getattr(service, "type", None) in FLAT_TYPES


@register.simple_tag
def display_currency() -> Display | None:
    """The display currency of this request with its rate, or None (the panel currency)."""
    return active()


@register.filter
def rate_note(display: Display | None) -> str:
    """ "1 USD = 0.921659 EUR · rates of 2026-11-30, European Central Bank" (HTML), or ""."""
    if display is None:
        return ""
    date = display.valid_on.isoformat()
    if display.source == Source.ECB:
        source = _("rates of %(date)s, European Central Bank") % {"date": date}
    else:
        source = _("rates of %(date)s, set by the panel") % {"date": date}
    # The equation stays left to right inside a right-to-left page.
    rate = format_rate(display.rate)
    return format_html('<bdi dir="ltr">1 {} = {} {}</bdi> · {}', panel_currency(), rate, display.code, source)


@register.simple_tag
def currency_choices():
    """What a customer may pick as their display currency (the panel currency first), each with
    its rate, in the active language."""
    return display_choices(locale=str(babel_locale()))


@register.filter
def status_class(value) -> str:
    return STATUS_CLASSES.get(str(value), "muted")


@register.simple_tag(takes_context=True)
def query(context, **changes) -> str:
    """The current query string with some parameters changed (None or "" removes them)."""
    params = context["request"].GET.copy()
    for name, value in changes.items():
        if value is None or value == "":
            params.pop(name, None)
        else:
            params[name] = value
    return "?" + urlencode(sorted((k, v) for k, v in params.items() if v))
