"""A staff decision made while a poll batch waits for the provider stands, and so does its money.

The poll reads its orders, calls the provider (slowly here), then writes what the provider said.
Its write is a compare-and-set on the state it read: an order staff made final in the meantime
is left as staff left it, and is not settled a second time.
"""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from accounts.ledger import ledger_credit, ledger_drift
from accounts.models import LedgerEntry, User
from backoffice import services
from orders.forwarding import order_forward
from orders.models import ForwardState, Order, Status
from orders.placement import order_place
from orders.polling import claim_batch, poll_batch
from orders.refills import refills_poll


@pytest.fixture
def staff(transactional_db):
    return User.objects.create_user(username="boss", password="pw-Long-enough-1", is_staff=True)


@pytest.fixture
def buyer(transactional_db):
    user = User.objects.create(username="buyer2", email="buyer2@example.com")
    ledger_credit(user_id=user.pk, amount=Decimal("1000"), memo="test funds")
    return user


def in_progress_order(buyer, make_service, sim) -> Order:
    service = make_service("Default", dripfeed=False)
    order = order_place(
        user=buyer, service_id=service.pk, data={"link": "https://x.com/race", "quantity": service.min * 3}
    ).order
    order_forward(order_id=order.pk)  # already sent by the task enqueued on commit, if eager
    order.refresh_from_db()
    assert order.forward_state == ForwardState.SENT
    sim.clock.advance(5)  # the provider now says "In progress"
    Order.objects.filter(pk=order.pk).update(next_check_at=timezone.now() - timedelta(seconds=1))
    return order


def requests_seen(sim) -> int:
    return sum(sim.stats()["requests"].values())


def in_background(sim, call) -> threading.Thread:
    """Run `call` in a thread on its own connection, with the provider answering slowly; return
    once its request has reached the provider (the answer is still 1.5 s away)."""
    sim.faults(latency_ms=1500)
    started = requests_seen(sim)
    results: list = []

    def run():
        try:
            results.append(call())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.results = results
    thread.start()
    deadline = time.monotonic() + 5
    while requests_seen(sim) == started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert requests_seen(sim) > started, "the call never reached the provider"
    return thread


def poll_slowly(sim, provider_id: int, order_ids: list[int]) -> threading.Thread:
    return in_background(sim, lambda: poll_batch(provider_id=provider_id, order_ids=order_ids))


@pytest.mark.parametrize("status", [Status.CANCELED, Status.PARTIAL, Status.COMPLETED])
def test_staff_final_status_made_during_a_poll_is_not_overwritten(buyer, staff, make_service, sim, status):
    order = in_progress_order(buyer, make_service, sim)
    assert claim_batch(order.provider_id) == [order.pk]
    thread = poll_slowly(sim, order.provider_id, [order.pk])

    remains = order.quantity // 2 if status == Status.PARTIAL else None
    outcome = services.order_mark_final(order_id=order.pk, status=status, actor_id=staff.pk, remains=remains)
    assert outcome.done
    decided = Order.objects.get(pk=order.pk)
    thread.join(timeout=10)
    assert thread.results == [0], "the poll wrote over a final order"

    after = Order.objects.get(pk=order.pk)
    assert (after.status, after.remains, after.refunded) == (decided.status, decided.remains, decided.refunded)
    assert after.settled_at is not None
    assert LedgerEntry.objects.filter(order_id=order.pk, kind="refund").count() == (status != Status.COMPLETED)
    assert ledger_drift() == []
    buyer.refresh_from_db()
    assert buyer.balance == Decimal("1000") - after.charge + after.refunded


def test_an_order_moved_away_during_a_poll_keeps_its_new_state(buyer, staff, make_service, sim):
    order = in_progress_order(buyer, make_service, sim)
    thread = poll_slowly(sim, order.provider_id, [order.pk])
    # Staff (or a sweep) changes the order's upstream identity while the poll waits.
    Order.objects.filter(pk=order.pk).update(forward_state=ForwardState.UNKNOWN, needs_attention=True)
    thread.join(timeout=10)
    assert thread.results == [0]
    after = Order.objects.get(pk=order.pk)
    assert after.status == Status.PENDING and after.forward_state == ForwardState.UNKNOWN


def test_a_refill_status_changed_during_its_poll_is_not_overwritten(buyer, staff, make_service, sim):
    from orders.models import Refill

    service = make_service("Default", refill=True, dripfeed=False)
    order = order_place(
        user=buyer, service_id=service.pk, data={"link": "https://x.com/refill", "quantity": service.min * 3}
    ).order
    order_forward(order_id=order.pk)  # already sent by the task enqueued on commit, if eager
    order.refresh_from_db()
    assert order.forward_state == ForwardState.SENT
    Order.objects.filter(pk=order.pk).update(status=Status.COMPLETED, remains=0, completed_at=timezone.now())
    refill = Refill.objects.create(
        order=order,
        user=buyer,
        provider_id=order.provider_id,
        state=Refill.State.SENT,
        status=Refill.Status.PENDING,
        upstream_refill_id="999999",
        next_check_at=timezone.now(),
    )
    thread = in_background(sim, lambda: refills_poll(provider_id=order.provider_id, refill_ids=[refill.pk]))
    Refill.objects.filter(pk=refill.pk).update(status=Refill.Status.REJECTED, state=Refill.State.REJECTED)
    thread.join(timeout=10)
    assert Refill.objects.get(pk=refill.pk).status == Refill.Status.REJECTED
