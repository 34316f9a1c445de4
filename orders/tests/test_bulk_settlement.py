"""Settling a poll batch's final orders together (orders_settle): exactly once, whoever races it."""

import itertools
import logging
import random
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.ledger import ledger_credit, ledger_drift
from accounts.models import LedgerEntry, User
from orders.forwarding import order_forward
from orders.maintenance import reconcile
from orders.models import ForwardState, Order, Status
from orders.placement import order_place
from orders.polling import poll_batch
from orders.settlement import order_settle, orders_settle, refund_due
from orders.staff import order_mark_final
from testing.concurrency import run_together

FINALS = (Status.CANCELED, Status.PARTIAL, Status.COMPLETED)
LINKS = itertools.count()


@pytest.fixture
def buyers(transactional_db):
    users = []
    for i in range(4):
        user = User.objects.create(username=f"bulk{i}")
        ledger_credit(user_id=user.pk, amount=Decimal("1000"), memo="test funds")
        users.append(user)
    return users


@pytest.fixture
def staff(transactional_db):
    return User.objects.create(username="staffer", is_staff=True)


def place_sent(users, service, count):
    """Orders spread over the users, sent to the provider (the simulator)."""
    orders = []
    for i in range(count):
        order = order_place(
            user=users[i % len(users)],
            service_id=service.pk,
            data={"link": f"https://x.com/b{next(LINKS)}", "quantity": service.min * 3},
        ).order
        # Sent on commit already when tasks run eagerly; otherwise now.
        order_forward(order_id=order.pk)
        assert Order.objects.get(pk=order.pk).forward_state == ForwardState.SENT
        orders.append(order)
    return [order.pk for order in orders]


