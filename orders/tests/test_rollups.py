"""The daily roll-ups stay equal to the figures read from the orders, whatever changes them."""

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from backoffice.selectors import (
    orders_between,
    period_totals,
    report,
    report_from_orders,
    report_page,
    report_with_total,
    totals,
)
from orders.forwarding import order_forward
from orders.models import (
    ForwardState,
    Order,
    OrderCustomerMonth,
    OrderCustomerMonthDelta,
    OrderDaily,
    OrderDailyDelta,
    Status,
)
from orders.placement import order_place
from orders.polling import poll_batch
from orders.rollups import (
    COST_SQL,
    REVENUE_SQL,
    customer_plan,
    rollup_fold,
    rollup_rebuild,
    rollups_usable,
)
from orders.settlement import order_settle
from orders.staff import order_mark_final, order_move
from testing.concurrency import run_together

GROUPINGS = ("day", "provider", "service")
WIDE = (date(2000, 1, 1), date(2100, 1, 1))


def assert_rollups_exact(*periods):
    """Every rolled-up report and total equals the one read from the orders, folded or not."""
    assert rollups_usable()
    for fold in (False, True):
        if fold:
            rollup_fold()
            assert not OrderDailyDelta.objects.exists()
        for start, end in periods or (WIDE,):
            exact = totals(orders_between(start, end))
            for by in GROUPINGS:
                assert report(start, end, by) == report_from_orders(start, end, by), (by, start, end, fold)
                assert report_with_total(start, end, by) == (report_from_orders(start, end, by), exact)
            assert period_totals(start, end) == exact


@pytest.fixture
def staff(db):
    return User.objects.create(username="rollup-staff", is_staff=True)


def test_placements_polls_refunds_and_staff_decisions_keep_the_rollups_exact(
    customer, make_service, sim, provider, staff
):
    service = make_service("Default", dripfeed=False)
    other = make_service("Default", dripfeed=False, refill=not service.refill)
    orders = []
    for i in range(30):
        placed = order_place(
            user=customer,
            service_id=(service if i % 3 else other).pk,
            data={"link": f"https://x.com/r{i}", "quantity": service.min * 3},
        ).order
        orders.append(placed)
    assert_rollups_exact()
    for order in orders[:25]:
        order_forward(order_id=order.pk)
    assert_rollups_exact()
    # The provider ends them: statuses, costs, remains and refunds (one batch settles together).
    sim.clock.advance(10_000)
    sent = [o.pk for o in orders[:25]]
    poll_batch(provider_id=provider.pk, order_ids=sent)
    assert_rollups_exact()
    # Staff decisions: a full refund, a Partial, and moving an unsent order to another service.
    completed = Order.objects.filter(pk__in=sent, status=Status.COMPLETED).first()
    order_mark_final(order_id=completed.pk, status=Status.CANCELED, actor_id=staff.pk, reason="test")
    unsent = orders[-1]
    order_move(
        order_id=unsent.pk, service_id=(other if unsent.service_id == service.pk else service).pk, actor_id=staff.pk
    )
    order_mark_final(order_id=orders[-2].pk, status=Status.CANCELED, actor_id=staff.pk)
    order_settle(order_id=orders[-2].pk)
    today = timezone.localdate()
    assert_rollups_exact(WIDE, (today, today), (today.replace(day=1), today))


def test_any_write_to_orders_reaches_the_rollups(customer, make_service):
    """The trigger sees every statement, including bulk updates and deletes no service makes."""
    service = make_service("Default", dripfeed=False)
    for i in range(12):
        order_place(user=customer, service_id=service.pk, data={"link": f"https://x.com/w{i}", "quantity": 300})
    now = timezone.now()
    Order.objects.filter(pk__in=Order.objects.order_by("pk").values("pk")[:4]).update(
        created_at=now - timedelta(days=40)
    )
    Order.objects.filter(status=Status.PENDING).update(cost_actual=Decimal("0.33333"))
    assert_rollups_exact()
    Order.objects.filter(pk=Order.objects.order_by("pk").first().pk).delete()
    assert_rollups_exact((now.date() - timedelta(days=60), now.date()))


