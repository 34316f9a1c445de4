"""Reads of the catalog for customers, staff pages and the downstream API."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, Q, QuerySet, TextField, Value
from django.db.models.functions import Coalesce, NullIf

from .models import Service
from .pricing import custom_rates_for, customer_rate
from .translation import column, reading_order


@dataclass(frozen=True)
class CatalogEntry:
    """One service as a customer sees it: our ID, name and price, never the provider's. The
    texts are in the language active when it was built (falling back to the default's)."""

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
    provider; ordered as the catalog shows them (category position, category name, service
    position, ID). The upstream service and provider are joined, as pricing needs them.

    Names are read in the active language (`service.name`, `service.category.name`, falling back
    to the default language's); the order is the same in every language (categories of one
    position by their default-language name), so switching language moves nothing."""
    return (
        Service.objects.sellable()
        .select_related("category", "upstream__provider")
        .order_by("category__position", f"category__{column('name')}", "position", "id")
    )


def text_matches(text: str, path: str = "name") -> Q:
    """A filter for rows whose `path` (a translated field, e.g. "name" or "category__name")
    contains `text` in the reader's language or in the default language, the two texts a
    customer may see or paste. modeltranslation's own `filter(name__icontains=...)` reads the
    active language's column only, missing every service not translated yet."""
    prefix, _, field = path.rpartition("__")
    prefix = f"{prefix}__" if prefix else ""
    match = Q()
    for language in reading_order():
        match |= Q(**{f"{prefix}{column(field, language)}__icontains": text})
    return match


def translated_text(path: str):
    """An expression for `path` (e.g. "service__name" on orders) in the reader's language,
    falling back to the default language's: for `.values()` and `.values_list()` across a
    relation, which modeltranslation does not translate (it reads the default language's)."""
    prefix, _, field = path.rpartition("__")
    prefix = f"{prefix}__" if prefix else ""
    columns = [F(f"{prefix}{column(field, language)}") for language in reading_order()]
    chosen = [NullIf(col, Value("")) for col in columns[:-1]]
    # Each language's column is a field class of its own: say what comes out.
    return Coalesce(*chosen, columns[-1], Value(""), output_field=TextField())


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
