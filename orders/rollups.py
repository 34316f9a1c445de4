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
active orders, charges, refunds) the same way, through OrderCustomerDelta, and each customer's
running totals at the end of every month (OrderCustomerMonth, through OrderCustomerMonthDelta) for
the report by customer: a period's figures per customer are the running totals at its end minus
those before its start, two months' rows whatever the period's length, with the days of a month
cut by the period read from the orders (customer_figures).

The day is the order's creation date in the panel's time zone, as the reports count it; the
trigger has that zone built in and records it (rollup_zone). If TIME_ZONE changes, the figures are
read from the orders (exact, slower) until `manage.py rollups_rebuild` rebuilds them. The SQLite
demo has no trigger and reads the orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
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


def _grouped_insert(table: str, keys: str, sums: tuple[tuple[str, str], ...], sources: list[str]) -> str:
    """INSERT into a delta table the sources' rows summed per key (`sums`: (column, source's
    column) pairs); a group whose sums are all zero is left out."""
    union = " UNION ALL ".join(sources)
    columns = ", ".join(column for column, _ in sums)
    totals = ", ".join(f"sum({source})" for _, source in sums)
    nonzero = " OR ".join(f"sum({source}) <> 0" for _, source in sums)
    return (
        f"INSERT INTO {table} ({keys}, {columns}) "  # noqa: S608
        f"SELECT {keys}, {totals} FROM ({union}) AS d GROUP BY {keys} HAVING {nonzero};"
    )


FIGURES = (("orders", "n"), ("revenue", "revenue"), ("cost", "cost"))


def _delta_insert(sources: list[str]) -> str:
    return _grouped_insert("orders_orderdailydelta", "day, provider_id, service_id", FIGURES, sources)


ACTIVE_SQL = "CASE WHEN r.status IN ('Pending', 'In progress', 'Processing') THEN 1 ELSE 0 END"


def _customer_rows(table: str, sign: str) -> str:
    return (
        f"SELECT r.user_id, {sign}1 AS n, {sign}{ACTIVE_SQL} AS active, "  # noqa: S608
        f"{sign}r.charge AS charge, {sign}r.refunded AS refunded FROM {table} AS r"
    )


def _customer_delta_insert(sources: list[str]) -> str:
    totals = (("orders", "n"), ("active", "active"), ("charge", "charge"), ("refunded", "refunded"))
    return _grouped_insert("orders_ordercustomerdelta", "user_id", totals, sources)


def _month_rows(table: str, sign: str, zone: str) -> str:
    return (
        f"SELECT r.user_id, date_trunc('month', r.created_at AT TIME ZONE {_quote(zone)})::date AS month, "  # noqa: S608
        f"{sign}1 AS n, {sign}{REVENUE_SQL} AS revenue, {sign}({COST_SQL}) AS cost FROM {table} AS r"
    )


def _month_delta_insert(sources: list[str]) -> str:
    return _grouped_insert("orders_ordercustomermonthdelta", "user_id, month", FIGURES, sources)


def install_sql(zone: str, customer_months: bool = True) -> list[str]:
    """The trigger function (for this time zone) and the three statement triggers; without the
    customers' months when `customer_months` is False (what orders/0008 undoes to)."""
    inserted = _delta_insert([_rows("new_rows", "", zone)]) + _customer_delta_insert([_customer_rows("new_rows", "")])
    updated = _delta_insert([_rows("new_rows", "", zone), _rows("old_rows", "-", zone)]) + _customer_delta_insert(
        [_customer_rows("new_rows", ""), _customer_rows("old_rows", "-")]
    )
    deleted = _delta_insert([_rows("old_rows", "-", zone)]) + _customer_delta_insert([_customer_rows("old_rows", "-")])
    if customer_months:
        inserted += _month_delta_insert([_month_rows("new_rows", "", zone)])
        updated += _month_delta_insert([_month_rows("new_rows", "", zone), _month_rows("old_rows", "-", zone)])
        deleted += _month_delta_insert([_month_rows("old_rows", "-", zone)])
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