def test_folds_running_together_add_each_change_once(customer, make_service, transactional_db):
    service = make_service("Default", dripfeed=False)
    for round_ in range(3):
        for i in range(10):
            order_place(
                user=customer, service_id=service.pk, data={"link": f"https://x.com/f{round_}-{i}", "quantity": 300}
            )
        run_together(4, lambda _: rollup_fold())
        assert not OrderDailyDelta.objects.exists()
        assert_rollups_exact()


def test_a_changed_time_zone_reads_the_orders_until_rebuilt(customer, make_service, settings):
    service = make_service("Default", dripfeed=False)
    order_place(user=customer, service_id=service.pk, data={"link": "https://x.com/tz", "quantity": 300})
    settings.TIME_ZONE = "Asia/Tokyo"
    assert not rollups_usable()
    # Still exact: read from the orders.
    assert report(*WIDE, "day") == report_from_orders(*WIDE, "day")
    rollup_rebuild()
    assert rollups_usable()
    assert_rollups_exact()
    assert OrderDaily.objects.count() == 1


STATUSES = [s.value for s in Status]


def random_edit(kind: str, pick, rnd: random.Random) -> bool:
    """The edits both random-history tests make to the picked order: a status with its remains, a
    refund, a reported cost, a delete. False for a kind that is not one of them."""
    if kind == "status":
        pick.update(status=rnd.choice(STATUSES), remains=rnd.choice([None, rnd.randint(0, 4000)]))
    elif kind == "refund":
        order = pick.get()
        pick.update(refunded=(order.charge * rnd.randint(0, 100) / 100).quantize(Decimal("0.00001")))
    elif kind == "cost":
        pick.update(cost_actual=rnd.choice([None, Decimal(rnd.randint(0, 10**6)) / 10**5]))
    elif kind == "delete":
        pick.delete()
    else:
        return False
    return True


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["place", "status", "refund", "cost", "move", "age", "delete", "fold"]),
            st.integers(0, 10**6),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_property_random_histories_keep_the_rollups_exact(customer, make_service, steps):
    """Random placements (manual ones too), status and remains changes, refunds, reported costs,
    provider moves, back-dated days, deletes and folds: the roll-ups always equal the orders."""
    services = [make_service("Default", dripfeed=False), make_service("Default", dripfeed=True)]
    provider_ids = [services[0].upstream.provider_id]
    for kind, seed in steps:
        rnd = random.Random(seed)
        ids = list(Order.objects.values_list("pk", flat=True))
        pick = Order.objects.filter(pk=rnd.choice(ids)) if ids else Order.objects.none()
        if kind == "place" or not ids:
            service = rnd.choice(services)
            manual = rnd.random() < 0.2
            Order.objects.create(
                user=customer,
                service=service,
                provider_id=None if manual else provider_ids[0],
                forward_state=ForwardState.MANUAL if manual else ForwardState.SENT,
                quantity=rnd.randint(10, 5000),
                runs=rnd.choice([None, 2, 5]),
                charge=Decimal(rnd.randint(1, 10**7)) / 10**5,
                cost_expected=Decimal(rnd.randint(1, 10**6)) / 10**5,
                status=rnd.choice(STATUSES),
                remains=rnd.choice([None, 0, rnd.randint(0, 5000)]),
            )
        elif random_edit(kind, pick, rnd):
            pass
        elif kind == "move":
            if pick.get().forward_state != ForwardState.MANUAL:
                pick.update(service=rnd.choice(services))
        elif kind == "age":
            pick.update(created_at=timezone.now() - timedelta(days=rnd.randint(0, 400), hours=rnd.randint(0, 23)))
        else:
            rollup_fold()
    assert_rollups_exact(WIDE, (timezone.localdate() - timedelta(days=30), timezone.localdate()))


# --- Per customer: running totals per month ------------------------------------------------------


def funded(username: str) -> User:
    from accounts.ledger import ledger_credit

    user = User.objects.create(username=username)
    ledger_credit(user_id=user.pk, amount=Decimal("1000"), memo="test funds")
    return user


