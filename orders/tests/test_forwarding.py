import socket
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.ledger import ledger_drift
from accounts.models import LedgerEntry
from orders.forwarding import CircuitBreaker, order_forward
from orders.maintenance import sweep
from orders.models import ForwardState, Order, Status
from orders.placement import order_place
from testing.concurrency import run_together
from upstream.models import Provider


@pytest.fixture
def order(customer, make_service):
    service = make_service("Default", dripfeed=False)
    return order_place(
        user=customer, service_id=service.pk, data={"link": "https://x.com/f", "quantity": service.min}
    ).order


def refreshed(order) -> Order:
    return Order.objects.get(pk=order.pk)


def test_sent_keeps_the_upstream_id_and_schedules_a_poll(order, sim):
    assert order_forward(order_id=order.pk) == "sent"
    order = refreshed(order)
    assert order.forward_state == ForwardState.SENT
    assert order.upstream_order_id and order.next_check_at
    assert sim.stats()["orders_created"] == 1


def test_forwarding_twice_sends_once(order, sim):
    assert order_forward(order_id=order.pk) == "sent"
    assert order_forward(order_id=order.pk) == "skipped"
    assert sim.stats()["orders_created"] == 1


def test_not_sent_goes_back_to_the_queue_with_backoff(order, provider):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    Provider.objects.filter(pk=provider.pk).update(api_url=f"http://127.0.0.1:{closed_port}/api/v2")
    assert order_forward(order_id=order.pk) == "not_sent"
    order = refreshed(order)
    assert order.forward_state == ForwardState.QUEUED and order.status == Status.PENDING
    assert order.next_attempt_at > timezone.now()
    assert order.attempts == 1 and not order.needs_attention
    # Still charged while it waits.
    assert LedgerEntry.objects.filter(order_id=order.pk, kind="refund").count() == 0
    # Not due yet: a second task does nothing.
    assert order_forward(order_id=order.pk) == "skipped"


def test_rejected_cancels_and_refunds_in_full(order, sim, customer):
    sim.faults(error_rate=1.0)
    assert order_forward(order_id=order.pk) == "rejected"
    order = refreshed(order)
    assert order.forward_state == ForwardState.REJECTED and order.status == Status.CANCELED
    assert order.upstream_error == "Service temporarily unavailable"
    assert order.refunded == order.charge
    customer.refresh_from_db()
    assert customer.balance == Decimal("1000")
    assert ledger_drift() == []


def test_provider_out_of_funds_keeps_the_order_queued_and_alerts(order, sim, provider):
    sim.faults(out_of_funds=True)
    assert order_forward(order_id=order.pk) == "provider_out_of_funds"
    order = refreshed(order)
    assert order.forward_state == ForwardState.QUEUED and order.status == Status.PENDING
    assert order.needs_attention and "out of funds" in order.attention_reason
    assert order.refunded == 0
    provider.refresh_from_db()
    assert provider.low_balance


def test_drop_after_accept_is_unknown_and_never_resent(order, sim):
    sim.faults(drop_after_accept_rate=1.0)
    assert order_forward(order_id=order.pk) == "unknown"
    order = refreshed(order)
    assert order.forward_state == ForwardState.UNKNOWN and order.needs_attention
    assert order.status == Status.PENDING and order.refunded == 0
    sim.faults(drop_after_accept_rate=0.0)
    # Neither a second task nor the sweeper sends it again.
    assert order_forward(order_id=order.pk) == "skipped"
    sweep(enqueue_forward=lambda i: order_forward(order_id=i), enqueue_refills=list, enqueue_cancels=list)
    assert sim.stats()["orders_created"] == 1


def test_read_timeout_is_unknown(order, sim, provider):
    Provider.objects.filter(pk=provider.pk).update(read_timeout=Decimal("0.5"))
    sim.faults(timeout_rate=1.0)
    assert order_forward(order_id=order.pk) == "unknown"
    assert refreshed(order).needs_attention


@pytest.mark.parametrize("fault", ["http_500_rate", "html_rate"])
def test_server_errors_and_html_pages_are_unknown(order, sim, fault):
    sim.faults(**{fault: 1.0})
    assert order_forward(order_id=order.pk) == "unknown"


def test_circuit_breaker_defers_orders_while_the_provider_is_down(order, provider):
    breaker = CircuitBreaker(provider.pk)
    for _ in range(CircuitBreaker.THRESHOLD):
        breaker.failure()
    assert breaker.is_open()
    assert order_forward(order_id=order.pk) == "deferred"
    order = refreshed(order)
    assert order.forward_state == ForwardState.QUEUED and order.attempts == 0
    breaker.success()
    Order.objects.filter(pk=order.pk).update(next_attempt_at=None)
    assert order_forward(order_id=order.pk) == "sent"


def test_sweeper_tells_died_before_sending_from_may_have_sent(customer, make_service, sim):
    service = make_service("Default", dripfeed=False)
    a, b, c = (
        order_place(user=customer, service_id=service.pk, data={"link": f"https://x.com/{i}", "quantity": service.min})
        for i in range(3)
    )
    past = timezone.now() - timedelta(minutes=10)
    Order.objects.filter(pk=a.order.pk).update(forward_state=ForwardState.SENDING, lease_until=past)
    Order.objects.filter(pk=b.order.pk).update(
        forward_state=ForwardState.SENDING, lease_until=past, send_started_at=past
    )
    Order.objects.filter(pk=c.order.pk).update(created_at=past)  # its task was lost
    sent = []
    counts = sweep(enqueue_forward=sent.append, enqueue_refills=list, enqueue_cancels=list)
    assert counts["died_before_sending"] == 1 and counts["may_have_sent"] == 1
    assert refreshed(a.order).forward_state == ForwardState.QUEUED
    b_order = refreshed(b.order)
    assert b_order.forward_state == ForwardState.UNKNOWN and b_order.needs_attention
    assert set(sent) >= {c.order.pk}
    for order_id in sent:
        order_forward(order_id=order_id)
    assert refreshed(c.order).forward_state == ForwardState.SENT
    assert sim.stats()["orders_created"] == len(sent)


@pytest.mark.django_db(transaction=True)
def test_concurrent_forward_tasks_send_one_order_once(sim, make_service, provider):
    from accounts.ledger import ledger_credit
    from accounts.models import User

    user = User.objects.create(username="dup")
    ledger_credit(user_id=user.pk, amount=Decimal("100"))
    service = make_service("Package")
    order = Order.objects.create(
        user=user,
        service=service,
        provider=provider,
        upstream_service_id=service.upstream.upstream_id,
        link="https://x.com/p",
        quantity=1,
        charge=Decimal("0"),
        cost_expected=Decimal("0"),
    )
    outcomes = run_together(8, lambda _: order_forward(order_id=order.pk))
    assert outcomes.count("sent") == 1 and outcomes.count("skipped") == 7
    assert sim.stats()["orders_created"] == 1