def customer_month_backfill_sql(zone: str) -> str:
    """Every customer's running totals at the end of each month from their first order's to their
    last's, written month by month (a month's rows lie together for the reads)."""
    return (
        f"WITH m AS (SELECT user_id, month, sum(n) AS orders, sum(revenue) AS revenue, sum(cost) AS cost "  # noqa: S608
        f"FROM ({_month_rows('orders_order', '', zone)}) AS d GROUP BY user_id, month), "
        "span AS (SELECT user_id, min(month) AS first, max(month) AS last FROM m GROUP BY user_id), "
        "months AS (SELECT s.user_id, g::date AS month, g::date = s.last AS latest FROM span AS s "
        "CROSS JOIN LATERAL generate_series(s.first::timestamp, s.last::timestamp, interval '1 month') AS g), "
        "running AS (SELECT x.user_id, x.month, x.latest, sum(coalesce(m.orders, 0)) OVER w AS orders, "
        "sum(coalesce(m.revenue, 0)) OVER w AS revenue, sum(coalesce(m.cost, 0)) OVER w AS cost "
        "FROM months AS x LEFT JOIN m ON m.user_id = x.user_id AND m.month = x.month "
        "WINDOW w AS (PARTITION BY x.user_id ORDER BY x.month)) "
        "INSERT INTO orders_ordercustomermonth (user_id, month, orders, revenue, cost, latest) "
        "SELECT user_id, month, orders, revenue, cost, latest FROM running ORDER BY month, user_id"
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
            "TRUNCATE orders_orderdaily, orders_orderdailydelta, orders_ordercustomertotals, "
            "orders_ordercustomerdelta, orders_ordercustomermonth, orders_ordercustomermonthdelta"
        )
        cursor.execute(backfill_sql(zone))
        cursor.execute(customer_backfill_sql())
        cursor.execute(customer_month_backfill_sql(zone))


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
        folded += int(cursor.fetchone()[0])
        cursor.execute(MONTH_FOLD_SQL)
        return folded + int(cursor.fetchone()[0])


# Folds the customers' month deltas into their running totals. For each customer with deltas, every
# month from the earlier of (their first delta's month, their last row's) to the later of (their
# last delta's, their last row's) is rewritten: its old running total (its row; past their last row,
# the last row's; before their first, nothing) plus their deltas up to that month. So a customer's
# rows stay one a month with no gap, and `latest` moves to the new last month. The rows read are
# those customers' own, found through their (user_id, month) key.
MONTH_FOLD_SQL = (
    "WITH moved AS (DELETE FROM orders_ordercustomermonthdelta RETURNING user_id, month, orders, revenue, cost), "
    "summed AS (SELECT user_id, month, sum(orders) AS orders, sum(revenue) AS revenue, sum(cost) AS cost, "
    "count(*) AS n FROM moved GROUP BY user_id, month), "
    "touched AS (SELECT user_id, min(month) AS lo, max(month) AS hi FROM summed GROUP BY user_id), "
    "last AS (SELECT t.user_id, l.month, l.orders, l.revenue, l.cost FROM touched AS t CROSS JOIN LATERAL ("
    "SELECT month, orders, revenue, cost FROM orders_ordercustomermonth AS p WHERE p.user_id = t.user_id "
    "ORDER BY month DESC LIMIT 1) AS l), "
    "old AS (SELECT p.user_id, p.month, p.orders, p.revenue, p.cost FROM touched AS t "
    "JOIN orders_ordercustomermonth AS p ON p.user_id = t.user_id AND p.month >= t.lo), "
    "span AS (SELECT t.user_id, g::date AS month, g::date = greatest(t.hi, coalesce(l.month, t.hi)) AS latest "
    "FROM touched AS t LEFT JOIN last AS l ON l.user_id = t.user_id CROSS JOIN LATERAL generate_series("
    "least(t.lo, coalesce(l.month, t.lo))::timestamp, greatest(t.hi, coalesce(l.month, t.hi))::timestamp, "
    "interval '1 month') AS g), "
    "running AS (SELECT s.user_id, s.month, s.latest, "
    "CASE WHEN p.user_id IS NOT NULL THEN p.orders WHEN l.month <= s.month THEN l.orders ELSE 0 END "
    "+ sum(coalesce(d.orders, 0)) OVER w AS orders, "
    "CASE WHEN p.user_id IS NOT NULL THEN p.revenue WHEN l.month <= s.month THEN l.revenue ELSE 0 END "
    "+ sum(coalesce(d.revenue, 0)) OVER w AS revenue, "
    "CASE WHEN p.user_id IS NOT NULL THEN p.cost WHEN l.month <= s.month THEN l.cost ELSE 0 END "
    "+ sum(coalesce(d.cost, 0)) OVER w AS cost "
    "FROM span AS s LEFT JOIN old AS p ON p.user_id = s.user_id AND p.month = s.month "
    "LEFT JOIN last AS l ON l.user_id = s.user_id "
    "LEFT JOIN summed AS d ON d.user_id = s.user_id AND d.month = s.month "
    "WINDOW w AS (PARTITION BY s.user_id ORDER BY s.month)), "
    "written AS (INSERT INTO orders_ordercustomermonth (user_id, month, orders, revenue, cost, latest) "
    "SELECT user_id, month, orders, revenue, cost, latest FROM running ORDER BY user_id, month "
    "ON CONFLICT (user_id, month) DO UPDATE SET orders = EXCLUDED.orders, revenue = EXCLUDED.revenue, "
    "cost = EXCLUDED.cost, latest = EXCLUDED.latest RETURNING 1) "
    "SELECT coalesce(sum(n), 0) FROM summed"
)


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


