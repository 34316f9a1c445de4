"""The daily fetch (currencies.services.rates_fetch, the beat task): rates stored against the panel
currency from the local fake feed; a failed, stale or unchanged feed keeps the last rates and a
failed or stale one alerts staff; safe twice and concurrently."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django_celery_beat.models import PeriodicTask

from accounts.models import AuditLog
from currencies.apps import FETCH_TASK
from currencies.models import CurrencySettings, ExchangeRate, Source
from currencies.selectors import rate_in_use, rates_in_use
from currencies.services import ALERT_KIND, rates_fetch
from currencies.tasks import fetch_rates
from notifications.kinds import KINDS, STAFF
from notifications.models import Event
from testing.ecb.fake import RECORDED_DATE

FEED_DATE = datetime.date.fromisoformat(RECORDED_DATE)
MONDAY = FEED_DATE  # 2026-11-30 is a Monday
pytestmark = pytest.mark.django_db


@pytest.fixture
def ecb_source(usd):
    return CurrencySettings.objects.create(pk=1, source=Source.ECB, currencies=["EUR", "JPY", "RUB"])


def _feed_rows():
    return ExchangeRate.objects.filter(source=Source.ECB)


def test_the_alert_kind_is_a_staff_alert():
    assert KINDS[ALERT_KIND].audience == STAFF


def test_the_daily_fetch_stores_cross_rates_against_the_panel_currency(fake_ecb, ecb_source):
    result = rates_fetch(today=MONDAY)
    assert result.ok and result.count == 30 and result.date == FEED_DATE and not result.stale
    eur = _feed_rows().get(currency="EUR")
    assert (eur.base, eur.valid_on, eur.rate) == ("USD", FEED_DATE, Decimal("0.921658986175"))
    assert not _feed_rows().filter(currency="USD").exists()
    config = CurrencySettings.objects.get(pk=1)
    assert config.feed_ok_at is not None and config.feed_error == ""
    in_use = rate_in_use("JPY", today=MONDAY)
    assert in_use.rate == Decimal("150.479262672811") and in_use.source == Source.ECB
    assert not Event.objects.filter(kind=ALERT_KIND).exists()


def test_the_task_does_nothing_while_staff_use_fixed_rates(fake_ecb, usd):
    CurrencySettings.objects.create(pk=1, source=Source.FIXED)
    assert fetch_rates() == "skipped: fixed rates in use"
    assert fake_ecb.calls == [] and not _feed_rows().exists()
    # Staff's "Fetch now" asks anyway.
    assert rates_fetch(force=True, today=MONDAY).count == 30


def test_twice_writes_the_same_rows_once(fake_ecb, ecb_source):
    rates_fetch(today=MONDAY)
    first = dict(_feed_rows().values_list("currency", "rate"))
    again = rates_fetch(today=MONDAY)
    assert again.ok and again.unchanged and not again.stale
    assert _feed_rows().count() == 30
    assert dict(_feed_rows().values_list("currency", "rate")) == first
    assert not Event.objects.filter(kind=ALERT_KIND).exists()


def test_a_new_day_adds_rows_and_the_newest_is_used(fake_ecb, ecb_source):
    rates_fetch(today=MONDAY)
    fake_ecb.date = "2026-12-01"
    fake_ecb.body = None
    result = rates_fetch(today=datetime.date(2026, 12, 1))
    assert result.date == datetime.date(2026, 12, 1) and not result.unchanged
    assert _feed_rows().count() == 60
    assert rate_in_use("EUR", today=datetime.date(2026, 12, 1)).valid_on == datetime.date(2026, 12, 1)
    # A day's rates are used from that day on, not before.
    assert rate_in_use("EUR", today=MONDAY).valid_on == MONDAY


def test_a_failed_feed_keeps_the_last_rates_and_alerts_staff(fake_ecb, ecb_source):
    rates_fetch(today=MONDAY)
    before = dict(_feed_rows().values_list("currency", "rate"))
    fake_ecb.status = 503
    tuesday = MONDAY + datetime.timedelta(days=1)
    result = rates_fetch(today=tuesday)
    assert not result.ok and "HTTP 503" in result.error
    assert dict(_feed_rows().values_list("currency", "rate")) == before
    assert rate_in_use("EUR", today=tuesday).valid_on == MONDAY
    assert CurrencySettings.objects.get(pk=1).feed_error.endswith("answered HTTP 503.")
    alert = Event.objects.get(kind=ALERT_KIND)
    assert alert.user_id is None and alert.key == "currency-feed:failed:2026-12-01"
    assert alert.data["message"] == (
        "Fetching the exchange rates failed: The European Central Bank's feed answered HTTP 503. "
        "The panel keeps showing the rates of 2026-11-30."
    )
    # Failing again the same day raises no second alert.
    rates_fetch(today=tuesday)
    assert Event.objects.filter(kind=ALERT_KIND).count() == 1


def test_a_broken_document_is_a_failure_too(fake_ecb, ecb_source):
    fake_ecb.body = b"<html>We are updating our site</html>"
    result = rates_fetch(today=MONDAY)
    assert not result.ok and not _feed_rows().exists()
    assert "No feed rates were ever fetched" in Event.objects.get(kind=ALERT_KIND).data["message"]


def test_an_unchanged_date_is_no_alarm_until_it_is_stale(fake_ecb, ecb_source):
    rates_fetch(today=MONDAY)
    # Saturday and Sunday the bank publishes nothing: the same date, no alert.
    for days in (1, 2, 3, 4):
        result = rates_fetch(today=MONDAY + datetime.timedelta(days=days))
        assert result.ok and result.unchanged and not result.stale
    assert not Event.objects.filter(kind=ALERT_KIND).exists()
    # Five days old is past the 4 days allowed: staff are alerted, the rates stay in use.
    friday = MONDAY + datetime.timedelta(days=5)
    result = rates_fetch(today=friday)
    assert result.ok and result.stale
    alert = Event.objects.get(kind=ALERT_KIND)
    assert alert.key == "currency-feed:stale:2026-12-05"
    assert alert.data["message"] == (
        "The European Central Bank's newest rates are of 2026-11-30, 5 days old; the panel keeps showing them."
    )
    assert rate_in_use("EUR", today=friday).valid_on == MONDAY


def test_staleness_follows_the_setting(fake_ecb, ecb_source):
    CurrencySettings.objects.filter(pk=1).update(stale_after_days=1)
    assert rates_fetch(today=MONDAY + datetime.timedelta(days=2)).stale


def test_a_panel_currency_the_bank_does_not_publish_fails_with_a_reason(fake_ecb, settings):
    settings.PANEL_CURRENCY = "RUB"
    CurrencySettings.objects.create(pk=1, source=Source.ECB, currencies=["EUR"])
    result = rates_fetch(today=MONDAY)
    assert not result.ok and "use fixed rates instead" in result.error
    assert Event.objects.filter(kind=ALERT_KIND).count() == 1


def test_with_the_feed_a_currency_it_lacks_uses_its_fixed_rate(fake_ecb, ecb_source):
    from currencies.tests.conftest import fixed_rate

    fixed_rate("RUB", "92.5", days_ago=3)
    fixed_rate("EUR", "0.5", days_ago=0)  # the feed's EUR wins over a fixed one
    rates_fetch(today=MONDAY)
    found = rates_in_use(["EUR", "RUB", "JPY"], today=MONDAY)
    assert found["RUB"].source == Source.FIXED and found["RUB"].rate == Decimal("92.5")
    assert found["EUR"].source == Source.ECB and found["JPY"].source == Source.ECB


def test_staff_fetch_is_audited(fake_ecb, ecb_source, admin_staff):
    rates_fetch(force=True, actor_id=admin_staff.pk, today=MONDAY)
    audit = AuditLog.objects.get(action="currencies.fetch")
    assert audit.actor_id == admin_staff.pk and audit.after == {"newest_date": "2026-11-30", "rates": 30}


def test_migrate_created_the_daily_beat_entry(db):
    task = PeriodicTask.objects.get(task=FETCH_TASK)
    assert task.enabled and task.crontab.hour == "16" and str(task.crontab.timezone) == "Europe/Berlin"


@pytest.mark.django_db(transaction=True)
def test_two_fetches_at_once_store_each_rate_once(fake_ecb, usd):
    CurrencySettings.objects.create(pk=1, source=Source.ECB, currencies=["EUR"])
    fake_ecb.delay = 0.3  # both are waiting on the feed at the same time
    results, errors = [], []
    barrier = threading.Barrier(3)

    def run():
        try:
            barrier.wait()
            results.append(rates_fetch(today=MONDAY))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not errors
    assert len(results) == 3 and all(result.ok for result in results)
    assert len(fake_ecb.calls) == 3
    assert _feed_rows().count() == 30
    assert _feed_rows().get(currency="EUR").rate == Decimal("0.921658986175")


@pytest.mark.django_db(transaction=True)
def test_two_failing_fetches_at_once_alert_staff_once(fake_ecb, usd):
    CurrencySettings.objects.create(pk=1, source=Source.ECB)
    fake_ecb.status = 500
    fake_ecb.delay = 0.2
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            rates_fetch(today=MONDAY)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert Event.objects.filter(kind=ALERT_KIND).count() == 1
