"""Writes to the catalog's prices: stored rates recomputed from the rules, the below-cost
guard, and per-customer prices.

`Service.rate` is stored so that every read (dashboard, API, order engine) costs one query;
these functions keep it equal to what the rules in `catalog.pricing` give. Sync (catalog.sync)
calls `service_rate` for each service it touches.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from upstream.models import Provider

from .languages import in_default_language
from .models import Category, CustomerPrice, PricingSettings, Service, ServiceChange
from .pricing import check_not_below_cost, list_rate, unit_cost

WRITE_BATCH = 1000
# What prices_recompute may change on a service.
PRICE_FIELDS = ["rate", "below_cost", "flagged", "flag_reason", "updated_at"]


@dataclass(frozen=True)
class Priced:
    rate: Decimal  # what to store as Service.rate
    below_cost: bool  # the rules gave less than cost and the rate was raised instead
    rule_rate: Decimal  # what the rules gave
    cost: Decimal


def _ceil(value: Decimal, pricing: PricingSettings) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-pricing.decimals), rounding=ROUND_UP).quantize(settings.MONEY_PLACES)


def service_rate(service: Service, pricing: PricingSettings) -> Priced:
    """The rate to store for a service whose category and upstream.provider are loaded.

    The rules' rate, unless it is below cost and the service is not a loss-leader: then a
    fixed rate gives way to the markup rules, and if those are below cost too, to the cost
    itself rounded up to the panel's decimals. Sync uses this, so it never stores a rate below
    cost; staff editing a service get `service_save_price`, which refuses instead.
    """
    rate = list_rate(service, pricing)
    cost = unit_cost(service)
    if service.allow_below_cost or rate >= cost:
        return Priced(rate, False, rate, cost)
    rule_rate = rate
    if service.fixed_rate is not None:
        by_markup = copy.copy(service)
        by_markup.fixed_rate = None
        rate = list_rate(by_markup, pricing)
    if rate < cost:
        rate = _ceil(cost, pricing)
    return Priced(rate, True, rule_rate, cost)


def flag_reason_add(current: str, reason: str) -> str:
    """Add a reason to a service's flag text, once, within the field's 255 characters."""
    parts = [part for part in current.split("; ") if part]
    if reason not in parts:
        parts.append(reason)
    return "; ".join(parts)[:255]


def apply_price(service: Service, pricing: PricingSettings, changes: list[ServiceChange], **change_fields) -> bool:
    """Set service.rate (and below_cost, flagged) from the rules; append ServiceChange rows
    for what moved. Returns whether the service changed. `change_fields` go on every change
    row (provider, sync_run, upstream_service)."""
    priced = service_rate(service, pricing)
    changed = False
    if priced.rate != service.rate:
        if service.pk:
            changes.append(
                ServiceChange(
                    service=service,
                    kind=ServiceChange.Kind.CHANGED,
                    field="rate",
                    old_value=str(service.rate),
                    new_value=str(priced.rate),
                    **change_fields,
                )
            )
        service.rate = priced.rate
        changed = True
    if priced.below_cost != service.below_cost:
        service.below_cost = priced.below_cost
        changed = True
        if priced.below_cost:
            service.flagged = True
            service.flag_reason = flag_reason_add(service.flag_reason, "below cost")
            changes.append(
                ServiceChange(
                    service=service,
                    kind=ServiceChange.Kind.BELOW_COST,
                    field="rate",
                    old_value=str(priced.rule_rate),
                    new_value=str(priced.rate),
                    **change_fields,
                )
            )
    return changed


@in_default_language
def category_for_name(name: str) -> Category:
    """The category of this name in the default language, created if there is none: what an
    import of upstream services files them under, whatever the staff member's language (in
    their language, a lookup by `name` would miss the category and creating it again break
    the unique name)."""
    category, _ = Category.objects.get_or_create(name=name.strip()[:255])
    return category


def lock_providers(provider_ids: Iterable[int]) -> None:
    """Take the providers' row locks, in ID order, for the rest of the transaction.

    Every write to services in this module and in sync takes the locks of the services'
    providers first. Sync reads a provider's services, works on them in memory and writes
    them back; the lock makes staff edits wait for it (and it for them) instead of one
    overwriting the other, and taking them in ID order keeps two writers from deadlocking.
    """
    ids = sorted({pk for pk in provider_ids if pk is not None})  # manual services have no provider
    if ids:
        list(Provider.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))


def services_write(services: list[Service], fields: list[str]) -> None:
    """Write `fields` of existing services in bulk: INSERT ... ON CONFLICT (id) DO UPDATE.

    bulk_update() builds a CASE expression per field and row, which takes seconds for a few
    thousand services; this is one statement per 1,000. It would re-create a row deleted
    meanwhile, so callers hold the providers' locks (see lock_providers), as deletion does.
    """
    Service.objects.bulk_create(
        services, update_conflicts=True, unique_fields=["id"], update_fields=fields, batch_size=WRITE_BATCH
    )


@transaction.atomic
def prices_recompute(*, service_ids: Iterable[int] | None = None) -> int:
    """Recompute the stored rate of the given services (all when None) from the rules.

    Call it after staff change a rule that is not stored on the service itself: a category's
    or provider's markup, the exchange rate, the panel default or rounding. Rates the rules
    would put below cost are raised and flagged, as in sync. A constant number of queries per
    1,000 services. Returns how many services changed.
    """
    services = Service.objects.select_related("category", "upstream__provider").order_by("pk")
    if service_ids is not None:
        service_ids = list(service_ids)
        if not service_ids:
            return 0
        services = services.filter(pk__in=service_ids)
    lock_providers(services.order_by().values_list("upstream__provider_id", flat=True).distinct())
    services = list(services)
    pricing = PricingSettings.load()
    now = timezone.now()
    dirty: list[Service] = []
    changes: list[ServiceChange] = []
    for service in services:
        # The change log is per provider: a manual service's repricing is not logged there.
        logged = [] if service.manual else changes
        if apply_price(service, pricing, logged, provider_id=None if service.manual else service.upstream.provider_id):
            service.updated_at = now
            dirty.append(service)
    for change in changes:
        change.upstream_service_id = change.service.upstream_id if change.service else None
    services_write(dirty, PRICE_FIELDS)
    ServiceChange.objects.bulk_create(changes, batch_size=WRITE_BATCH)
    return len(dirty)


def service_price_check(service: Service, pricing: PricingSettings | None = None) -> Decimal:
    """The rate the rules give this service; BelowCost when it is below cost and the service
    is not a loss-leader. The service's category and upstream need not be saved."""
    pricing = pricing or PricingSettings.load()
    rate = list_rate(service, pricing)
    check_not_below_cost(service, rate)
    return rate


