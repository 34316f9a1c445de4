"""A manual service for the tests of manual fulfilment (orders, the backoffice queue, the Admin API)."""

from decimal import Decimal


def make_manual_service(name="Manual followers", type_="Default", **fields):
    """A manual service on sale: no upstream, rate 2.00 per 1,000, cost 0.50, refill and cancel on."""
    from catalog.models import Category, Service

    category, _ = Category.objects.get_or_create(name=fields.pop("category", "Manual"))
    values = {
        "rate": Decimal("2.00000"),
        "manual_cost": Decimal("0.50000"),
        "min": 10,
        "max": 100_000,
        "refill": True,
        "cancel": True,
        **fields,
    }
    return Service.objects.create(category=category, upstream=None, manual=True, name=name, type=type_, **values)
