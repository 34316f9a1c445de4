"""Running syncs: one provider, one provider unless it is already syncing, every provider."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from panel.events import DomainEvent, emit
from upstream.client import UpstreamError
from upstream.models import Provider

from ..languages import in_default_language
from ..models import SyncRun
from .apply import SyncPass, SyncRefused
from .listing import fetch, normalize_all

logger = logging.getLogger("catalog.sync")


def _finish(run: SyncRun, started: float, **values: Any) -> SyncRun:
    values.update(finished_at=timezone.now(), duration_ms=int((time.monotonic() - started) * 1000))
    SyncRun.objects.filter(pk=run.pk).update(**values)
    for name, value in values.items():
        setattr(run, name, value)
    if values.get("ok") is False:
        message = f"Sync of {run.provider.name} failed: {run.error}"[:500]
        emit(DomainEvent(kind="sync.failed", key=f"sync-run:{run.pk}", data={"run": run.pk, "message": message}))
    return run


@in_default_language
def sync_provider(*, provider_id: int, import_existing: bool = False) -> SyncRun:
    """Sync one provider's services into the catalog; returns the finished SyncRun.

    A provider error or a refused answer ends the run with ok=False and the reason in
    `error`, changing nothing. `import_existing` also imports upstream services seen before
    auto-import was switched on (still only those we do not sell yet). Safe to run twice and
    concurrently: the second run finds nothing to do.

    Runs in the panel's default language whatever the caller's (a request from the backoffice
    in Russian, a worker): the names it imports and the categories it looks up by name are the
    default language's (catalog.translation).
    """
    provider = Provider.objects.get(pk=provider_id)
    run = SyncRun.objects.create(provider=provider)
    started = time.monotonic()
    try:
        items = fetch(provider)
    except UpstreamError as exc:
        logger.warning("sync %s: %s", provider.name, exc)
        return _finish(run, started, ok=False, error=str(exc)[:2000])
    listing = normalize_all(items)
    try:
        with transaction.atomic():
            locked = Provider.objects.select_for_update().get(pk=provider_id)
            counts = SyncPass(locked, run, listing, import_existing).run_pass()
            return _finish(
                run, started, ok=True, upstream_count=len(listing), changes=counts.changes, created=counts.created
            )
    except SyncRefused as exc:
        logger.warning("sync %s: refused: %s", provider.name, exc)
        return _finish(run, started, ok=False, error=str(exc), upstream_count=len(listing))
    except Exception as exc:
        _finish(run, started, ok=False, error=f"{type(exc).__name__}: {exc}"[:2000], upstream_count=len(listing))
        raise


def _lock_key(provider_id: int) -> str:
    return f"catalog:sync:{provider_id}"


def sync_provider_unless_running(*, provider_id: int, import_existing: bool = False) -> SyncRun | None:
    """sync_provider, unless another process is syncing this provider right now (None).

    The cache lock only saves a duplicate fetch; the database keeps concurrent runs correct.
    It expires after the task time limit, so a killed worker cannot block syncs for long.
    """
    key = _lock_key(provider_id)
    if not cache.add(key, "1", timeout=settings.CELERY_TASK_TIME_LIMIT + 60):
        return None
    try:
        return sync_provider(provider_id=provider_id, import_existing=import_existing)
    finally:
        cache.delete(key)


def sync_all() -> list[SyncRun]:
    """Sync every enabled provider, one after the other; skips providers already syncing."""
    runs = []
    for provider_id in Provider.objects.filter(enabled=True).order_by("pk").values_list("pk", flat=True):
        run = sync_provider_unless_running(provider_id=provider_id)
        if run is not None:
            runs.append(run)
    return runs