@transaction.atomic
def service_save_price(*, service: Service) -> Service:
    """Save a service that staff created or edited, with its rate from the rules.

    Refuses (BelowCost, nothing saved) a fixed rate or markup that prices it below cost
    unless `allow_below_cost` is set: staff choose a loss-leader explicitly, sync never does.
    """
    lock_providers([] if service.manual else [service.upstream.provider_id])
    pricing = PricingSettings.load()
    old_rate = None
    if service.pk:
        old_rate = Service.objects.filter(pk=service.pk).values_list("rate", flat=True).first()
    service.rate = service_price_check(service, pricing)
    service.below_cost = False
    service.full_clean(exclude=["rate"])
    service.save()
    if old_rate is not None and old_rate != service.rate and not service.manual:
        ServiceChange.objects.create(
            provider_id=service.upstream.provider_id,
            upstream_service_id=service.upstream_id,
            service=service,
            kind=ServiceChange.Kind.CHANGED,
            field="rate",
            old_value=str(old_rate),
            new_value=str(service.rate),
        )
    return service


def _lock_for(service_ids: list[int]) -> None:
    lock_providers(
        Service.objects.filter(pk__in=service_ids).values_list("upstream__provider_id", flat=True).distinct()
    )


@transaction.atomic
def services_set_enabled(*, service_ids: Iterable[int], enabled: bool) -> tuple[int, int]:
    """Enable or disable services in bulk: (changed, skipped).

    A service whose upstream service is no longer listed cannot be enabled: orders for it
    would be refused upstream. Enabling does not clear the flag; `services_clear_flag` does.
    """
    service_ids = list(service_ids)
    _lock_for(service_ids)
    services = Service.objects.filter(pk__in=service_ids)
    skipped = 0
    if enabled:
        skipped = services.filter(manual=False, upstream__present=False).count()
        services = services.filter(Q(manual=True) | Q(upstream__present=True))
    changed = services.exclude(enabled=enabled).update(enabled=enabled, updated_at=timezone.now())
    return changed, skipped


