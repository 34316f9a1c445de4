"""Writes: fetching the feed's rates, staff's fixed rates and settings (each audited).

Fetching is safe to run twice and at the same time: the feed's rows are upserted by
(source, panel currency, currency, date) in one statement, in currency order (so two runs never
wait on each other's rows in opposite orders), and the alerts carry one key per day, which
notifications record once. A failed, stale or unchanged feed writes no rate: the last ones stay
in use.
"""

import datetime
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.services import audit_record
from panel.events import DomainEvent, emit
from panel.tenancy import panel_currency

from . import ecb
from .models import CurrencySettings, ExchangeRate, Source
from .selectors import currency_settings, feed_newest_date

logger = logging.getLogger(__name__)

ALERT_KIND = "currency.rates"  # notifications/kinds.py: a staff alert


@dataclass(frozen=True)
class FetchResult:
    ok: bool
    skipped: bool = False  # staff chose fixed rates: the feed was not asked
    date: datetime.date | None = None  # the feed's date
    count: int = 0  # rates written
    unchanged: bool = False  # the feed still gives the date we had
    stale: bool = False  # the newest rates are older than the settings allow
    error: str = ""

    def summary(self) -> str:
        """One line in English for logs and the task's result."""
        if self.skipped:
            return "skipped: fixed rates in use"
        if not self.ok:
            return f"failed: {self.error}"
        state = "unchanged" if self.unchanged else "new"
        return f"{self.count} rates of {self.date} ({state}{', stale' if self.stale else ''})"


def _alert(kind: str, today: datetime.date, message: str) -> None:
    emit(DomainEvent(kind=ALERT_KIND, key=f"currency-feed:{kind}:{today.isoformat()}", data={"message": message}))


def rates_fetch(*, force: bool = False, actor_id: int | None = None, today: datetime.date | None = None) -> FetchResult:
    """Fetch the European Central Bank's rates and store them against the panel currency.

    Beat calls it daily; it does nothing while staff use fixed rates, unless `force` (staff's
    "Fetch now"). On failure the rates in use stay and staff are alerted; likewise when the
    newest rates are older than `stale_after_days` (the bank publishes on working days only, so
    an unchanged date alone is no alarm).
    """
    config = currency_settings()
    if config.source != Source.ECB and not force:
        return FetchResult(ok=True, skipped=True)
    CurrencySettings.objects.get_or_create(pk=1)
    now = timezone.now()
    today = today or timezone.localdate()
    before = feed_newest_date()
    try:
        # Outside any transaction: a slow feed holds no lock and no connection in a transaction.
        feed = ecb.parse(ecb.fetch())
        rates = ecb.cross_rates(feed, panel_currency())
    except ecb.FeedError as error:
        message = str(error)
        CurrencySettings.objects.filter(pk=1).update(feed_checked_at=now, feed_error=message[:300])
        kept = (
            f" The panel keeps showing the rates of {before.isoformat()}."
            if before
            else " No feed rates were ever fetched."
        )
        logger.warning("currencies: fetching the exchange rates failed: %s", message)
        _alert("failed", today, f"Fetching the exchange rates failed: {message}{kept}")
        return FetchResult(ok=False, error=message)
    rows = [
        ExchangeRate(
            source=Source.ECB,
            base=panel_currency(),
            currency=code,
            rate=rates[code],
            valid_on=feed.date,
            fetched_at=now,
        )
        for code in sorted(rates)
    ]
    with transaction.atomic():
        ExchangeRate.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["source", "base", "currency", "valid_on"],
            update_fields=["rate", "fetched_at"],
        )
        CurrencySettings.objects.filter(pk=1).update(feed_checked_at=now, feed_ok_at=now, feed_error="")
        if actor_id is not None:
            audit_record(
                actor_id=actor_id,
                action="currencies.fetch",
                obj=CurrencySettings(pk=1),
                before={"newest_date": before},
                after={"newest_date": max(filter(None, [before, feed.date])), "rates": len(rows)},
            )
    newest = max(filter(None, [before, feed.date]))
    age = (today - newest).days
    stale = age > config.stale_after_days
    if stale:
        _alert(
            "stale",
            today,
            f"The European Central Bank's newest rates are of {newest.isoformat()}, {age} days old; "
            "the panel keeps showing them.",
        )
    result = FetchResult(
        ok=True, date=feed.date, count=len(rows), unchanged=before is not None and feed.date <= before, stale=stale
    )
    logger.info("currencies: exchange rates %s", result.summary())
    return result


def _plain(value):
    # Decimals as typed ("92.5"), whether they come from a form or the database's 12 places.
    return f"{value.normalize():f}" if isinstance(value, Decimal) else value


def _fields(obj, names) -> dict:
    return {name: _plain(getattr(obj, name)) for name in names}


SETTINGS_FIELDS = ("source", "currencies", "stale_after_days")
RATE_FIELDS = ("currency", "rate", "valid_on")


@transaction.atomic
def settings_save(*, actor_id: int, config: CurrencySettings, before: dict) -> CurrencySettings:
    """Save staff's currency settings with the audit row of what changed."""
    config.pk = 1
    config.save()
    before = {name: _plain(value) for name, value in before.items()}
    after = _fields(config, SETTINGS_FIELDS)
    changed = [name for name in SETTINGS_FIELDS if before.get(name) != after[name]]
    if changed:
        audit_record(
            actor_id=actor_id,
            action="currencies.settings_edit",
            obj=config,
            before={name: before.get(name) for name in changed},
            after={name: after[name] for name in changed},
        )
    return config


@transaction.atomic
def fixed_rate_save(*, actor_id: int, rate: ExchangeRate, before: dict | None) -> ExchangeRate:
    """Save a rate staff typed (`before`: its fields as loaded, None for a new one), audited."""
    rate.source = Source.FIXED
    rate.base = rate.base or panel_currency()
    rate.currency = rate.currency.upper()
    rate.entered_by_id = actor_id
    rate.fetched_at = timezone.now()
    rate.save()
    before = None if before is None else {name: _plain(value) for name, value in before.items()}
    after = _fields(rate, RATE_FIELDS)
    changed = [name for name in RATE_FIELDS if before is None or before.get(name) != after[name]]
    if changed:
        audit_record(
            actor_id=actor_id,
            action="currencies.rate_create" if before is None else "currencies.rate_edit",
            obj=rate,
            before={} if before is None else {name: before.get(name) for name in changed},
            after={name: after[name] for name in changed},
        )
    return rate


@transaction.atomic
def fixed_rate_delete(*, actor_id: int, rate: ExchangeRate) -> None:
    audit_record(actor_id=actor_id, action="currencies.rate_delete", obj=rate, before=_fields(rate, RATE_FIELDS))
    rate.delete()
