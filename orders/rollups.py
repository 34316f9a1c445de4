"""Daily roll-ups of orders: the report figures (orders, revenue, cost) per day, provider and
service, kept current by the database so no page has to read every order.

Every change to an order that moves a figure (a placement, a refund, a status or cost the poll
wrote, a staff decision, a move to another provider) reaches the roll-ups, whichever code made
it: on PostgreSQL a statement-level trigger on the orders table (with its transition tables)
appends the statement's difference, grouped by day, provider and service, to OrderDailyDelta in
the same transaction. Appending never waits on another transaction, so placements do not queue
on a hot "today" row. The sweeper folds the deltas into OrderDaily every minute (rollup_fold), and
reads add the deltas not folded yet, in the same statement, so a figure is exact at any moment.

The same trigger keeps each customer's totals for their dashboard (OrderCustomerTotals: orders,
active orders, charges, refunds) the same way, through OrderCustomerDelta.

The day is the order's creation date in the panel's time zone, as the reports count it; the
trigger has that zone built in and records it (rollup_zone). If TIME_ZONE changes, the figures are
read from the orders (exact, slower) until `manage.py rollups_rebuild` rebuilds them. The SQLite
demo has no trigger and reads the orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction

FUNCTION = "orders_daily_delta"
# The per-order figures, as orders.selectors.REVENUE and COST compute them for the reports.
REVENUE_SQL = "(r.charge - r.refunded)"
COST_SQL = (
    "CASE WHEN r.status = 'Canceled' THEN 0 WHEN r.cost_actual IS NOT NULL THEN r.cost_actual "
    "WHEN r.status = 'Partial' THEN ((r.cost_expected * ((r.quantity * COALESCE(r.runs, 1)) "
    "- COALESCE(r.remains, 0))) / (r.quantity * COALESCE(r.runs, 1))) ELSE r.cost_expected END"
)
# Serialises folds (a second sweeper waits, then finds nothing left to fold).
FOLD_LOCK = 2_020_0520


def _quote(zone: str) -> str:
    return "'" + zone.replace("'", "''") + "'"


# Built from constants; the zone is a known time zone name (settings refuse others), quoted.
def _rows(table: str, sign: str, zone: str) -> str:
    return (
        f"SELECT (r.created_at AT TIME ZONE {_quote(zone)})::date AS day, "  # noqa: S608
        "COALESCE(r.provider_id, 0) AS provider_id, "
        f"r.service_id, {sign}1 AS n, {sign}{REVENUE_SQL} AS revenue, {sign}({COST_SQL}) AS cost FROM {table} AS r"
    )


def _delta_insert(sources: list[str]) -> str:
    union = " UNION ALL ".join(sources)
    return (
        "INSERT INTO orders_orderdailydelta (day, provider_id, service_id, orders, revenue, cost) "  # noqa: S608
        "SELECT day, provider_id, service_id, sum(n), sum(revenue), sum(cost) "
        f"FROM ({union}) AS d GROUP BY day, provider_id, service_id "
        "HAVING sum(n) <> 0 OR sum(revenue) <> 0 OR sum(cost) <> 0;"
    )


ACTIVE_SQL = "CASE WHEN r.status IN ('Pending', 'In progress', 'Processing') THEN 1 ELSE 0 END"


def _customer_rows(table: str, sign: str) -> str:
    return (
        f"SELECT r.user_id, {sign}1 AS n, {sign}{ACTIVE_SQL} AS active, "  # noqa: S608
        f"{sign}r.charge AS charge, {sign}r.refunded AS refunded FROM {table} AS r"
    )


def _customer_delta_insert(sources: list[str]) -> str:
    union = " UNION ALL ".join(sources)
    return (
        "INSERT INTO orders_ordercustomerdelta (user_id, orders, active, charge, refunded) "  # noqa: S608
        "SELECT user_id, sum(n), sum(active), sum(charge), sum(refunded) "
        f"FROM ({union}) AS d GROUP BY user_id "
        "HAVING sum(n) <> 0 OR sum(active) <> 0 OR sum(charge) <> 0 OR sum(refunded) <> 0;"
    )


def install_sql(zone: str) -> list[str]:
    """The trigger function (for this time zone) and the three statement triggers."""
    inserted = _delta_insert([_rows("new_rows", "", zone)]) + _customer_delta_insert([_customer_rows("new_rows", "")])
    updated = _delta_insert([_rows("new_rows", "", zone), _rows("old_rows", "-", zone)]) + _customer_delta_insert(
        [_customer_rows("new_rows", ""), _customer_rows("old_rows", "-")]
    )
    deleted = _delta_insert([_rows("old_rows", "-", zone)]) + _customer_delta_insert([_customer_rows("old_rows", "-")])
    body = (
        f"BEGIN IF TG_OP = 'INSERT' THEN {inserted} ELSIF TG_OP = 'UPDATE' THEN {updated} ELSE {deleted} END IF; "
        "RETURN NULL; END"
    )
    return [
        f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $fn$ {body} $fn$",
        f"COMMENT ON FUNCTION {FUNCTION}() IS {_quote('zone=' + zone)}",
        "DROP TRIGGER IF EXISTS orders_daily_insert ON orders_order",
        "DROP TRIGGER IF EXISTS orders_daily_update ON orders_order",
        "DROP TRIGGER IF EXISTS orders_daily_delete ON orders_order",
        "CREATE TRIGGER orders_daily_insert AFTER INSERT ON orders_order REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()",
        "CREATE TRIGGER orders_daily_update AFTER UPDATE ON orders_order "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()",
        "CREATE TRIGGER orders_daily_delete AFTER DELETE ON orders_order REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()",
    ]


def uninstall_sql() -> list[str]:
    return [
        "DROP TRIGGER IF EXISTS orders_daily_insert ON orders_order",
        "DROP TRIGGER IF EXISTS orders_daily_update ON orders_order",
        "DROP TRIGGER IF EXISTS orders_daily_delete ON orders_order",
        f"DROP FUNCTION IF EXISTS {FUNCTION}()",
    ]


def backfill_sql(zone: str) -> str:
    return (
        "INSERT INTO orders_orderdaily (day, provider_id, service_id, orders, revenue, cost) "  # noqa: S608
        "SELECT day, provider_id, service_id, sum(n), sum(revenue), sum(cost) "
        f"FROM ({_rows('orders_order', '', zone)}) AS d GROUP BY day, provider_id, service_id"
    )


def customer_backfill_sql() -> str:
    return (
        "INSERT INTO orders_ordercustomertotals (user_id, orders, active, charge, refunded) "  # noqa: S608
        "SELECT user_id, sum(n), sum(active), sum(charge), sum(refunded) "
        f"FROM ({_customer_rows('orders_order', '')}) AS d GROUP BY user_id"
    )


def rollup_zone() -> str | None:
    """The time zone the installed trigger counts days in; None without one (SQLite, or not
    installed)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT obj_description(oid, 'pg_proc') FROM pg_proc WHERE proname = %s", [FUNCTION])
        row = cursor.fetchone()
    if not row or not row[0] or not row[0].startswith("zone="):
        return None
    return row[0][5:]


