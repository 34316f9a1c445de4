"""Reads for the parent's staff: each child panel's figures through the parent, for a whole page
of panels at once.

A panel's business with the parent is its owner's: the orders the owner placed on the parent
(which is where a child's orders land) and the child-panel fees charged to the owner's parent
balance (ledger entries keyed `childpanel:<panel id>:...`). Both are read for every panel of a page
in one statement each, so a page of 100 panels costs what a page of 2 does.

These read the parent's tables: call them on the parent (`public`), as the backoffice does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import CharField, Count, F, Func, Q, Sum, Value

from accounts.models import LedgerEntry, User
from orders.models import Order
from orders.rollups import rollup_zone

ZERO = Decimal("0")
FEE_KEY_PREFIX = "childpanel:"


@dataclass(frozen=True)
class PanelFigures:
    owner: User | None
    orders: int
    revenue: Decimal  # charged minus refunded, over the owner's orders on the parent
    fees: Decimal  # child-panel fees paid (charges minus any fee refunds)


NO_FIGURES = PanelFigures(owner=None, orders=0, revenue=ZERO, fees=ZERO)


def fee_key_prefix(panel_id: int) -> str:
    """Every ledger entry of a panel's fees (charges, renewals, refunds of them) starts with this."""
    return f"{FEE_KEY_PREFIX}{panel_id}:"


def owners_order_totals(owner_ids: Iterable[int]) -> dict[int, tuple[int, Decimal]]:
    """{owner id: (orders, charged - refunded)} for the owners' orders on the parent.

    From the customer roll-ups plus the deltas not folded yet (orders.rollups, exact at any
    moment) where the trigger is installed; from the orders themselves otherwise.
    """
    ids = sorted({int(i) for i in owner_ids})
    if not ids:
        return {}
    if connection.vendor == "postgresql" and rollup_zone() is not None:
        # The same union orders.rollups.customer_totals reads for one customer, for many.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT user_id, coalesce(sum(orders), 0), coalesce(sum(charge), 0) - coalesce(sum(refunded), 0) "
                "FROM (SELECT user_id, orders, charge, refunded FROM orders_ordercustomertotals "
                "WHERE user_id = ANY(%s) UNION ALL SELECT user_id, orders, charge, refunded "
                "FROM orders_ordercustomerdelta WHERE user_id = ANY(%s)) AS t GROUP BY user_id",
                [ids, ids],
            )
            return {row[0]: (int(row[1]), row[2]) for row in cursor.fetchall()}
    rows = (
        Order.objects.filter(user_id__in=ids)
        .values("user_id")
        .annotate(n=Count("id"), charged=Sum("charge"), refunded=Sum("refunded"))
    )
    return {r["user_id"]: (r["n"], (r["charged"] or ZERO) - (r["refunded"] or ZERO)) for r in rows}


def panels_fees_paid(panel_ids: Iterable[int]) -> dict[int, Decimal]:
    """{panel id: fees paid} from the owners' ledger entries keyed `childpanel:<panel id>:...`.

    A charge is negative in the ledger, a refund of a fee positive: what the parent kept is
    minus their sum.
    """
    wanted = {str(int(i)) for i in panel_ids}
    if not wanted:
        return {}
    if connection.vendor != "postgresql":
        # SQLite has no split_part; there are no child panels there either.
        return {}
    part = Func(F("idempotency_key"), Value(":"), Value(2), function="split_part", output_field=CharField())
    rows = (
        LedgerEntry.objects.filter(idempotency_key__startswith=FEE_KEY_PREFIX)
        .annotate(panel=part)
        .filter(panel__in=wanted)
        .values("panel")
        .annotate(total=Sum("amount"))
    )
    return {int(r["panel"]): -(r["total"] or ZERO) for r in rows}


def panels_figures(panels: Iterable) -> dict[int, PanelFigures]:
    """{panel id: PanelFigures} for the given panels (tenants.Panel rows), in three queries
    whatever their number: the owners, their order totals, the fees."""
    panels = list(panels)
    owner_ids = {p.owner_id for p in panels if p.owner_id is not None}
    owners = User.objects.in_bulk(owner_ids) if owner_ids else {}
    totals = owners_order_totals(owner_ids)
    fees = panels_fees_paid(p.pk for p in panels)
    figures = {}
    for panel in panels:
        orders, revenue = totals.get(panel.owner_id, (0, ZERO))
        figures[panel.pk] = PanelFigures(
            owner=owners.get(panel.owner_id), orders=orders, revenue=revenue, fees=fees.get(panel.pk, ZERO)
        )
    return figures


def owner_ids_matching(term: str) -> list[int]:
    """IDs of the parent's customers whose username or email contains `term` (the list's search)."""
    term = term.strip()
    if not term:
        return []
    return list(
        User.objects.filter(Q(username__icontains=term) | Q(email__icontains=term)).values_list("pk", flat=True)[:500]
    )
