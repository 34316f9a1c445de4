"""Bulk service edit for staff: category, price rule, min/max and enabled for many services at
once, all or nothing, with an audit row per service changed."""

from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.services import audit_record

from .models import Category, Service
from .pricing import BelowCost
from .services import UNSET, ServiceRefused, _lock_for, service_save_price

# What a bulk edit may change, as its audit rows record it.
BULK_FIELDS = ("category_id", "rate", "fixed_rate", "markup_percent", "min", "max", "enabled")


def _snapshot(service: Service) -> dict:
    return {name: getattr(service, name) for name in BULK_FIELDS}


def services_bulk_edit(
    *,
    service_ids: Iterable[int],
    actor_id: int,
    category_id: int | None = None,
    markup_percent: Decimal | object | None = UNSET,
    fixed_rate: Decimal | object | None = UNSET,
    min_quantity: int | None = None,
    max_quantity: int | None = None,
    enabled: bool | None = None,
    reason: str = "",
) -> int:
    """Apply the same changes to every service in `service_ids`; returns how many changed.

    Arguments left at None (UNSET for the price rule) are not touched. A markup clears the fixed
    rate and a fixed rate the markup, as on the service's page; rates are recomputed by the
    pricing rules (service_save_price). Refused as a whole (ServiceRefused, nothing saved) when
    any service would end with min above max, be priced below cost (unless it is a loss-leader),
    or be enabled while its upstream service is gone."""
    ids = sorted({int(pk) for pk in service_ids})
    if category_id is not None and not Category.objects.filter(pk=category_id).exists():
        raise ServiceRefused("That category does not exist.")
    changed = 0
    with transaction.atomic():
        _lock_for(ids)
        services = (
            Service.objects.select_for_update(of=("self",))
            .select_related("category", "upstream__provider")
            .filter(pk__in=ids)
            .order_by("pk")
        )
        for service in services:
            before = _snapshot(service)
            if category_id is not None:
                service.category_id = category_id
            if markup_percent is not UNSET:
                service.markup_percent, service.fixed_rate = markup_percent, None
            if fixed_rate is not UNSET:
                service.fixed_rate, service.markup_percent = fixed_rate, None
            if min_quantity is not None:
                service.min = min_quantity
            if max_quantity is not None:
                service.max = max_quantity
            if enabled is not None:
                if enabled and not service.manual and not service.upstream.present:
                    raise ServiceRefused(f"Service {service.pk}: the provider no longer lists its upstream service.")
                service.enabled = enabled
            if service.min > service.max:
                raise ServiceRefused(f"Service {service.pk}: min {service.min} would be above max {service.max}.")
            try:
                service_save_price(service=service)
            except BelowCost as exc:
                raise ServiceRefused(f"Service {service.pk}: {exc}") from None
            except ValidationError as exc:
                raise ServiceRefused(f"Service {service.pk}: {'; '.join(exc.messages)}") from None
            after = _snapshot(service)
            if after != before:
                changed += 1
                audit_record(
                    actor_id=actor_id,
                    action="service.bulk_edit",
                    obj=service,
                    before={k: v for k, v in before.items() if after[k] != v},
                    after={k: v for k, v in after.items() if before[k] != v},
                    reason=reason,
                )
    return changed


def _plain(value):
    """A form or model value as the audit row stores it: model instances by pk, the rest as text
    unless JSON has a type for it."""
    if hasattr(value, "pk"):
        return value.pk
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def catalog_edit_audit(*, actor_id: int, obj, form, change: bool) -> None:
    """The audit row of a service or category saved on its admin page (call it in the save's
    transaction): the fields the form changed, before and after."""
    fields = form.changed_data if change else [name for name in form.cleaned_data if form.cleaned_data[name]]
    if change and not fields:
        return
    model = obj._meta.model_name
    audit_record(
        actor_id=actor_id,
        action=f"{model}.edit" if change else f"{model}.create",
        obj=obj,
        before={name: _plain(form.initial.get(name)) for name in fields} if change else {},
        after={name: _plain(form.cleaned_data.get(name)) for name in fields},
    )