def rollups_usable() -> bool:
    """True when the roll-ups count days as the reports do (same time zone, PostgreSQL)."""
    return rollup_zone() == settings.TIME_ZONE


@transaction.atomic
def rollup_rebuild() -> None:
    """Recount every roll-up from the orders, in the current TIME_ZONE (one read of all orders;
    writes to orders wait meanwhile, so no change is counted twice or missed)."""
    zone = settings.TIME_ZONE
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLE orders_order IN SHARE MODE")
        for statement in install_sql(zone):
            cursor.execute(statement)
        cursor.execute(
            "TRUNCATE orders_orderdaily, orders_orderdailydelta, orders_ordercustomertotals, orders_ordercustomerdelta"
        )
        cursor.execute(backfill_sql(zone))
        cursor.execute(customer_backfill_sql())


def rollup_fold() -> int:
    """Fold the deltas into the roll-ups; returns how many were folded. Safe to run twice and
    concurrently: each delta row is deleted (and so added) by exactly one fold."""
    if connection.vendor != "postgresql":
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FOLD_LOCK])
        cursor.execute(
            "WITH moved AS (DELETE FROM orders_orderdailydelta "
            "RETURNING day, provider_id, service_id, orders, revenue, cost), "
            "summed AS (SELECT day, provider_id, service_id, sum(orders) AS orders, sum(revenue) AS revenue, "
            "sum(cost) AS cost, count(*) AS n FROM moved GROUP BY day, provider_id, service_id), "
            "written AS (INSERT INTO orders_orderdaily (day, provider_id, service_id, orders, revenue, cost) "
            "SELECT day, provider_id, service_id, orders, revenue, cost FROM summed "
            "ORDER BY day, provider_id, service_id "
            "ON CONFLICT (day, provider_id, service_id) DO UPDATE SET "
            "orders = orders_orderdaily.orders + EXCLUDED.orders, "
            "revenue = orders_orderdaily.revenue + EXCLUDED.revenue, "
            "cost = orders_orderdaily.cost + EXCLUDED.cost RETURNING 1) "
            "SELECT coalesce(sum(n), 0) FROM summed"
        )
        folded = int(cursor.fetchone()[0])
        cursor.execute(
            "WITH moved AS (DELETE FROM orders_ordercustomerdelta "
            "RETURNING user_id, orders, active, charge, refunded), "
            "summed AS (SELECT user_id, sum(orders) AS orders, sum(active) AS active, sum(charge) AS charge, "
            "sum(refunded) AS refunded, count(*) AS n FROM moved GROUP BY user_id), "
            "written AS (INSERT INTO orders_ordercustomertotals (user_id, orders, active, charge, refunded) "
            "SELECT user_id, orders, active, charge, refunded FROM summed ORDER BY user_id "
            "ON CONFLICT (user_id) DO UPDATE SET "
            "orders = orders_ordercustomertotals.orders + EXCLUDED.orders, "
            "active = orders_ordercustomertotals.active + EXCLUDED.active, "
            "charge = orders_ordercustomertotals.charge + EXCLUDED.charge, "
            "refunded = orders_ordercustomertotals.refunded + EXCLUDED.refunded RETURNING 1) "
            "SELECT coalesce(sum(n), 0) FROM summed"
        )
        return folded + int(cursor.fetchone()[0])