@transaction.atomic
def services_clear_flag(*, service_ids: Iterable[int]) -> int:
    """Staff reviewed these services: clear their flag (a new problem sets it again)."""
    service_ids = list(service_ids)
    _lock_for(service_ids)
    return Service.objects.filter(pk__in=service_ids, flagged=True).update(
        flagged=False, flag_reason="", updated_at=timezone.now()
    )


@transaction.atomic
def services_delete(*, service_ids: Iterable[int]) -> int:
    """Delete services that were never ordered (orders protect theirs: disable those)."""
    service_ids = list(service_ids)
    _lock_for(service_ids)
    deleted, _ = Service.objects.filter(pk__in=service_ids).delete()
    return deleted


def customer_price_check(*, service: Service, rate: Decimal) -> None:
    """BelowCost when a customer's fixed rate is below cost and the service is no loss-leader."""
    if rate < 0:
        raise ValueError("A rate cannot be negative.")
    check_not_below_cost(service, rate)


@transaction.atomic
def customer_price_set(*, user_id: int, service_id: int, rate: Decimal) -> CustomerPrice:
    """Give one customer a fixed rate for one service (created or replaced).

    Refuses a rate below cost unless the service is a loss-leader. Should the cost later rise
    above it, the customer pays the cost (see pricing.customer_rate).
    """
    service = Service.objects.select_related("upstream__provider").get(pk=service_id)
    customer_price_check(service=service, rate=rate)
    price, _ = CustomerPrice.objects.update_or_create(user_id=user_id, service_id=service_id, defaults={"rate": rate})
    return price


@transaction.atomic
def customer_price_remove(*, user_id: int, service_id: int) -> bool:
    deleted, _ = CustomerPrice.objects.filter(user_id=user_id, service_id=service_id).delete()
    return bool(deleted)


def customer_price_change(*, user_id: int, service_id: int, rate: Decimal | None, actor_id: int | None) -> bool:
    """Set (rate) or remove (None) a customer's fixed price for one service, with its audit row.
    False: no change."""
    with transaction.atomic():
        old = (
            CustomerPrice.objects.filter(user_id=user_id, service_id=service_id).values_list("rate", flat=True).first()
        )
        if old == rate:
            return False
        if rate is None:
            customer_price_remove(user_id=user_id, service_id=service_id)
        else:
            customer_price_set(user_id=user_id, service_id=service_id, rate=rate)
        audit_record(
            actor_id=actor_id,
            action="customer.price",
            obj=User(pk=user_id),
            before={"service": service_id, "rate": old},
            after={"service": service_id, "rate": rate},
        )
    return True


UNSET: object = object()
# What service_update may change, in its audit row.
UPDATE_FIELDS = ("rate", "fixed_rate", "markup_percent", "manual_cost", "enabled")


class ServiceRefused(ValueError):
    """The change is not possible; the message is for staff."""


def service_update(
    *,
    service_id: int,
    actor_id: int | None,
    fixed_rate: Decimal | object | None = UNSET,
    markup_percent: Decimal | object | None = UNSET,
    manual_cost: Decimal | None = None,
    enabled: bool | None = None,
) -> Service:
    """Change a service's price rule (a fixed rate, its markup, a manual service's cost) or switch
    it on or off, with its audit row; the stored rate follows the rules (service_save_price, which
    refuses a price below cost unless the service is a loss-leader: BelowCost). A service whose
    upstream service is gone cannot be enabled."""
    with transaction.atomic():
        _lock_for([service_id])
        service = (
            Service.objects.select_for_update(of=("self",))
            .select_related("category", "upstream__provider")
            .get(pk=service_id)
        )
        before = {name: getattr(service, name) for name in UPDATE_FIELDS}
        if fixed_rate is not UNSET:
            service.fixed_rate = fixed_rate
        if markup_percent is not UNSET:
            service.markup_percent = markup_percent
        if manual_cost is not None:
            if not service.manual:
                raise ServiceRefused("Only a manual service has a cost of its own; the others follow their provider.")
            service.manual_cost = manual_cost
        if enabled is not None:
            if enabled and not service.manual and not service.upstream.present:
                raise ServiceRefused("The provider no longer lists this upstream service.")
            service.enabled = enabled
        service_save_price(service=service)
        after = {name: getattr(service, name) for name in UPDATE_FIELDS}
        if after != before:
            audit_record(actor_id=actor_id, action="service.update", obj=service, before=before, after=after)
    return service
