"""Reads: the settings row, the rate in use for a currency, the currencies a customer may pick."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import get_currency_name, list_currencies
from django.db.models import Max, Q
from django.utils import timezone

from panel.tenancy import panel_currency

from .models import CurrencySettings, ExchangeRate, Source


@dataclass(frozen=True)
class RateInUse:
    code: str
    rate: Decimal  # units of `code` for one unit of the panel currency
    valid_on: datetime.date
    source: str  # Source.FIXED or Source.ECB


def currency_settings() -> CurrencySettings:
    """The settings row, or its defaults (unsaved) before staff ever saved it."""
    return CurrencySettings.objects.filter(pk=1).first() or CurrencySettings(pk=1)


def _sources(config: CurrencySettings) -> list[str]:
    # The feed's rate first; a currency the bank does not publish falls back to a fixed one.
    return [Source.ECB, Source.FIXED] if config.source == Source.ECB else [Source.FIXED]


def rates_in_use(
    codes, *, config: CurrencySettings | None = None, today: datetime.date | None = None
) -> dict[str, RateInUse]:
    """The rate each of `codes` is shown at today: the newest one dated today or earlier from the
    chosen source (for the feed, a fixed rate where the feed has none). Codes without a rate are
    left out. A few queries whatever the number of codes."""
    config = config or currency_settings()
    today = today or timezone.localdate()
    base = panel_currency()
    codes = {code for code in codes if code and code != base}
    found: dict[str, RateInUse] = {}
    for source in _sources(config):
        wanted = codes - set(found)
        if not wanted:
            break
        rows = ExchangeRate.objects.filter(source=source, base=base, currency__in=wanted, valid_on__lte=today)
        newest = dict(
            rows.order_by().values("currency").annotate(newest=Max("valid_on")).values_list("currency", "newest")
        )
        if not newest:
            continue
        match = Q()
        for code, valid_on in newest.items():
            match |= Q(currency=code, valid_on=valid_on)
        for row in rows.filter(match):
            found[row.currency] = RateInUse(row.currency, row.rate, row.valid_on, row.source)
    return found


def rate_in_use(
    code: str, *, config: CurrencySettings | None = None, today: datetime.date | None = None
) -> RateInUse | None:
    """The rate `code` is shown at, if customers may choose it and it has one; else None."""
    config = config or currency_settings()
    if not code or code == panel_currency() or code not in (config.currencies or []):
        return None
    return rates_in_use([code], config=config, today=today).get(code)


@dataclass(frozen=True)
class Choice:
    code: str  # "" for the panel currency
    label: str
    rate: RateInUse | None


def currency_label(code: str, locale: str = "en") -> str:
    try:
        return f"{code} — {get_currency_name(code, locale=locale)}"
    except (ValueError, LookupError):
        return code


def display_choices(*, locale: str = "en", config: CurrencySettings | None = None) -> list[Choice]:
    """What a customer may pick: the panel currency first, then each currency staff enabled that
    has a rate today."""
    config = config or currency_settings()
    base = panel_currency()
    enabled = [code for code in (config.currencies or []) if code != base]
    rates = rates_in_use(enabled, config=config)
    choices = [Choice("", currency_label(base, locale), None)]
    choices += [Choice(code, currency_label(code, locale), rates[code]) for code in enabled if code in rates]
    return choices


def known_currencies() -> list[tuple[str, str]]:
    """Every ISO currency Babel knows, as (code, "EUR — Euro") for staff's choices."""
    return [(code, currency_label(code)) for code in sorted(list_currencies()) if len(code) == 3]


def feed_newest_date() -> datetime.date | None:
    """The newest date the feed gave rates for (against the current panel currency)."""
    return ExchangeRate.objects.filter(source=Source.ECB, base=panel_currency()).aggregate(newest=Max("valid_on"))[
        "newest"
    ]
