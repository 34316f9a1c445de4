"""Money as the protocol shows it: Decimal with 5 decimal places ("0.27819")."""

from collections import defaultdict
from collections.abc import Hashable
from decimal import Decimal

from django.db import connections
from django.db.models import QuerySet, Sum

# Keyword arguments of every money DecimalField (balances, charges, costs, rates).
MONEY = {"max_digits": 18, "decimal_places": 5}


def sums_in_sql(queryset: QuerySet) -> bool:
    """Whether the database adds money exactly. PostgreSQL sums numerics; SQLite (the demo)
    stores decimals with float affinity, so its SUM() adds floats and drifts in the last places."""
    return connections[queryset.db].vendor == "postgresql"


def exact_total(queryset: QuerySet, field: str) -> Decimal:
    """The sum of one money column over a queryset, exact on every database."""
    if sums_in_sql(queryset):
        return queryset.aggregate(total=Sum(field))["total"] or Decimal("0")
    # Each value reads back exact at 5 places; only the adding must happen here.
    return sum(queryset.values_list(field, flat=True).iterator(), Decimal("0"))


def exact_totals_by(queryset: QuerySet, key: str, field: str) -> dict[Hashable, Decimal]:
    """Sums of one money column grouped by `key`, exact on every database."""
    if sums_in_sql(queryset):
        rows = queryset.order_by().values_list(key).annotate(total=Sum(field)).values_list(key, "total")
        return dict(rows.iterator())
    totals: dict[Hashable, Decimal] = defaultdict(Decimal)
    for group, amount in queryset.values_list(key, field).iterator():
        totals[group] += amount
    return dict(totals)
