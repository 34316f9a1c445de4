"""Money and status helpers for templates."""

from decimal import ROUND_DOWN, Decimal, InvalidOperation
from urllib.parse import urlencode

from django import template
from django.conf import settings

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
    symbol = SYMBOLS.get(settings.PANEL_CURRENCY)
    if symbol:
        return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"
    return f"{text} {settings.PANEL_CURRENCY}"


@register.filter
def money(value) -> str:
    """An exact amount: 2 decimals when that says it all, up to the 5 the protocol carries."""
    amount = _decimal(value)
    if amount is None:
        return ""
    amount = amount.quantize(settings.MONEY_PLACES)
    text = f"{amount:,.5f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return _with_currency(f"{whole}.{frac.ljust(2, '0')}")


@register.filter
def money2(value) -> str:
    """For reading at a glance (the balance): 2 decimals, rounded down so it never overstates."""
    amount = _decimal(value)
    if amount is None:
        return ""
    return _with_currency(f"{amount.quantize(Decimal('0.01'), rounding=ROUND_DOWN):,.2f}")


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
