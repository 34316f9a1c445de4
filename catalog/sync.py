"""Sync: bring our catalog in line with each provider's `services` list, in one set-based pass.

1. Fetch the list (outside any transaction; a slow provider holds no locks).
2. In one short transaction, under the provider's row lock (so two runs for one provider take
   turns and the second finds nothing left to do):
   - upsert every changed or new UpstreamService (bulk, ON CONFLICT on provider + upstream ID)
     and mark the ones no longer listed `present=False`;
   - for our services of this provider: follow cost, min, max and flags; disable and flag a
     service whose upstream vanished or changed type; recompute every rate from the rules,
     never below cost unless a loss-leader;
   - auto-import new upstream services when the provider's ProviderImport says so;
   - write the change log (ServiceChange) and the SyncRun.

Queries: a constant number, plus one per batch of 1,000 rows written; never one per
service. Nothing is ever deleted: orders keep pointing at the services they bought.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from upstream.client import NotSent, UpstreamError
from upstream.client import Service as Listed
from upstream.models import Provider
from upstream.names import name_key
from upstream.services import provider_client, provider_slot

from .models import (
    Category,
    PricingSettings,
    ProviderImport,
    Service,
    ServiceChange,
    ServiceType,
    SyncRun,
    UpstreamService,
)
from .services import apply_price, flag_reason_add, services_write

logger = logging.getLogger(__name__)

# Compared with what we stored to tell whether a service changed; `raw` itself is compared
# through its digest, so that a sync need not load 10,000 JSON documents.
COMPARED_FIELDS = (
    "name",
    "type",
    "category",
    "rate",
    "min",
    "max",
    "refill",
    "cancel",
    "dripfeed",
    "desc",
    "raw_digest",
)
UPSTREAM_FIELDS = (*COMPARED_FIELDS, "raw")
FLAGS = ("refill", "cancel", "dripfeed")
SERVICE_SYNC_FIELDS = [
    "rate",
    "min",
    "max",
    "type",
    "refill",
    "cancel",
    "dripfeed",
    "enabled",
    "flagged",
    "flag_reason",
    "below_cost",
    "updated_at",
]
MAX_UNITS = 2**63 - 1
MAX_RATE = Decimal(10) ** 13  # what a DecimalField(max_digits=18, decimal_places=5) holds
WRITE_BATCH = 1000

REASON_REMOVED = "removed upstream"
REASON_RESTORED = "back upstream: re-enable after review"


# Providers spell types their own way ("Custom comments", "custom_comments",
# "Mentions  with   hashtags"); ours are the protocol's. name_key is the one comparison.
KNOWN_TYPES = {name_key(value): value for value in ServiceType.values}


def known_type(upstream_type: str) -> str | None:
    """Our ServiceType for a provider's type name, or None when we cannot sell that type."""
    return KNOWN_TYPES.get(name_key(upstream_type))


def service_for_upstream(row: UpstreamService, *, category: Category, **fields: Any) -> Service:
    """A new (unsaved) service of ours selling this upstream service, its terms copied from it;
    the rate is set by pricing afterwards. `fields` sets the rest (enabled, markup...)."""
    return Service(
        category=category,
        upstream=row,
        name=row.name,
        type=known_type(row.type),
        description=row.desc,
        rate=Decimal(0),
        min=row.min,
        max=max(row.min, row.max),
        refill=row.refill,
        cancel=row.cancel,
        dripfeed=row.dripfeed,
        **fields,
    )


class SyncRefused(Exception):
    """The answer is not safe to apply (e.g. an empty list where services were listed)."""


