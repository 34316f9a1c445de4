"""The Celery tasks, their cache lock, and the default beat schedule."""

import pytest
from django.apps import apps as global_apps
from django.core.cache import cache
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from catalog import tasks
from catalog.apps import SYNC_TASK, CatalogConfig, ensure_sync_schedule
from catalog.models import Service, SyncRun
from catalog.sync import _lock_key
from panel.celery import app as celery_app


@pytest.fixture
def eager():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def test_sync_all_providers_fans_out_to_enabled_providers(eager, pricing, simulator, provider_for):
    enabled = provider_for(simulator(services=4), auto_import=True)
    disabled = provider_for(simulator(services=4), auto_import=True, enabled=False)
    tasks.sync_all_providers.delay()
    assert SyncRun.objects.filter(provider=enabled, ok=True).count() == 1
    assert not SyncRun.objects.filter(provider=disabled).exists()
    assert Service.objects.filter(upstream__provider=enabled).count() == 4


def test_a_second_task_for_a_provider_being_synced_is_skipped(eager, pricing, simulator, provider_for):
    provider = provider_for(simulator(services=4))
    cache.set(_lock_key(provider.pk), "1", timeout=60)  # another worker holds it
    try:
        tasks.sync_provider.delay(provider.pk)
        assert not SyncRun.objects.filter(provider=provider).exists()
    finally:
        cache.delete(_lock_key(provider.pk))
    tasks.sync_provider.delay(provider.pk)
    assert SyncRun.objects.filter(provider=provider).count() == 1
    assert cache.get(_lock_key(provider.pk)) is None  # released after the run


def test_migrate_creates_the_beat_entry_every_30_minutes(db):
    task = PeriodicTask.objects.get(name=SYNC_TASK)
    assert task.task == SYNC_TASK and task.enabled
    assert (task.interval.every, task.interval.period) == (30, "minutes")


def test_the_beat_entry_keeps_staff_edits_and_comes_back_when_deleted(db):
    sender = global_apps.get_app_config("catalog")
    assert isinstance(sender, CatalogConfig)
    task = PeriodicTask.objects.get(name=SYNC_TASK)
    task.interval = IntervalSchedule.objects.create(every=5, period="minutes")
    task.enabled = False
    task.save()
    ensure_sync_schedule(sender=sender, apps=global_apps)
    task.refresh_from_db()
    assert (task.interval.every, task.enabled) == (5, False)
    task.delete()
    ensure_sync_schedule(sender=sender, apps=global_apps)
    assert PeriodicTask.objects.get(name=SYNC_TASK).interval.every == 30


def test_a_task_for_a_deleted_provider_does_nothing(eager, db):
    tasks.sync_provider.delay(987654321)
    assert not SyncRun.objects.exists()
