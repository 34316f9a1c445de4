"""Reads of the catalog for customers, staff pages and the downstream API."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from .models import Service
from .pricing import custom_rates_for, customer_rate


@dataclass(frozen=True)
class CatalogEntry:
    """One service as a customer sees it: our ID, name and price, never the provider's."""

    service: int  # our service ID
    name: str
    type: str  # one of catalog.models.ServiceType
    category: str  # our category's name
    category_id: int
    rate: Decimal  # what this customer pays per 1,000 (per package for Package types)
    list_rate: Decimal  # our rate before the customer's discount or fixed price
    min: int
    max: int
    refill: bool
    cancel: bool
    dripfeed: bool
    description: str


def sellable_services() -> QuerySet[Service]:
    """Services customers may see and order: enabled, in a visible category, from an enabled
    provider; ordered as the catalog shows them (category position, service position, ID).
    The upstream service and provider are joined, as pricing needs them."""
    return (
        Service.objects.sellable()
        .select_related("category", "upstream__provider")
        .order_by("category__position", "category__name", "position", "id")
    )


def catalog_for_customer(user) -> list[CatalogEntry]:
    """The catalog as `user` sees it, with the user's own rates, in two queries.

    Returns a list of CatalogEntry, in catalog order (categories by position then name,
    services by position then ID). `rate` is what this customer pays: their fixed price for
    the service if staff set one, else our rate less their discount, never below cost unless
    the service is a loss-leader (catalog.pricing.customer_rate). `user` may be None or
    anonymous: everyone then sees our list rates. Only our IDs, names and rates appear; the
    provider and its IDs never do.

    For the downstream API's `services` action, each entry maps to
    {"service": entry.service, "name": entry.name, "type": entry.type,
     "category": entry.category, "rate": entry.rate, "min": entry.min, "max": entry.max,
     "refill": entry.refill, "cancel": entry.cancel, "dripfeed": entry.dripfeed}.
    """
    custom = custom_rates_for(user)
    return [_entry(service, customer_rate(service, user, custom)) for service in sellable_services()]


def service_for_customer(user, service_id: int) -> CatalogEntry | None:
    """One sellable service as `user` sees it, or None when it does not exist or is not for
    sale (disabled, hidden category, disabled provider). Two queries."""
    service = sellable_services().filter(pk=service_id).first()
    if service is None:
        return None
    return _entry(service, customer_rate(service, user))


def _entry(service: Service, rate: Decimal) -> CatalogEntry:
    return CatalogEntry(
        service=service.pk,
        name=service.name,
        type=service.type,
        category=service.category.name,
        category_id=service.category_id,
        rate=rate,
        list_rate=service.rate,
        min=service.min,
        max=service.max,
        refill=service.refill,
        cancel=service.cancel,
        dripfeed=service.dripfeed,
        description=service.description,
    )


def flagged_services() -> QuerySet[Service]:
    """Services staff should look at, most recently changed first."""
    return Service.objects.filter(flagged=True).select_related("category", "upstream__provider").order_by("-updated_at")