def _clean(value: Any) -> Any:
    """Make a provider's raw JSON storable: Decimals become strings (never floats) and NUL
    characters, which PostgreSQL refuses in text, are dropped."""
    if isinstance(value, dict):
        return {_clean(str(key)): _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        return value.replace("\x00", "")
    return value


def _raw(value: dict) -> tuple[dict, str]:
    """The item as we store it, and the SHA-256 of its canonical JSON."""
    # The json module's C encoder and decoder do the common case far faster than _clean.
    text = json.dumps(value, default=str, sort_keys=True, separators=(",", ":"))
    if "\\u0000" in text:
        value = _clean(value)
        text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    else:
        value = json.loads(text)
    return value, hashlib.sha256(text.encode()).hexdigest()


def _text(value: str, length: int) -> str:
    return value.replace("\x00", "")[:length]


def normalize(item: Listed) -> dict[str, Any] | None:
    """The UpstreamService fields for one listed service, or None when it cannot be stored."""
    upstream_id = item.service.strip()
    rate = item.rate
    if not upstream_id or len(upstream_id) > 64 or not rate.is_finite() or not 0 <= rate < MAX_RATE:
        return None
    if not (0 <= item.min <= MAX_UNITS and 0 <= item.max <= MAX_UNITS):
        return None
    try:
        # Rounded up: a cost is never under-estimated, and the stored value compares equal
        # to the next listing, so an unchanged service is not rewritten.
        rate = rate.quantize(settings.MONEY_PLACES, rounding=ROUND_UP)
    except InvalidOperation:
        return None
    raw, digest = _raw(item.raw)
    return {
        "upstream_id": upstream_id,
        "name": _text(item.name, 500),
        "type": _text(item.type, 64),
        "category": _text(item.category, 255),
        "rate": rate,
        "min": item.min,
        "max": item.max,
        "refill": item.refill,
        "cancel": item.cancel,
        "dripfeed": item.dripfeed,
        "desc": _text(item.desc, 100_000),
        "raw": raw,
        "raw_digest": digest,
    }


def fetch(provider: Provider) -> list[Listed]:
    """The provider's `services` list. A remote call: never inside a transaction."""
    with provider_slot(provider) as free:
        if not free:
            raise NotSent("services", "every request slot of this provider is busy")
        return provider_client(provider).services()


@dataclass
class _Counts:
    changes: int = 0
    created: int = 0


class _Pass:
    """One sync's write phase. Holds what it read so each step reuses it instead of querying."""

    def __init__(self, provider: Provider, run: SyncRun, listing: dict[str, dict[str, Any]], import_existing: bool):
        self.provider = provider
        self.run = run
        self.listing = listing
        self.import_existing = import_existing
        self.now = timezone.now()
        self.pricing = PricingSettings.load()
        self.importer = ProviderImport.objects.filter(provider=provider, auto_import=True).first()
        self.changes: list[ServiceChange] = []

    def change(
        self,
        kind: str,
        upstream: UpstreamService,
        service: Service | None = None,
        *,
        field: str = "",
        old_value: Any = "",
        new_value: Any = "",
    ) -> None:
        # IDs rather than objects: setting a foreign key through its descriptor costs more,
        # and this runs once per logged change.
        self.changes.append(
            ServiceChange(
                provider_id=self.provider.pk,
                sync_run_id=self.run.pk,
                upstream_service_id=upstream.pk,
                service_id=service.pk if service else None,
                kind=kind,
                field=field,
                old_value=str(old_value),
                new_value=str(new_value),
            )
        )

    def run_pass(self) -> _Counts:
        self.record_upstream()
        sold = self.follow_our_services()
        created = self.auto_import(sold)
        for upstream in self.new:
            if upstream.pk not in self.imported:
                self.change(ServiceChange.Kind.NEW_UPSTREAM, upstream, field="name", new_value=upstream.name)
        for upstream in self.removed:
            if upstream.pk not in sold:
                self.change(ServiceChange.Kind.REMOVED, upstream, field="present", old_value="yes", new_value="no")
        for upstream in self.restored:
            if upstream.pk not in sold:
                self.change(ServiceChange.Kind.RESTORED, upstream, field="present", old_value="no", new_value="yes")
        ServiceChange.objects.bulk_create(self.changes, batch_size=WRITE_BATCH)
        return _Counts(changes=len(self.changes), created=created)

    # --- upstream services ---

    def record_upstream(self) -> None:
        rows = UpstreamService.objects.filter(provider=self.provider).defer("raw")
        existing = {row.upstream_id: row for row in rows}
        if not self.listing and any(row.present for row in existing.values()):
            raise SyncRefused("the provider listed no services; nothing was changed")
        upserts: list[UpstreamService] = []
        self.old: dict[int, dict[str, Any]] = {}  # upstream pk -> old values of the fields that changed
        self.new: list[UpstreamService] = []
        self.restored: list[UpstreamService] = []
        self.by_id: dict[str, UpstreamService] = {}
        for upstream_id, values in self.listing.items():
            current = existing.get(upstream_id)
            if current is not None:
                diff = {
                    name: getattr(current, name) for name in COMPARED_FIELDS if getattr(current, name) != values[name]
                }
                if not diff and current.present:
                    current.provider = self.provider
                    self.by_id[upstream_id] = current
                    continue
            row = UpstreamService(provider=self.provider, present=True, last_seen_at=self.now, **values)
            upserts.append(row)
            self.by_id[upstream_id] = row
            if current is None:
                self.new.append(row)
            else:
                self.old[current.pk] = diff
                if not current.present:
                    self.restored.append(row)
        # The conflict target is (provider, upstream_id): rows that exist are updated in place
        # and every row's ID comes back, inserted or not. Even runs that raced past the row
        # lock would leave one row per upstream service.
        UpstreamService.objects.bulk_create(
            upserts,
            update_conflicts=True,
            unique_fields=["provider", "upstream_id"],
            update_fields=[*UPSTREAM_FIELDS, "present", "last_seen_at"],
            batch_size=WRITE_BATCH,
        )
        self.removed = [row for upstream_id, row in existing.items() if row.present and upstream_id not in self.listing]
        for row in self.removed:
            row.present = False
            row.provider = self.provider
        if self.removed:
            UpstreamService.objects.filter(pk__in=[row.pk for row in self.removed]).update(present=False)
        # Listed but unchanged; the rows upserted above already carry this run's time.
        UpstreamService.objects.filter(
            Q(last_seen_at__lt=self.now) | Q(last_seen_at__isnull=True), provider=self.provider, present=True
        ).update(last_seen_at=self.now)
        self.by_pk = {row.pk: row for row in self.by_id.values()}
        self.by_pk.update((row.pk, row) for row in existing.values() if row.pk not in self.by_pk)
        for row in self.by_pk.values():
            row.provider = self.provider

    # --- our services ---

    def follow_our_services(self) -> set[int]:
        """Apply upstream changes and the pricing rules to our services of this provider;
        returns the upstream pks that we sell."""
        self.categories = {category.pk: category for category in Category.objects.all()}
        services = list(Service.objects.filter(upstream__provider=self.provider).order_by("pk"))
        removed = {row.pk for row in self.removed}
        restored = {row.pk for row in self.restored}
        dirty = []
        for service in services:
            upstream = self.by_pk[service.upstream_id]
            service.upstream = upstream
            service.category = self.categories[service.category_id]
            changed = False
            if upstream.pk in removed:
                changed |= self._removed(service, upstream)
            if upstream.pk in restored:
                changed |= self._restored(service, upstream)
            diff = self.old.get(upstream.pk)
            if diff:
                changed |= self._follow(service, upstream, diff)
            changed |= apply_price(
                service,
                self.pricing,
                self.changes,
                provider=self.provider,
                sync_run=self.run,
                upstream_service=upstream,
            )
            if changed:
                service.updated_at = self.now
                dirty.append(service)
        services_write(dirty, SERVICE_SYNC_FIELDS)
        return {service.upstream_id for service in services}

    def _disable(self, service: Service, reason: str) -> None:
        service.enabled = False
        service.flagged = True
        service.flag_reason = flag_reason_add(service.flag_reason, reason)

    def _removed(self, service: Service, upstream: UpstreamService) -> bool:
        self.change(
            ServiceChange.Kind.REMOVED, upstream, service, field="enabled", old_value=service.enabled, new_value=False
        )
        self._disable(service, REASON_REMOVED)
        return True

    def _restored(self, service: Service, upstream: UpstreamService) -> bool:
        # Our service stays disabled: staff decide whether the provider's word can be trusted again.
        self.change(ServiceChange.Kind.RESTORED, upstream, service, field="present", old_value="no", new_value="yes")
        reasons = [part for part in service.flag_reason.split("; ") if part and part != REASON_REMOVED]
        service.flag_reason = flag_reason_add("; ".join(reasons), REASON_RESTORED)
        service.flagged = True
        return True

    def _follow(self, service: Service, upstream: UpstreamService, diff: dict[str, Any]) -> bool:
        changed = False
        # A new spelling of the same type ("custom_comments" for "Custom Comments") is no change.
        retyped = "type" in diff and name_key(diff["type"]) != name_key(upstream.type)
        if retyped:
            old_type = service.type
            service.type = known_type(upstream.type) or service.type
            self.change(
                ServiceChange.Kind.RETYPED, upstream, service, field="type", old_value=old_type, new_value=upstream.type
            )
            self._disable(service, f"type changed upstream: {diff['type']} -> {upstream.type}")
            changed = True
        if "name" in diff:
            # Ours keeps its name (staff may have rewritten it), but a new upstream name often
            # means a new quality or refill promise, which staff should see.
            self.change(
                ServiceChange.Kind.CHANGED,
                upstream,
                service,
                field="upstream_name",
                old_value=diff["name"],
                new_value=upstream.name,
            )
        if "rate" in diff:
            self.change(
                ServiceChange.Kind.CHANGED,
                upstream,
                service,
                field="cost",
                old_value=diff["rate"],
                new_value=upstream.rate,
            )
        if "min" in diff or "max" in diff:
            # Follow upstream; a range staff narrowed stays narrowed unless upstream narrows it more.
            old_min, old_max = diff.get("min", upstream.min), diff.get("max", upstream.max)
            new_min = upstream.min if service.min == old_min else max(service.min, upstream.min)
            new_max = upstream.max if service.max == old_max else min(service.max, upstream.max)
            if new_min > new_max:
                new_min, new_max = upstream.min, max(upstream.min, upstream.max)
            for name, value in (("min", new_min), ("max", new_max)):
                if getattr(service, name) != value:
                    self.change(
                        ServiceChange.Kind.CHANGED,
                        upstream,
                        service,
                        field=name,
                        old_value=getattr(service, name),
                        new_value=value,
                    )
                    setattr(service, name, value)
                    changed = True
        for name in FLAGS:
            if name in diff and getattr(service, name) != getattr(upstream, name):
                self.change(
                    ServiceChange.Kind.CHANGED,
                    upstream,
                    service,
                    field=name,
                    old_value=getattr(service, name),
                    new_value=getattr(upstream, name),
                )
                setattr(service, name, getattr(upstream, name))
                changed = True
        return changed

    # --- auto-import ---

    def auto_import(self, sold: set[int]) -> int:
        self.imported: set[int] = set()
        if self.importer is None:
            return 0
        new = {row.pk for row in self.new}
        candidates = [
            row
            for row in self.by_id.values()
            if known_type(row.type) and row.pk not in sold and (row.pk in new or self.import_existing)
        ]
        if not candidates:
            return 0
        prefix = self.importer.category_prefix
        names = list(dict.fromkeys(_text(prefix + (row.category or "Other"), 255) for row in candidates))
        by_name = {category.name: category for category in self.categories.values()}
        missing = [name for name in names if name not in by_name]
        if missing:
            top = max((category.position for category in by_name.values()), default=0)
            Category.objects.bulk_create(
                [Category(name=name, position=top + 10 * (index + 1)) for index, name in enumerate(missing)],
                ignore_conflicts=True,
                batch_size=WRITE_BATCH,
            )
            by_name.update((category.name, category) for category in Category.objects.filter(name__in=missing))
        created = []
        for row in candidates:
            service = service_for_upstream(
                row,
                category=by_name[_text(prefix + (row.category or "Other"), 255)],
                markup_percent=self.importer.markup_percent,
                auto_imported=True,
            )
            apply_price(
                service, self.pricing, self.changes, provider=self.provider, sync_run=self.run, upstream_service=row
            )
            created.append(service)
            self.imported.add(row.pk)
        # Under the provider lock no other run imports these; the partial unique constraint
        # (one auto-imported service per upstream service) is the database's guarantee.
        Service.objects.bulk_create(created, batch_size=WRITE_BATCH)
        for service in created:
            self.change(ServiceChange.Kind.IMPORTED, service.upstream, service, field="rate", new_value=service.rate)
        return len(created)


def _listing(items: list[Listed]) -> dict[str, dict[str, Any]]:
    listing: dict[str, dict[str, Any]] = {}
    skipped = 0
    for item in items:
        values = normalize(item)
        if values is None:
            skipped += 1
            continue
        listing[values["upstream_id"]] = values  # a repeated ID: the last entry wins
    if skipped:
        logger.warning("sync: skipped %d upstream services that cannot be stored", skipped)
    return listing


def _finish(run: SyncRun, started: float, **values: Any) -> SyncRun:
    values.update(finished_at=timezone.now(), duration_ms=int((time.monotonic() - started) * 1000))
    SyncRun.objects.filter(pk=run.pk).update(**values)
    for name, value in values.items():
        setattr(run, name, value)
    return run


def sync_provider(*, provider_id: int, import_existing: bool = False) -> SyncRun:
    """Sync one provider's services into the catalog; returns the finished SyncRun.

    A provider error or a refused answer ends the run with ok=False and the reason in
    `error`, changing nothing. `import_existing` also imports upstream services seen before
    auto-import was switched on (still only those we do not sell yet). Safe to run twice and
    concurrently: the second run finds nothing to do.
    """
    provider = Provider.objects.get(pk=provider_id)
    run = SyncRun.objects.create(provider=provider)
    started = time.monotonic()
    try:
        items = fetch(provider)
    except UpstreamError as exc:
        logger.warning("sync %s: %s", provider.name, exc)
        return _finish(run, started, ok=False, error=str(exc)[:2000])
    listing = _listing(items)
    try:
        with transaction.atomic():
            locked = Provider.objects.select_for_update().get(pk=provider_id)
            counts = _Pass(locked, run, listing, import_existing).run_pass()
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
