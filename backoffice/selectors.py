"""Reads for the staff pages: the home page's figures and the reports, summed in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Count,
    F,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.models import Service, SyncRun
from orders.models import ForwardState, Order, ReconciliationReport
from orders.rollups import customer_figures, rollup_figures, rollups_usable
from orders.selectors import COST, REVENUE, ZERO
from panel.tenancy import is_child
from upstream.models import Provider


@dataclass(frozen=True)
class Totals:
    orders: int
    revenue: Decimal
    cost: Decimal

    @property
    def profit(self) -> Decimal:
        return self.revenue - self.cost


def totals(orders: QuerySet[Order]) -> Totals:
    row = orders.aggregate(n=Count("id"), revenue=Coalesce(Sum(REVENUE), ZERO), cost=Coalesce(Sum(COST), ZERO))
    return Totals(row["n"], row["revenue"], row["cost"].quantize(Decimal("0.00001")))


def period_totals(start: date, end: date) -> Totals:
    """Totals of the orders placed from `start` to `end`: from the daily roll-ups where they
    count days as the panel does, else from the orders themselves (the same figures)."""
    if not rollups_usable():
        return totals(orders_between(start, end))
    rows = rollup_figures(start, end, None)
    if not rows:
        return Totals(0, Decimal("0"), Decimal("0"))
    return Totals(rows[0].orders, rows[0].revenue, rows[0].cost.quantize(Decimal("0.00001")))


def local_day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def orders_between(start: date, end: date) -> QuerySet[Order]:
    """Orders placed from the start of `start` to the end of `end`, in the panel's time zone."""
    return Order.objects.filter(
        created_at__gte=local_day_start(start), created_at__lt=local_day_start(end + timedelta(days=1))
    )


def needs_attention() -> QuerySet[Order]:
    return Order.objects.filter(needs_attention=True).select_related("user", "provider", "service").order_by("id")


@dataclass(frozen=True)
class Home:
    today: Totals
    month: Totals
    providers: list[Provider]
    attention: list[Order]
    attention_count: int
    stuck: int
    failed_syncs: list[SyncRun]
    flagged_services: int
    reconciliation: ReconciliationReport | None
    periodic: list[dict] | None  # None on a child panel: the schedule is the install's


def periodic_tasks(now: datetime | None = None) -> list[dict] | None:
    """Each beat task with its last run and whether it looks overdue (3 intervals late).

    None on a child panel: beat reads only the parent's schedule (tenants.beat), so a child's copy
    of the table never records a run, and its staff could not change the schedule anyway.
    """
    from django_celery_beat.models import PeriodicTask

    if is_child():
        return None
    now = now or timezone.now()
    rows = []
    for task in PeriodicTask.objects.select_related("interval").order_by("name"):
        every = None
        if task.interval is not None:
            every = timedelta(**{task.interval.period: task.interval.every})
        late = task.enabled and (
            (task.last_run_at is None and task.date_changed < now - timedelta(minutes=5))
            or (
                every is not None
                and task.last_run_at is not None
                and now - task.last_run_at > max(every * 3, timedelta(minutes=2))
            )
        )
        rows.append(
            {
                "name": task.name,
                "task": task.task,
                "enabled": task.enabled,
                "every": every,
                "last_run_at": task.last_run_at,
                "late": late,
            }
        )
    return rows


def home(now: datetime | None = None) -> Home:
    now = timezone.localtime(now or timezone.now())
    today = now.date()
    attention = needs_attention()
    return Home(
        today=period_totals(today, today),
        month=period_totals(today.replace(day=1), today),
        providers=list(Provider.objects.order_by("-low_balance", "name")),
        attention=list(attention[:20]),
        attention_count=attention.count(),
        stuck=Order.objects.filter(forward_state=ForwardState.QUEUED, created_at__lt=now - timedelta(hours=1)).count(),
        failed_syncs=list(
            SyncRun.objects.filter(ok=False, started_at__gte=now - timedelta(days=7))
            .select_related("provider")
            .order_by("-started_at")[:10]
        ),
        flagged_services=Service.objects.filter(flagged=True).count(),
        reconciliation=ReconciliationReport.objects.order_by("-id").first(),
        periodic=periodic_tasks(now),
    )