def customer_periods(today: date) -> list[tuple[date, date]]:
    """Periods whose plans read the running totals with orders added or taken off at either end,
    or the orders alone: a day, the page's 30 days and year, a past stretch ending mid-month, the
    last whole month, and everything."""
    last_month_end = today.replace(day=1) - timedelta(days=1)
    return [
        WIDE,
        (today, today),
        (today - timedelta(days=29), today),
        (today - timedelta(days=364), today),
        (today - timedelta(days=400), today - timedelta(days=35)),
        (today - timedelta(days=45), today - timedelta(days=16)),
        (last_month_end.replace(day=1), last_month_end),
    ]


def assert_customer_months_hold_the_orders():
    """Each customer's rows: one a month with no gap, the last one marked, and each the running
    totals of the customer's orders up to that month's end."""
    from django.conf import settings
    from django.db import connection

    zone = settings.TIME_ZONE.replace("'", "''")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT user_id, count(*), min(month), max(month), count(*) FILTER (WHERE latest), "
            "max(month) FILTER (WHERE latest), bool_and(extract(day FROM month) = 1) "
            "FROM orders_ordercustomermonth GROUP BY user_id"
        )
        for user_id, n, first, last, latest, latest_month, firsts in cursor.fetchall():
            months = (last.year - first.year) * 12 + last.month - first.month + 1
            assert (n, latest, latest_month, firsts) == (months, 1, last, True), user_id
        cursor.execute(
            "SELECT p.user_id, p.month, p.orders, p.revenue, p.cost, coalesce(o.n, 0), coalesce(o.revenue, 0), "
            f"coalesce(o.cost, 0) FROM orders_ordercustomermonth AS p LEFT JOIN LATERAL (SELECT count(*) AS n, "
            f"sum({REVENUE_SQL}) AS revenue, sum({COST_SQL}) AS cost FROM orders_order AS r "
            f"WHERE r.user_id = p.user_id AND date_trunc('month', r.created_at AT TIME ZONE '{zone}')::date "
            "<= p.month) AS o ON true"
        )
        for user_id, month, *figures in cursor.fetchall():
            assert figures[:3] == figures[3:], (user_id, month)
        # Every order's month lies within its customer's rows.
        cursor.execute(
            "SELECT r.user_id FROM orders_order AS r LEFT JOIN orders_ordercustomermonth AS p "
            f"ON p.user_id = r.user_id AND p.month = date_trunc('month', r.created_at AT TIME ZONE '{zone}')::date "
            "WHERE p.id IS NULL"
        )
        assert cursor.fetchall() == []


def assert_customers_exact(*periods):
    """The report by customer (every row, and the page's top rows with the count and totals)
    equals the one read from the orders, before and after the deltas are folded."""
    assert rollups_usable()
    for fold in (False, True):
        if fold:
            rollup_fold()
            assert not OrderCustomerMonthDelta.objects.exists()
            assert_customer_months_hold_the_orders()
        for start, end in periods or customer_periods(timezone.localdate()):
            exact = report_from_orders(start, end, "customer")
            assert report(start, end, "customer") == exact, (start, end, fold)
            assert report_page(start, end, "customer", 2) == (exact[:2], len(exact), totals(orders_between(start, end)))


def test_customer_plans_count_every_day_of_the_period_once():
    """However a period is cut (any length, either end anywhere in a month, before or after
    today), the running totals and the days read add up to exactly its days."""

    def month_end(month):
        return (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)

    def weight(plan, day):
        n = 0
        if plan.through:
            n += day <= month_end(plan.through)
            n -= day <= month_end(plan.before)
        return n + sum(sign * (first <= day <= last) for sign, first, last in plan.days)

    rnd = random.Random(20261201)
    base = date(2024, 1, 1)
    for _ in range(3000):
        start = base + timedelta(days=rnd.randint(0, 900))
        end = start + timedelta(days=rnd.choice([0, 1, 6, 7, 8, 29, 30, 31, 45, 90, 364, 365, rnd.randint(0, 1200)]))
        today = start + timedelta(days=rnd.randint(-40, 1300))
        plan = customer_plan(start, end, today)
        for day in (start - timedelta(days=70) + timedelta(days=i) for i in range((end - start).days + 141)):
            assert weight(plan, day) == (start <= day <= end), (start, end, today, plan, day)
        # A long period is read from its two ends' months, with at most half a month of days each.
        if (min(end, today) - start).days >= 60:
            assert plan.through is not None, (start, end, today)
        if plan.through is not None:
            read = sum((min(last, today) - first).days + 1 for _, first, last in plan.days if first <= today)
            assert read <= 32, (start, end, today, plan)