# --- Per customer: running totals at each month's end --------------------------------------------


@dataclass(frozen=True)
class CustomerPlan:
    """How customer_figures reads a period: the running totals at the end of month `through` minus
    those at the end of month `before` (neither: none), plus or minus the orders of a few days,
    each (sign, first day, last day)."""

    before: date | None
    through: date | None
    days: tuple[tuple[int, date, date], ...]


def _month_end(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)


# Reading two months' running totals costs about what a week of orders does (a row per customer
# who ordered since the earlier month); shorter periods read their orders.
MONTHS_AS_DAYS = 7


def customer_plan(start: date, end: date, today: date) -> CustomerPlan:
    """The cheapest exact way to read `start`-`end`: everything up to `end` less everything up to
    the day before `start`. Everything up to a day x is the running totals at the end of x's month
    less the orders of that month after x, or those at the end of the month before plus the orders
    of x's month up to x: whichever has fewer days to read (days after `today` are free: they hold
    no orders, though they are still read so an order dated ahead by a skewed clock is not
    missed). When the two months' rows would cost more than reading the period's orders (a week
    or so), the period's orders are read instead."""

    def cost(first: date, last: date) -> int:
        return max((min(last, today) - first).days + 1, 0)

    def upto(x: date) -> tuple[date, tuple[int, date, date] | None, int]:
        month = x.replace(day=1)
        month_end = _month_end(month)
        before = ((month - timedelta(days=1)).replace(day=1), (1, month, x), cost(month, x))
        if x == month_end:
            return month, None, 0
        after = (month, (-1, x + timedelta(days=1), month_end), cost(x + timedelta(days=1), month_end))
        return after if after[2] <= before[2] else before

    through, last, last_days = upto(end)
    before, first, first_days = upto(start - timedelta(days=1))
    if before >= through or last_days + first_days + MONTHS_AS_DAYS >= cost(start, end):
        return CustomerPlan(None, None, ((1, start, end),))
    days = [last] if last else []
    if first:
        days.append((-first[0], first[1], first[2]))
    return CustomerPlan(before, through, tuple(days))


@dataclass(frozen=True)
class CustomerFigures:
    user_id: int
    username: str
    orders: int
    revenue: Decimal
    cost: Decimal  # unrounded, like the per-order figure it sums
    profit: Decimal  # revenue - cost, unrounded