# key: (label for staff, the row's label in SQL, the row's key field)
GROUPINGS = {
    "day": (_("Day"), TruncDate("created_at"), None),
    # Manual orders have no provider: their row is "Manual" (their cost is the service's own).
    "provider": (_("Provider"), Coalesce(F("provider__name"), Value("Manual")), "provider_id"),
    "service": (_("Service"), F("service__name"), "service_id"),
    "customer": (_("Customer"), F("user__username"), "user_id"),
}


def report(start: date, end: date, by: str) -> list[dict]:
    """Orders, revenue, cost and profit per day, provider, service or customer, from the roll-ups
    (orders.rollups) where they count days as the panel does: daily ones per day, provider and
    service, each customer's running totals per month per customer; else (and on SQLite) one
    query over the period's orders."""
    if by in ROLLED_UP and rollups_usable():
        return _report_from_rollups(start, end, by)
    if by == "customer" and rollups_usable():
        return _customer_rows(customer_figures(start, end)[0])
    return report_from_orders(start, end, by)


ROLLED_UP = ("day", "provider", "service")
PLACES = Decimal("0.00001")


def report_with_total(start: date, end: date, by: str) -> tuple[list[dict], Totals]:
    """report() and the period's totals; from the roll-ups, the totals are added up from the same
    read (the unrounded figures, so they equal period_totals exactly)."""
    if by in ROLLED_UP and rollups_usable():
        figures = rollup_figures(start, end, by)
        total = Totals(
            sum(f.orders for f in figures),
            sum((f.revenue for f in figures), Decimal("0")),
            sum((f.cost for f in figures), Decimal("0")).quantize(PLACES),
        )
        return _report_from_rollups(start, end, by, figures), total
    return report(start, end, by), period_totals(start, end)


def report_page(start: date, end: date, by: str, limit: int) -> tuple[list[dict], int, Totals]:
    """What the reports page shows: report_with_total()'s rows (by customer only the `limit` with
    the most revenue, read as such), how many rows there are in all, and the totals."""
    if by == "customer" and rollups_usable():
        figures, count = customer_figures(start, end, limit)
        return _customer_rows(figures), count, period_totals(start, end)
    rows, total = report_with_total(start, end, by)
    return rows, len(rows), total


def _customer_rows(figures) -> list[dict]:
    return [
        {
            "label": f.username,
            "user_id": f.user_id,
            "orders": f.orders,
            "revenue": f.revenue,
            "cost": f.cost.quantize(PLACES),
            "profit": f.profit.quantize(PLACES),
        }
        for f in figures
    ]


def _report_from_rollups(start: date, end: date, by: str, figures=None) -> list[dict]:
    figures = rollup_figures(start, end, by) if figures is None else figures
    names: dict = {}
    if by == "provider":
        names = dict(Provider.objects.filter(pk__in=[f.key for f in figures]).values_list("pk", "name"))
    elif by == "service":
        names = dict(Service.objects.filter(pk__in=[f.key for f in figures]).values_list("pk", "name"))
    rows = []
    for f in figures:
        cost = f.cost.quantize(PLACES)
        row = {"orders": f.orders, "revenue": f.revenue, "cost": cost, "profit": (f.revenue - f.cost).quantize(PLACES)}
        if by == "day":
            row["label"] = f.key
        elif by == "provider":
            # Manual orders have no provider (0 in the roll-ups): their row is "Manual".
            row["label"], row["provider_id"] = (names.get(f.key, ""), f.key) if f.key else ("Manual", None)
        else:
            row["label"], row["service_id"] = names.get(f.key, ""), f.key
        rows.append(row)
    if by == "day":
        return sorted(rows, key=lambda row: row["label"])
    key = GROUPINGS[by][2]
    return sorted(rows, key=lambda row: (-row["revenue"], row[key] is None, row[key] or 0))


def report_from_orders(start: date, end: date, by: str) -> list[dict]:
    """report() read from the orders of the period, one query."""
    _name, label, key = GROUPINGS[by]
    rows = orders_between(start, end).annotate(label=label)
    fields = ["label"] + ([key] if key else [])
    rows = (
        rows.values(*fields)
        .annotate(orders=Count("id"), revenue=Coalesce(Sum(REVENUE), ZERO), cost=Coalesce(Sum(COST), ZERO))
        .annotate(profit=F("revenue") - F("cost"))
        .order_by("label" if by == "day" else "-revenue", *([key] if key else []))
    )
    result = []
    for row in rows:
        row["cost"] = row["cost"].quantize(Decimal("0.00001"))
        row["profit"] = row["profit"].quantize(Decimal("0.00001"))
        result.append(row)
    return result