def end_as_provider_said(order_ids):
    """What a poll writes for final answers: a mix of Canceled, Partial (with remains), Completed."""
    for i, order_id in enumerate(order_ids):
        order = Order.objects.get(pk=order_id)
        status = FINALS[i % 3]
        remains = {Status.CANCELED: order.units, Status.PARTIAL: order.units // 3, Status.COMPLETED: 0}[status]
        Order.objects.filter(pk=order_id).update(status=status, remains=remains, completed_at=timezone.now())


@contextmanager
def refund_refused(order_id: int):
    """The database refuses this one order's refund, as a broken row or a constraint would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_refund() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_refund BEFORE INSERT ON accounts_ledgerentry FOR EACH ROW "
            f"WHEN (NEW.order_id = {int(order_id)}) EXECUTE FUNCTION refuse_refund()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER refuse_refund ON accounts_ledgerentry")
            cursor.execute("DROP FUNCTION refuse_refund()")


def until_commit(queries) -> int:
    sql = [query["sql"] for query in queries.captured_queries]
    return sql.index("COMMIT") + 1


def assert_settled_exactly_once(order_ids):
    for order in Order.objects.filter(pk__in=order_ids):
        assert order.settled_at is not None, order.pk
        assert order.refunded == refund_due(order), order.pk
        refunds = LedgerEntry.objects.filter(order_id=order.pk, kind="refund")
        assert (refunds.aggregate(t=Sum("amount"))["t"] or 0) == order.refunded, order.pk
        assert refunds.count() <= 1 or order.status != Status.CANCELED
    assert ledger_drift() == []


def test_a_batch_pays_each_refund_once_with_queries_that_do_not_grow(buyers, make_service):
    service = make_service("Default", dripfeed=False)
    small, large = place_sent(buyers, service, 6), place_sent(buyers, service, 60)
    end_as_provider_said(small + large)
    with CaptureQueriesContext(connection) as few:
        orders_settle(order_ids=small)
    with CaptureQueriesContext(connection) as many:
        refunded = orders_settle(order_ids=large)
    # Locks, the ledger's batch, the events, the orders' update: the same for 6 or 60 orders
    # (what runs after the commit is the notifications' dispatch, eager in tests).
    assert until_commit(many) == until_commit(few)
    assert refunded == sum(refund_due(o) for o in Order.objects.filter(pk__in=large))
    assert_settled_exactly_once(small + large)
    assert orders_settle(order_ids=small + large) == 0
    assert LedgerEntry.objects.filter(kind="refund").count() == 44  # 2 in 3 orders are owed a refund


def test_settling_twice_at_once_and_single_settles_pay_once(buyers, make_service):
    service = make_service("Default", dripfeed=False)
    order_ids = place_sent(buyers, service, 45)
    end_as_provider_said(order_ids)

    def work(index):
        if index < 4:
            # Overlapping batches in different orders: locks are taken in ID order regardless.
            ids = order_ids[:] if index % 2 else order_ids[::-1]
            return orders_settle(order_ids=ids[index * 5 :] + ids[: index * 5])
        return sum(order_settle(order_id=order_id) for order_id in random.sample(order_ids, 15))

    paid = run_together(6, work)
    assert sum(paid) == sum(refund_due(o) for o in Order.objects.filter(pk__in=order_ids))
    assert_settled_exactly_once(order_ids)


def test_a_poll_running_twice_concurrently_refunds_once(buyers, make_service, provider, sim, caplog):
    service = make_service("Default", dripfeed=False)
    order_ids = place_sent(buyers, service, 60)
    sim.clock.advance(10_000)  # every order has ended at the provider
    Order.objects.filter(pk__in=order_ids).update(next_check_at=timezone.now() - timedelta(seconds=1))
    with caplog.at_level(logging.INFO, logger="orders.settlement"):
        written = run_together(3, lambda _: poll_batch(provider_id=provider.pk, order_ids=order_ids))
    # One poll wrote each answer (compare-and-set), so one settled each order.
    assert sum(written) == 60
    assert set(Order.objects.filter(pk__in=order_ids).values_list("status", flat=True)) <= set(FINALS)
    assert not [r for r in caplog.records if "together failed" in r.getMessage()]
    assert_settled_exactly_once(order_ids)


def test_staff_decisions_racing_the_batch_keep_the_larger_outcome_once(buyers, make_service, staff):
    service = make_service("Default", dripfeed=False)
    for attempt in range(3):
        order_ids = place_sent(buyers, service, 30)
        for order_id in order_ids:
            Order.objects.filter(pk=order_id).update(status=Status.COMPLETED, remains=0, completed_at=timezone.now())
        targets = order_ids[attempt::3]

        def work(index, order_ids=order_ids, targets=targets):
            if index == 0:
                return orders_settle(order_ids=order_ids)
            # Staff cancel some of the batch's orders while it settles.
            for order_id in targets[index - 1 :: 2]:
                order_mark_final(order_id=order_id, status=Status.CANCELED, actor_id=staff.pk, reason="race")
            return None

        run_together(3, work)
        for order in Order.objects.filter(pk__in=order_ids):
            expected = order.charge if order.pk in targets else Decimal("0")
            assert order.refunded == expected, order.pk
        assert_settled_exactly_once(order_ids)


def test_a_failing_order_does_not_hold_back_the_others(buyers, make_service, caplog):
    service = make_service("Default", dripfeed=False)
    order_ids = place_sent(buyers, service, 30)
    end_as_provider_said(order_ids)
    bad = order_ids[3]  # Canceled: owed a full refund
    with refund_refused(bad), caplog.at_level(logging.INFO, logger="orders.settlement"):
        refunded = orders_settle(order_ids=order_ids)
    assert any("together failed" in r.getMessage() for r in caplog.records)
    assert any(f"order {bad}: settling failed" in r.getMessage() for r in caplog.records)
    others = [order_id for order_id in order_ids if order_id != bad]
    assert refunded == sum(refund_due(o) for o in Order.objects.filter(pk__in=others))
    assert_settled_exactly_once(others)
    left = Order.objects.get(pk=bad)
    assert left.settled_at is None and left.refunded == 0
    # The reconciler settles what was left, once.
    reconcile()
    reconcile()
    assert_settled_exactly_once(order_ids)


def test_orders_that_are_not_final_or_lack_remains_are_left_alone(buyers, make_service):
    service = make_service("Default", dripfeed=False)
    active, partial, canceled = place_sent(buyers, service, 3)
    Order.objects.filter(pk=partial).update(status=Status.PARTIAL, remains=None)
    Order.objects.filter(pk=canceled).update(status=Status.CANCELED)
    orders_settle(order_ids=[active, partial, canceled])
    active, partial, canceled = (Order.objects.get(pk=pk) for pk in (active, partial, canceled))
    assert active.settled_at is None and active.refunded == 0 and active.forward_state == ForwardState.SENT
    assert partial.settled_at is None and partial.needs_attention
    assert canceled.refunded == canceled.charge
    assert ledger_drift() == []


def test_a_poll_writes_answers_and_refunds_in_one_transaction_each_order_once(buyers, make_service, provider, sim):
    service = make_service("Default", dripfeed=False)
    order_ids = place_sent(buyers, service, 60)
    sim.clock.advance(10_000)  # every order has ended at the provider
    with CaptureQueriesContext(connection) as queries:
        written = poll_batch(provider_id=provider.pk, order_ids=order_ids)
    assert written == 60
    sql = [query["sql"] for query in queries.captured_queries]
    first_commit = sql.index("COMMIT")
    # Before the batch's one commit: the locks, the refunds' ledger entries and balances, and one
    # UPDATE that writes each order's answer together with its refunded total and settled time.
    order_updates = [s for s in sql if s.startswith("UPDATE orders_order")]
    assert len(order_updates) == 1, order_updates
    assert sql.index(order_updates[0]) < first_commit
    assert any(s.startswith('INSERT INTO "accounts_ledgerentry"') for s in sql[:first_commit])
    assert LedgerEntry.objects.filter(kind="refund").exists()
    assert_settled_exactly_once(order_ids)
    # Polled again (a stale lease, a second worker): nothing is written or refunded twice.
    assert poll_batch(provider_id=provider.pk, order_ids=order_ids) == 0
    assert_settled_exactly_once(order_ids)


def test_when_settling_with_the_write_fails_the_answers_are_kept_and_settled_on_their_own(
    buyers, make_service, provider, sim, caplog
):
    service = make_service("Default", dripfeed=False)
    order_ids = place_sent(buyers, service, 30)
    sim.clock.advance(10_000)
    said = {
        o.pk: sim.sim.api({"key": sim.sim.key, "action": "status", "order": o.upstream_order_id})[0]["status"]
        for o in Order.objects.filter(pk__in=order_ids)
    }
    # A Canceled order is owed a refund; the database refuses that one refund.
    bad = next(pk for pk, status in said.items() if status == "Canceled")
    with refund_refused(bad), caplog.at_level(logging.INFO):
        written = poll_batch(provider_id=provider.pk, order_ids=order_ids)
    messages = [r.getMessage() for r in caplog.records]
    assert any("writing and settling a batch together failed" in m for m in messages)
    # Every answer was written all the same; every order but the refused one is settled once.
    assert written == 30
    assert set(Order.objects.filter(pk__in=order_ids).values_list("status", flat=True)) <= set(FINALS)
    assert_settled_exactly_once([order_id for order_id in order_ids if order_id != bad])
    left = Order.objects.get(pk=bad)
    assert left.status == Status.CANCELED and left.settled_at is None and left.refunded == 0
    reconcile()
    reconcile()
    assert_settled_exactly_once(order_ids)