def test_customer_report_follows_placements_polls_refunds_and_staff_decisions(
    customer, make_service, sim, provider, staff
):
    service = make_service("Default", dripfeed=False)
    other_customer = funded("second-buyer")
    orders = []
    for i in range(24):
        orders.append(
            order_place(
                user=customer if i % 3 else other_customer,
                service_id=service.pk,
                data={"link": f"https://x.com/c{i}", "quantity": service.min * 3},
            ).order
        )
    # Spread over three months and a year ago, as if placed then.
    today = timezone.localdate()
    for i, order in enumerate(orders[:12]):
        Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=(0, 31, 62, 370)[i % 4]))
    assert_customers_exact()
    for order in orders[:20]:
        order_forward(order_id=order.pk)
    sim.clock.advance(10_000)
    poll_batch(provider_id=provider.pk, order_ids=[o.pk for o in orders[:20]])
    assert_customers_exact()
    completed = Order.objects.filter(pk__in=[o.pk for o in orders[:12]], status=Status.COMPLETED).first()
    order_mark_final(order_id=completed.pk, status=Status.CANCELED, actor_id=staff.pk, reason="test")
    order_mark_final(order_id=orders[-1].pk, status=Status.CANCELED, actor_id=staff.pk)
    order_settle(order_id=orders[-1].pk)
    assert_customers_exact(*customer_periods(today), (today - timedelta(days=62), today - timedelta(days=31)))


def test_customer_months_follow_backdating_moves_between_customers_and_deletes(customer, make_service):
    """Bulk writes no service makes: orders moved a year back (the customer's first month moves
    earlier), forward into a gap, to another customer, and deleted."""
    service = make_service("Default", dripfeed=False)
    other = funded("other-buyer")
    for i in range(10):
        order_place(user=customer, service_id=service.pk, data={"link": f"https://x.com/m{i}", "quantity": 300})
    rollup_fold()
    ids = list(Order.objects.order_by("pk").values_list("pk", flat=True))
    now = timezone.now()
    Order.objects.filter(pk__in=ids[:2]).update(created_at=now - timedelta(days=400))
    Order.objects.filter(pk__in=ids[2:4]).update(created_at=now - timedelta(days=200))
    assert_customers_exact()
    Order.objects.filter(pk=ids[2]).update(created_at=now - timedelta(days=100))
    Order.objects.filter(pk__in=ids[4:7]).update(user=other)
    Order.objects.filter(status=Status.PENDING).update(cost_actual=Decimal("0.12345"))
    assert_customers_exact()
    Order.objects.filter(pk__in=ids[:1] + ids[5:6]).delete()
    assert_customers_exact()


def test_customer_folds_running_together_add_each_change_once(customer, make_service, transactional_db):
    service = make_service("Default", dripfeed=False)
    others = [funded(f"fold-buyer-{i}") for i in range(3)]
    for round_ in range(3):
        for i in range(12):
            order = order_place(
                user=([customer, *others])[i % 4],
                service_id=service.pk,
                data={"link": f"https://x.com/cf{round_}-{i}", "quantity": 300},
            ).order
            if i % 3 == 0:
                Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=40 * (i + 1)))
        run_together(4, lambda _: rollup_fold())
        assert not OrderCustomerMonthDelta.objects.exists()
        assert_customers_exact()


