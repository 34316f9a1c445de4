import socket
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.ledger import ledger_drift
from accounts.models import LedgerEntry
from orders.cancels import cancel_error
from orders.forwarding import UNKNOWN_RESENDS, CircuitBreaker, order_forward
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


# --- Unknown outcomes at a provider that honours idempotency keys ----------------------------


def queued_order(customer, make_service, link: str) -> Order:
    service = make_service("Default", dripfeed=False)
    order = order_place(user=customer, service_id=service.pk, data={"link": link, "quantity": service.min}).order
    Order.objects.filter(pk=order.pk).update(forward_state=ForwardState.QUEUED, upstream_order_id="")
    return order


def resend_due(order):
    Order.objects.filter(pk=order.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_an_unknown_outcome_is_resent_with_the_same_key_when_the_provider_honours_keys(
    customer, make_service, sim, provider
):
    provider.honours_idempotency_keys = True
    provider.save()
    order = queued_order(customer, make_service, "https://x.com/idem")
    sim.faults(drop_after_accept_rate=1.0)
    created = sim.stats()["orders_created"]
    assert order_forward(order_id=order.pk) == "resend"
    order.refresh_from_db()
    assert order.forward_state == ForwardState.UNKNOWN and not order.needs_attention
    assert order.next_attempt_at is not None
    # Not canceled as "never sent": the provider may have it.
    assert cancel_error(order) is not None

    sim.faults(drop_after_accept_rate=0.0)
    resend_due(order)
    assert order_forward(order_id=order.pk) == "sent"
    order.refresh_from_db()
    assert order.forward_state == ForwardState.SENT and order.upstream_order_id
    # The simulator created the order once: the resend got the order it already had.
    assert sim.stats()["orders_created"] == created + 1


def test_resends_are_bounded_then_the_order_waits_for_staff(customer, make_service, sim, provider):
    provider.honours_idempotency_keys = True
    provider.save()
    order = queued_order(customer, make_service, "https://x.com/idem2")
    sim.faults(drop_after_accept_rate=1.0)
    outcomes = []
    for _ in range(UNKNOWN_RESENDS + 2):
        resend_due(order)
        outcomes.append(order_forward(order_id=order.pk))
    assert outcomes[: UNKNOWN_RESENDS - 1] == ["resend"] * (UNKNOWN_RESENDS - 1)
    assert outcomes[UNKNOWN_RESENDS - 1] == "unknown"
    assert set(outcomes[UNKNOWN_RESENDS:]) == {"skipped"}
    order.refresh_from_db()
    assert order.forward_state == ForwardState.UNKNOWN and order.needs_attention
    assert sim.stats()["orders_created"] <= 1


def test_a_provider_that_does_not_honour_keys_leaves_unknown_orders_for_staff(customer, make_service, sim):
    order = queued_order(customer, make_service, "https://x.com/idem3")
    sim.faults(drop_after_accept_rate=1.0)
    assert order_forward(order_id=order.pk) == "unknown"
    sim.faults(drop_after_accept_rate=0.0)
    resend_due(order)
    assert order_forward(order_id=order.pk) == "skipped"
    sweep(enqueue_forward=lambda order_id: None, enqueue_refills=lambda ids: None, enqueue_cancels=lambda ids: None)
    order.refresh_from_db()
    assert order.forward_state == ForwardState.UNKNOWN and order.needs_attention


def test_the_key_is_left_out_for_a_provider_that_refuses_unknown_parameters(customer, make_service, provider):
    import responses

    provider.send_idempotency_key = False
    provider.save()
    order = queued_order(customer, make_service, "https://x.com/nokey")
    with responses.RequestsMock() as mock:
        call = mock.post(provider.api_url, json={"order": 555})
        assert order_forward(order_id=order.pk) == "sent"
        body = call.calls[0].request.body
        body = body.decode() if isinstance(body, bytes) else body
        assert "idempotency_key" not in body and "Idempotency-Key" not in call.calls[0].request.headers


def test_the_sweeper_resends_a_lapsed_send_at_a_provider_that_honours_keys(customer, make_service, provider):
    provider.honours_idempotency_keys = True
    provider.save()
    service = make_service("Default", dripfeed=False)
    order = order_place(
        user=customer, service_id=service.pk, data={"link": "https://x.com/lapse", "quantity": service.min}
    ).order
    past = timezone.now() - timedelta(minutes=10)
    Order.objects.filter(pk=order.pk).update(
        forward_state=ForwardState.SENDING, lease_until=past, send_started_at=past, upstream_order_id=""
    )
    enqueued = []
    counts = sweep(enqueue_forward=enqueued.append, enqueue_refills=lambda ids: None, enqueue_cancels=lambda ids: None)
    assert counts["resending"] == 1 and counts["may_have_sent"] == 0
    order.refresh_from_db()
    assert order.forward_state == ForwardState.UNKNOWN and not order.needs_attention
    assert order.pk in enqueued