def customer_figures(start: date, end: date, limit: int | None = None) -> tuple[list[CustomerFigures], int]:
    """Orders, revenue and cost per customer of the orders placed from `start` to `end` (days in
    the panel's time zone): the `limit` customers with the most revenue (all without one; then by
    ID) and how many customers placed orders in the period. One statement (one snapshot): the
    running totals, the deltas not folded yet and the orders of the days the plan reads. Rows are
    summed per customer first; usernames are read for the rows returned only."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    zone = _quote(settings.TIME_ZONE)
    plan = customer_plan(start, end, timezone.localdate())
    terms, params = [], []
    for sign, first, last in plan.days:
        # The day as the trigger counts it. The bounds only let the index on created_at find the
        # candidates: six hours wider than the days, as a midnight PostgreSQL reads in the zone can
        # be up to a clock change away from the day's first moment (in Havana 1 November 2026
        # began an hour before the midnight it reads; the largest such change we know of since 1970
        # is Antarctica/Casey's three hours).
        sign = "" if sign > 0 else "-"
        terms.append(
            f"SELECT r.user_id, {sign}1 AS orders, {sign}{REVENUE_SQL} AS revenue, {sign}({COST_SQL}) AS cost "  # noqa: S608
            f"FROM orders_order AS r WHERE r.created_at >= (%s::timestamp AT TIME ZONE {zone}) - interval '6 hours' "
            f"AND r.created_at < (%s::timestamp AT TIME ZONE {zone}) + interval '30 hours' "
            f"AND (r.created_at AT TIME ZONE {zone})::date BETWEEN %s AND %s"
        )
        params += [first, last, first, last]
    days = " UNION ALL ".join(terms)
    # The running totals' cost (a long numeric) costs a fifth of the time when carried through the
    # joins for every customer: for a page it is looked up for the rows returned only.
    shown_only = plan.through is not None and limit is not None
    cost, lookups = "f.cost", ""
    if plan.through is None:
        summed = (
            "SELECT user_id, sum(orders)::bigint AS orders, sum(revenue) AS revenue, sum(cost) AS cost "  # noqa: S608
            f"FROM ({days}) AS d GROUP BY user_id"
        )
    else:
        # Every customer with a row at `before` that is not their last has one at `through` or a
        # last one between, so a left join finds both ends. The days' orders and the deltas not
        # folded yet (few customers) are summed on their own and joined.
        figures = "orders, revenue" if shown_only else "orders, revenue, cost"
        summed = (
            f"WITH a AS (SELECT user_id, {figures} FROM orders_ordercustomermonth "  # noqa: S608
            f"WHERE month = %s AND NOT latest UNION ALL SELECT user_id, {figures} "
            "FROM orders_ordercustomermonth WHERE latest AND month > %s AND month <= %s), "
            f"b AS (SELECT user_id, {figures} FROM orders_ordercustomermonth WHERE month = %s AND NOT latest), "
            "t AS (SELECT a.user_id, a.orders - coalesce(b.orders, 0) AS orders, "
            "a.revenue - coalesce(b.revenue, 0) AS revenue"
            f"{'' if shown_only else ', a.cost - coalesce(b.cost, 0) AS cost'} "
            "FROM a LEFT JOIN b ON b.user_id = a.user_id), "
            "e AS (SELECT user_id, sum(orders)::bigint AS orders, sum(revenue) AS revenue, sum(cost) AS cost FROM ("
            f"{days}{' UNION ALL ' if days else ''}SELECT user_id, orders, revenue, cost "
            "FROM orders_ordercustomermonthdelta WHERE month > %s AND month <= %s) AS d GROUP BY user_id) "
            "SELECT coalesce(t.user_id, e.user_id) AS user_id, "
            "coalesce(t.orders, 0) + coalesce(e.orders, 0) AS orders, "
            "coalesce(t.revenue, 0) + coalesce(e.revenue, 0) AS revenue, "
            f"{'e.cost' if shown_only else 'coalesce(t.cost, 0) + coalesce(e.cost, 0)'} AS cost "
            "FROM t FULL JOIN e ON e.user_id = t.user_id"
        )
        params = [plan.through, plan.before, plan.through, plan.before, *params, plan.before, plan.through]
        if shown_only:
            # A customer's running totals at a month's end: their row for the month, or the last
            # one before it (their last, or none before their first order).
            lookups = "".join(
                " LEFT JOIN LATERAL (SELECT cost FROM orders_ordercustomermonth WHERE user_id = f.user_id "  # noqa: S608
                f"AND month <= %s ORDER BY month DESC LIMIT 1) AS {name} ON true"
                for name in ("p_through", "p_before")
            )
            cost = "coalesce(p_through.cost, 0) - coalesce(p_before.cost, 0) + coalesce(f.cost, 0)"
    users = connection.ops.quote_name(get_user_model()._meta.db_table)
    sql = (
        f"SELECT f.user_id, u.username, f.orders, f.revenue, {cost}, f.revenue - ({cost}), f.n "  # noqa: S608
        f"FROM (SELECT user_id, orders, revenue, cost, count(*) OVER () AS n FROM ({summed}) AS s "
        f"WHERE orders <> 0 ORDER BY revenue DESC, user_id LIMIT %s) AS f JOIN {users} AS u ON u.id = f.user_id"
        f"{lookups} ORDER BY f.revenue DESC, f.user_id"
    )
    params += [limit] + ([plan.through, plan.before] if shown_only else [])
    with transaction.atomic(), connection.cursor() as cursor:
        # A row per customer goes through hashes and the count: room for them in memory (about
        # 20 MB at 100,000 customers; the default 4 MB spills to disk), and no JIT compilation,
        # which costs more than it saves on a statement of this size. Both end with the
        # transaction (the caller's, inside one).
        cursor.execute("SET LOCAL work_mem = '32MB'; SET LOCAL jit = off")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    figures = [CustomerFigures(row[0], row[1], int(row[2]), row[3], row[4], row[5]) for row in rows]
    return figures, (rows[0][6] if rows else 0)
