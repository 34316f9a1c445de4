"""The beat entries apps create after migrate (panel.beat): there once, staff edits kept."""

import pytest
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from panel.beat import beat_entry_ensure

pytestmark = pytest.mark.django_db


def test_migrate_created_each_apps_entry_once():
    for task, schedule in [
        ("catalog.sync_all_providers", (30, "minutes")),
        ("billing.sweep_deposits", (5, "minutes")),
    ]:
        [entry] = PeriodicTask.objects.filter(task=task)
        assert (entry.interval.every, entry.interval.period) == schedule and entry.enabled
    [fetch] = PeriodicTask.objects.filter(task="currencies.fetch_rates")
    assert (fetch.crontab.hour, fetch.crontab.minute, str(fetch.crontab.timezone)) == ("16", "30", "Europe/Berlin")


def test_an_entry_is_created_only_while_none_runs_its_task():
    assert beat_entry_ensure(name="Tidy", task="x.tidy", every_minutes=7, description="d")
    entry = PeriodicTask.objects.get(task="x.tidy")
    entry.name, entry.enabled = "Renamed by staff", False
    entry.interval = IntervalSchedule.objects.create(every=1, period="hours")
    entry.save()
    assert not beat_entry_ensure(name="Tidy", task="x.tidy", every_minutes=7)
    entry.refresh_from_db()
    assert (entry.name, entry.enabled, entry.interval.every) == ("Renamed by staff", False, 1)
    entry.delete()
    assert beat_entry_ensure(name="Tidy", task="x.tidy", crontab={"minute": "0", "hour": "3"})
    assert PeriodicTask.objects.get(task="x.tidy").crontab == CrontabSchedule.objects.get(minute="0", hour="3")