@pytest.mark.parametrize("zone_name", ["America/Los_Angeles", "America/Havana"])
def test_customer_months_count_in_the_panel_time_zone(customer, make_service, settings, zone_name):
    """Orders placed just before and after midnight at the month's turn in the panel's time zone
    fall in the month they were placed in there, as the report from the orders counts them. Summer
    time ended on 1 November 2026 in both zones: at 2:00 in Los Angeles, at 1:00 in Havana, where
    the first hour of the day came twice and its first midnight is not the one PostgreSQL reads
    '2026-11-01 00:00' as (the days read from the orders have room either side for that). A
    changed zone reads the orders until rebuilt."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    service = make_service("Default", dripfeed=False)
    settings.TIME_ZONE = zone_name
    rollup_rebuild()
    zone = ZoneInfo(zone_name)
    moments = [
        datetime(2026, 10, 31, 23, 59, 30),
        datetime(2026, 11, 1, 0, 0, 10, fold=0),
        datetime(2026, 11, 1, 0, 30, 0, fold=0),
        datetime(2026, 11, 1, 0, 30, 0, fold=1),
        datetime(2026, 11, 1, 1, 30, 0, fold=0),
        datetime(2026, 11, 1, 1, 30, 0, fold=1),
        datetime(2026, 11, 5, 12, 0),
        datetime(2026, 11, 30, 23, 59, 59),
        datetime(2026, 12, 1, 0, 0, 0),
        datetime(2025, 12, 31, 23, 30),
        datetime(2026, 1, 1, 0, 30),
    ]
    for i, moment in enumerate(moments):
        order = order_place(
            user=customer, service_id=service.pk, data={"link": f"https://x.com/z{i}", "quantity": 300}
        ).order
        Order.objects.filter(pk=order.pk).update(created_at=moment.replace(tzinfo=zone))
    periods = [
        (date(2026, 11, 1), date(2026, 11, 30)),
        (date(2026, 10, 31), date(2026, 11, 30)),
        (date(2026, 11, 1), date(2026, 12, 1)),
        (date(2026, 11, 1), date(2026, 11, 5)),
        (date(2025, 12, 1), date(2026, 11, 5)),
        (date(2025, 12, 31), date(2026, 11, 1)),
        (date(2026, 1, 1), date(2026, 12, 31)),
        (date(2025, 10, 15), date(2026, 11, 15)),
    ]
    # A period whose orders are read from 1 November on, and one with running totals and a few days.
    assert customer_plan(*periods[3], date(2026, 12, 1)).days == ((1, date(2026, 11, 1), date(2026, 11, 5)),)
    assert (1, date(2026, 11, 1), date(2026, 11, 5)) in customer_plan(*periods[4], date(2026, 12, 1)).days
    assert_customers_exact(*periods)
    for start, end in periods:
        rows = report(start, end, "customer")
        assert sum(row["orders"] for row in rows) == orders_between(start, end).count()
    settings.TIME_ZONE = "Asia/Tokyo"
    assert not rollups_usable()
    assert report(*periods[0], "customer") == report_from_orders(*periods[0], "customer")
    rollup_rebuild()
    assert_customers_exact(*periods)


def test_customer_report_for_any_period_of_daily_orders(customer, make_service):
    """An order every day for fourteen months (so every day a plan reads holds one), three
    customers, one of whom stopped ordering months ago and comes back after a rebuild (the fold
    carries their totals over the months away): sixty periods cut anywhere equal the orders."""
    service = make_service("Default", dripfeed=False)
    provider_id = service.upstream.provider_id
    users = [customer, funded("daily-a"), funded("daily-b")]
    rnd = random.Random(7)
    Order.objects.bulk_create(
        Order(
            user=users[i % 3] if i < 200 else users[i % 2],
            service=service,
            provider_id=provider_id,
            forward_state=ForwardState.SENT,
            quantity=1000,
            charge=Decimal(rnd.randint(100, 10**6)) / 10**5,
            cost_expected=Decimal(rnd.randint(1, 10**5)) / 10**5,
            status=(Status.PARTIAL, Status.CANCELED, Status.COMPLETED)[i % 3] if i % 4 else Status.IN_PROGRESS,
            remains=rnd.randint(0, 1000),
            link=f"https://x.com/d{i}",
        )
        for i in range(430)
    )
    # Oldest first, one a day back from now (daily-b's last order was about seven months ago).
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE orders_order SET created_at = now() - (rank * interval '1 day') - interval '5 hours' "
            "FROM (SELECT id AS order_id, rank() OVER (ORDER BY id DESC) - 1 AS rank FROM orders_order) AS r "
            "WHERE id = r.order_id"
        )
    rollup_rebuild()
    back = Order.objects.filter(user=users[2]).order_by("-created_at").first()
    assert back.created_at < timezone.now() - timedelta(days=200)
    Order.objects.filter(pk=back.pk).update(created_at=timezone.now() - timedelta(days=2))
    today = timezone.localdate()
    periods = customer_periods(today)
    for _ in range(60):
        start = today - timedelta(days=rnd.randint(0, 440))
        periods.append((start, min(start + timedelta(days=rnd.choice([6, 13, 30, 45, 100, 364, 500])), today)))
    assert_customers_exact(*periods)
    assert sum(customer_plan(start, end, today).through is not None for start, end in periods) > 30


def test_rebuilding_gives_the_running_totals_the_folds_kept(customer, make_service):
    """Folds keep a row for every month a customer ever had an order in (an order moved away
    leaves its month's row); a rebuild writes the months up to the last order's. Both give every
    month the same running totals."""
    service = make_service("Default", dripfeed=False)
    other = funded("rebuilt-buyer")
    for i in range(9):
        order = order_place(
            user=customer if i % 2 else other,
            service_id=service.pk,
            data={"link": f"https://x.com/rb{i}", "quantity": 300},
        ).order
        Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=33 * i + 1))
    rollup_fold()
    fields = ("user_id", "month", "orders", "revenue", "cost")
    kept = list(OrderCustomerMonth.objects.values_list(*fields))
    rollup_rebuild()
    rebuilt = {(row[0], row[1]): row[2:] for row in OrderCustomerMonth.objects.values_list(*fields)}
    last = {row.user_id: row for row in OrderCustomerMonth.objects.filter(latest=True)}
    assert len(kept) > len(rebuilt)
    for user_id, month, *figures in kept:
        if (user_id, month) in rebuilt:
            assert tuple(figures) == rebuilt[user_id, month]
        else:
            assert month > last[user_id].month
            assert tuple(figures) == (last[user_id].orders, last[user_id].revenue, last[user_id].cost)
    assert_customers_exact()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["place", "status", "refund", "cost", "customer", "age", "delete", "fold", "rebuild"]),
            st.integers(0, 10**6),
        ),
        min_size=1,
        max_size=25,
    ),
    period=st.tuples(st.integers(0, 450), st.integers(0, 450)),
)
def test_property_random_histories_keep_the_customer_report_exact(customer, make_service, steps, period):
    """Random placements for three customers over fifteen months, status and remains changes,
    refunds, reported costs, moves to another customer, back-dating, deletes, folds and rebuilds:
    the report by customer always equals the one from the orders, for the usual periods and a
    random one."""
    service = make_service("Default", dripfeed=False)
    provider_id = service.upstream.provider_id
    customers = [customer, *(User.objects.get_or_create(username=f"prop-buyer-{i}")[0] for i in range(2))]
    now = timezone.now()
    for kind, seed in steps:
        rnd = random.Random(seed)
        ids = list(Order.objects.values_list("pk", flat=True))
        pick = Order.objects.filter(pk=rnd.choice(ids)) if ids else Order.objects.none()
        if kind == "place" or not ids:
            order = Order.objects.create(
                user=rnd.choice(customers),
                service=service,
                provider_id=provider_id,
                forward_state=ForwardState.SENT,
                quantity=rnd.randint(10, 5000),
                runs=rnd.choice([None, 2]),
                charge=Decimal(rnd.randint(1, 10**7)) / 10**5,
                cost_expected=Decimal(rnd.randint(1, 10**6)) / 10**5,
                status=rnd.choice(STATUSES),
                remains=rnd.choice([None, 0, rnd.randint(0, 5000)]),
            )
            if rnd.random() < 0.7:
                Order.objects.filter(pk=order.pk).update(created_at=now - timedelta(minutes=rnd.randint(0, 450 * 1440)))
        elif random_edit(kind, pick, rnd):
            pass
        elif kind == "customer":
            pick.update(user=rnd.choice(customers))
        elif kind == "age":
            pick.update(created_at=now - timedelta(minutes=rnd.randint(0, 450 * 1440)))
        elif kind == "rebuild":
            # Rows end at each customer's last order's month again: later orders fold over a gap.
            rollup_rebuild()
        else:
            rollup_fold()
    today = timezone.localdate()
    first, second = sorted(today - timedelta(days=days) for days in period)
    assert_customers_exact(*customer_periods(today), (first, second))
