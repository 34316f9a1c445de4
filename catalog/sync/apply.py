"""The write phase of a sync: one pass under the provider's row lock (see catalog.sync)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from tenants.limits import services_room
from upstream.models import Provider
from upstream.names import name_key

from ..languages import in_default_language
from ..models import (
    Category,
    PricingSettings,
    ProviderImport,
    Service,
    ServiceChange,
    SyncRun,
    UpstreamService,
)
from ..services import apply_price, flag_reason_add, services_write
from .listing import clean_text, known_type

log = logging.getLogger("catalog.sync")

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
WRITE_BATCH = 1000

REASON_REMOVED = "removed upstream"
REASON_RESTORED = "back upstream: re-enable after review"


def service_for_upstream(row: UpstreamService, *, category: Category, **fields: Any) -> Service:
    """A new (unsaved) service of ours selling this upstream service, its terms copied from it;
    the rate is set by pricing afterwards. `fields` sets the rest (enabled, markup...). The
    provider's name and description become the default language's, whatever the active one."""
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


@dataclass
class Counts:
    changes: int = 0
    created: int = 0


class SyncPass:
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

    @in_default_language  # categories are looked up by their default-language name
    def run_pass(self) -> Counts:
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
        return Counts(changes=len(self.changes), created=created)

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
        names = list(dict.fromkeys(clean_text(prefix + (row.category or "Other"), 255) for row in candidates))
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
                category=by_name[clean_text(prefix + (row.category or "Other"), 255)],
                markup_percent=self.importer.markup_percent,
                auto_imported=True,
            )
            apply_price(
                service, self.pricing, self.changes, provider=self.provider, sync_run=self.run, upstream_service=row
            )
            created.append(service)
            self.imported.add(row.pk)
        free = services_room(Service.objects.count)
        if free is not None and len(created) > free:
            # A child panel's plan includes so many services (tenants.limits): the rest wait for
            # room, and the run says so to staff.
            skipped = created[free:]
            created = created[:free]
            for service in skipped:
                self.imported.discard(service.upstream.pk)
            note = f"{len(skipped)} services not imported: the panel's service limit is reached."
            SyncRun.objects.filter(pk=self.run.pk).update(error=note)
            log.warning("sync of provider %s: %s", self.provider.pk, note)
        # Under the provider lock no other run imports these; the partial unique constraint
        # (one auto-imported service per upstream service) is the database's guarantee.
        Service.objects.bulk_create(created, batch_size=WRITE_BATCH)
        for service in created:
            self.change(ServiceChange.Kind.IMPORTED, service.upstream, service, field="rate", new_value=service.rate)
        return len(created)