@dataclass(frozen=True)
class Figures:
    key: object  # a date, a provider ID (0: manual) or a service ID; None for a total
    orders: int
    revenue: Decimal
    cost: Decimal


GROUPS = {"day": "day", "provider": "provider_id", "service": "service_id", None: None}


def rollup_figures(start: date, end: date, by: str | None) -> list[Figures]:
    """Orders, revenue and cost of the orders placed from `start` to `end` (days in the panel's
    time zone), per day, provider or service, or in total (by=None): the roll-ups plus the deltas
    not folded yet, read in one statement (one snapshot, so a fold meanwhile cannot count twice)."""
    column = GROUPS[by]
    group = f" GROUP BY {column}" if column else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column or 'NULL'}, sum(orders), sum(revenue), sum(cost) FROM ("  # noqa: S608 (fixed columns)
            "SELECT day, provider_id, service_id, orders, revenue, cost FROM orders_orderdaily "
            "WHERE day BETWEEN %s AND %s UNION ALL "
            "SELECT day, provider_id, service_id, orders, revenue, cost FROM orders_orderdailydelta "
            f"WHERE day BETWEEN %s AND %s) AS f{group} HAVING sum(orders) <> 0",
            [start, end, start, end],
        )
        return [Figures(row[0], int(row[1]), row[2], row[3]) for row in cursor.fetchall()]


@dataclass(frozen=True)
class CustomerTotals:
    orders: int
    active: int
    charge: Decimal
    refunded: Decimal


def customer_totals(user_id: int) -> CustomerTotals:
    """A customer's orders, active orders, charges and refunds: from the roll-up plus its deltas
    not folded yet (one statement) on PostgreSQL, else summed from the orders."""
    if connection.vendor != "postgresql" or rollup_zone() is None:
        from django.db.models import Count, Q, Sum

        from .models import ACTIVE_STATUSES, Order

        row = Order.objects.filter(user_id=user_id).aggregate(
            n=Count("id"), active=Count("id", filter=Q(status__in=ACTIVE_STATUSES)), c=Sum("charge"), r=Sum("refunded")
        )
        return CustomerTotals(row["n"], row["active"], row["c"] or Decimal("0"), row["r"] or Decimal("0"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(orders), 0), coalesce(sum(active), 0), coalesce(sum(charge), 0), "
            "coalesce(sum(refunded), 0) FROM (SELECT orders, active, charge, refunded FROM orders_ordercustomertotals "
            "WHERE user_id = %s UNION ALL SELECT orders, active, charge, refunded FROM orders_ordercustomerdelta "
            "WHERE user_id = %s) AS t",
            [user_id, user_id],
        )
        orders, active, charge, refunded = cursor.fetchone()
    return CustomerTotals(int(orders), int(active), charge, refunded)
