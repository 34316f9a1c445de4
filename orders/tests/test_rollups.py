"""The daily roll-ups stay equal to the figures read from the orders, whatever changes them."""

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from backoffice.selectors import (
    orders_between,
    period_totals,
    report,
    report_from_orders,
    report_with_total,
    totals,
)
from orders.forwarding import order_forward
from orders.models import ForwardState, Order, OrderDaily, OrderDailyDelta, Status
from orders.placement import order_place
from orders.polling import poll_batch
from orders.rollups import rollup_fold, rollup_rebuild, rollups_usable
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
        elif kind == "status":
            pick.update(status=rnd.choice(STATUSES), remains=rnd.choice([None, rnd.randint(0, 4000)]))
        elif kind == "refund":
            order = pick.get()
            pick.update(refunded=(order.charge * rnd.randint(0, 100) / 100).quantize(Decimal("0.00001")))
        elif kind == "cost":
            pick.update(cost_actual=rnd.choice([None, Decimal(rnd.randint(0, 10**6)) / 10**5]))
        elif kind == "move":
            if pick.get().forward_state != ForwardState.MANUAL:
                pick.update(service=rnd.choice(services))
        elif kind == "age":
            pick.update(created_at=timezone.now() - timedelta(days=rnd.randint(0, 400), hours=rnd.randint(0, 23)))
        elif kind == "delete":
            pick.delete()
        else:
            rollup_fold()
    assert_rollups_exact(WIDE, (timezone.localdate() - timedelta(days=30), timezone.localdate()))
