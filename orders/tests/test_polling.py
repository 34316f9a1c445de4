from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.ledger import ledger_drift
from accounts.models import LedgerEntry
from orders.cancels import cancel_request
from orders.forwarding import order_forward
from orders.maintenance import reconcile
from orders.models import CancelRequest, ForwardState, Order, Refill, Status
from orders.placement import order_place
from orders.polling import claim_batch, poll_batch, poll_pass
from orders.refills import refill_request, refills_forward, refills_poll
from orders.settlement import order_settle


def place_and_send(customer, service, count, *, prefix="p"):
    orders = []
    for i in range(count):
        order = order_place(
            user=customer,
            service_id=service.pk,
            data={"link": f"https://x.com/{prefix}{i}", "quantity": service.min * 3},
        ).order
        assert order_forward(order_id=order.pk) == "sent"
        orders.append(order)
    return orders


def make_due():
    Order.objects.filter(forward_state=ForwardState.SENT).update(next_check_at=timezone.now() - timedelta(seconds=1))


def run_pass():
    calls = []
    result = poll_pass(
        enqueue=lambda provider_id, ids: calls.append(poll_batch(provider_id=provider_id, order_ids=ids))
    )
    return result, calls


def expected_refund(order: Order) -> Decimal:
    if order.status == Status.CANCELED:
        return order.charge
    if order.status == Status.PARTIAL:
        return (order.charge * order.remains / order.units).quantize(Decimal("0.00001"), rounding=ROUND_DOWN)
    return Decimal("0")


def test_orders_move_to_final_statuses_with_exact_refunds(customer, make_service, sim):
    service = make_service("Default", dripfeed=False)
    orders = place_and_send(customer, service, 40)
    make_due()
    run_pass()
    assert set(Order.objects.values_list("status", flat=True)) == {Status.PENDING}

    sim.clock.advance(5)
    make_due()
    run_pass()
    assert Order.objects.filter(status=Status.IN_PROGRESS).count() == 40

    sim.clock.advance(60)
    make_due()
    run_pass()
    statuses = set(Order.objects.values_list("status", flat=True))
    assert statuses <= {Status.COMPLETED, Status.PARTIAL, Status.CANCELED}
    assert {Status.PARTIAL, Status.CANCELED} & statuses, "the seed should give some refunds"
    for order in Order.objects.filter(pk__in=[o.pk for o in orders]):
        assert order.refunded == expected_refund(order), order.status
        assert order.settled_at is not None
        refunds = LedgerEntry.objects.filter(order_id=order.pk, kind="refund")
        assert refunds.count() == (1 if order.refunded else 0)
    # The customer paid exactly what was kept.
    customer.refresh_from_db()
    kept = sum(o.charge - o.refunded for o in Order.objects.all())
    assert customer.balance == Decimal("1000") - kept
    assert ledger_drift() == []


def test_replayed_polls_and_settles_never_refund_twice(customer, make_service, sim):
    service = make_service("Default", dripfeed=False)
    orders = place_and_send(customer, service, 30)
    sim.clock.advance(100)
    for _ in range(3):
        make_due()
        Order.objects.update(status=Status.IN_PROGRESS)  # as if an earlier poll result were replayed
        run_pass()
        for order in orders:
            order_settle(order_id=order.pk)
    refunded = Order.objects.aggregate(t=Sum("refunded"))["t"]
    ledger_refunds = LedgerEntry.objects.filter(kind="refund").aggregate(t=Sum("amount"))["t"] or 0
    assert refunded == ledger_refunds
    assert all(LedgerEntry.objects.filter(order_id=o.pk, kind="refund").count() <= 1 for o in Order.objects.all())
    assert ledger_drift() == []


def test_a_pass_uses_one_status_call_per_100_orders(customer, make_service, sim):
    service = make_service("Default", dripfeed=False)
    place_and_send(customer, service, 250)
    before = sim.stats()["requests"].get("status", 0)
    make_due()
    result, _ = run_pass()
    assert result.batches == 3 and result.orders == 250
    assert sim.stats()["requests"]["status"] - before == 3


def test_claimed_batches_are_not_claimed_again_by_an_overlapping_pass(customer, make_service, sim, provider):
    service = make_service("Default", dripfeed=False)
    place_and_send(customer, service, 150)
    make_due()
    first = claim_batch(provider.pk)
    second = claim_batch(provider.pk)
    third = claim_batch(provider.pk)
    assert len(first) == 100 and len(second) == 50 and third == []
    assert not set(first) & set(second)


def test_a_batch_writes_once_whatever_its_size(customer, make_service, sim, provider):
    service = make_service("Default", dripfeed=False)
    orders = place_and_send(customer, service, 100)
    sim.clock.advance(5)
    ids = [o.pk for o in orders]
    with CaptureQueriesContext(connection) as ctx:
        poll_batch(provider_id=provider.pk, order_ids=ids)
    writes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith(("UPDATE", "INSERT"))]
    assert Order.objects.filter(status=Status.IN_PROGRESS).count() == 100
    # One UPDATE of the orders and one INSERT of their timeline events.
    assert len(writes) == 2, writes


def test_missing_ids_and_errors_are_no_information(customer, make_service, sim, provider):
    service = make_service("Default", dripfeed=False)
    [order] = place_and_send(customer, service, 1)
    Order.objects.filter(pk=order.pk).update(upstream_order_id="999999999")
    sim.clock.advance(100)
    poll_batch(provider_id=provider.pk, order_ids=[order.pk])
    order.refresh_from_db()
    assert order.status == Status.PENDING and order.refunded == 0


def test_refill_flow(customer, make_service, sim, provider):
    service = make_service("Default", refill=True, dripfeed=False)
    orders = place_and_send(customer, service, 12)
    sim.clock.advance(100)
    make_due()
    run_pass()
    completed = Order.objects.filter(status=Status.COMPLETED).first()
    pending = order_place(
        user=customer, service_id=service.pk, data={"link": "https://x.com/z", "quantity": service.min}
    )
    outcomes = refill_request(user_id=customer.pk, order_ids=[completed.pk, pending.order.pk, 424242])
    assert outcomes[0].id and outcomes[0].error is None
    assert outcomes[1].error == "The order is not completed"
    assert outcomes[2].error == "Incorrect order ID"
    again = refill_request(user_id=customer.pk, order_ids=[completed.pk])
    assert again[0].error == "Refill already requested for this order"
    assert refills_forward(refill_ids=[outcomes[0].id]) == 1
    refill = Refill.objects.get(pk=outcomes[0].id)
    assert refill.state == Refill.State.SENT and refill.upstream_refill_id
    sim.clock.advance(1000)
    refills_poll(provider_id=provider.pk, refill_ids=[refill.pk])
    refill.refresh_from_db()
    assert refill.status == Refill.Status.COMPLETED
    # Completed now, but within 24 hours of the last one.
    assert refill_request(user_id=customer.pk, order_ids=[completed.pk])[0].error.startswith("Refill was requested")
    assert orders


def test_refill_disabled_for_the_service(customer, make_service, sim):
    service = make_service("Default", refill=False, dripfeed=False)
    [order] = place_and_send(customer, service, 1)
    assert refill_request(user_id=customer.pk, order_ids=[order.pk])[0].error == "Refill is disabled for this service"


def test_cancel_before_sending_refunds_at_once(customer, make_service):
    service = make_service("Default", cancel=True, dripfeed=False)
    order = order_place(user=customer, service_id=service.pk, data={"link": "https://x.com/c", "quantity": service.min})
    [outcome] = cancel_request(user_id=customer.pk, order_ids=[order.order.pk])
    assert outcome.error is None
    order.order.refresh_from_db()
    assert order.order.status == Status.CANCELED and order.order.refunded == order.order.charge
    assert order_forward(order_id=order.order.pk) == "skipped"


def test_cancel_through_the_provider_ends_canceled_with_refund(customer, make_service, sim, provider):
    from orders.cancels import cancels_forward

    service = make_service("Default", cancel=True, dripfeed=False)
    [order] = place_and_send(customer, service, 1)
    [outcome] = cancel_request(user_id=customer.pk, order_ids=[order.pk])
    assert outcome.error is None
    assert cancels_forward(cancel_ids=[outcome.id]) == 1
    run_pass()
    order.refresh_from_db()
    assert order.status == Status.CANCELED and order.refunded == order.charge
    assert CancelRequest.objects.get(pk=outcome.id).state == CancelRequest.State.DONE
    assert ledger_drift() == []


def test_cancel_refused_where_the_service_does_not_allow_it(customer, make_service, sim):
    service = make_service("Default", cancel=False, dripfeed=False)
    [order] = place_and_send(customer, service, 1)
    assert cancel_request(user_id=customer.pk, order_ids=[order.pk])[0].error == "Cancel is disabled for this service"


def test_reconcile_applies_a_missing_refund_once_and_reports(customer, make_service, sim):
    service = make_service("Default", dripfeed=False)
    [order] = place_and_send(customer, service, 1)
    # A final status written without its refund (e.g. a crash between the two).
    Order.objects.filter(pk=order.pk).update(status=Status.CANCELED)
    report = reconcile()
    assert report.data["refunds_applied"] == [{"order": order.pk, "refunded": str(order.charge)}]
    assert reconcile().data["refunds_applied"] == []
    order.refresh_from_db()
    assert order.refunded == order.charge
    call_command("reconcile")
    call_command("check_ledger")


def test_reconcile_flags_cost_mismatches(customer, make_service, sim):
    service = make_service("Default", dripfeed=False)
    [order] = place_and_send(customer, service, 1)
    Order.objects.filter(pk=order.pk).update(cost_actual=order.cost_expected * 3 + 1, status=Status.COMPLETED)
    report = reconcile()
    assert not report.ok
    assert report.data["cost_mismatches"][0]["order"] == order.pk


@pytest.mark.parametrize("word", ["Cancelled", "canceled", "CANCELED", "5"])
def test_status_words_are_normalised(customer, make_service, sim, provider, word):
    import responses

    service = make_service("Default", dripfeed=False)
    [order] = place_and_send(customer, service, 1)
    order.refresh_from_db()
    with responses.RequestsMock() as mock:
        mock.post(
            provider.api_url,
            json={order.upstream_order_id: {"charge": "0", "start_count": "1", "status": word, "remains": "5"}},
        )
        poll_batch(provider_id=provider.pk, order_ids=[order.pk])
    order.refresh_from_db()
    assert order.status == Status.CANCELED and order.refunded == order.charge


def test_an_order_named_twice_gets_one_cancel_and_one_refill(customer, make_service, sim):
    service = make_service("Default", dripfeed=False, cancel=True)
    queued = order_place(
        user=customer, service_id=service.pk, data={"link": "https://x.com/dup", "quantity": service.min}
    ).order
    outcomes = cancel_request(user_id=customer.pk, order_ids=[queued.pk, str(queued.pk), f" {queued.pk}"])
    assert len(outcomes) == 3 and outcomes[0].id and outcomes[0] == outcomes[1] == outcomes[2]
    assert CancelRequest.objects.filter(order=queued).count() == 1
    assert not CancelRequest.objects.filter(order=queued).exclude(state=CancelRequest.State.DONE).exists()

    refillable = make_service("Default", refill=True, dripfeed=False)
    [order] = place_and_send(customer, refillable, 1, prefix="dup")
    Order.objects.filter(pk=order.pk).update(status=Status.COMPLETED, remains=0, completed_at=timezone.now())
    outcomes = refill_request(user_id=customer.pk, order_ids=[order.pk, order.pk])
    assert len(outcomes) == 2 and outcomes[0].id and outcomes[0] == outcomes[1]
    assert Refill.objects.filter(order=order).count() == 1


def poll_answer(provider, order, answer: dict) -> Order:
    import responses

    with responses.RequestsMock() as mock:
        mock.post(provider.api_url, json={order.upstream_order_id: answer})
        poll_batch(provider_id=provider.pk, order_ids=[order.pk])
    return Order.objects.get(pk=order.pk)


def dripfeed_order(customer, make_service) -> Order:
    service = make_service("Default", dripfeed=True)
    order = order_place(
        user=customer,
        service_id=service.pk,
        data={"link": "https://x.com/drip", "quantity": service.min, "runs": 5, "interval": 10},
    ).order
    assert order_forward(order_id=order.pk) == "sent"
    return Order.objects.get(pk=order.pk)


def test_partial_dripfeed_without_remains_is_refunded_for_the_runs_not_delivered(customer, make_service, provider):
    order = dripfeed_order(customer, make_service)
    # As a real peer panel answers: runs delivered, no remains at all.
    order = poll_answer(provider, order, {"status": "Partial", "runs": "3", "orders": [], "charge": "0"})
    assert order.status == Status.PARTIAL
    assert order.remains == 2 * order.quantity
    assert order.refunded == (order.charge * 2 / 5).quantize(Decimal("0.00001"), rounding=ROUND_DOWN)
    assert order.settled_at is not None and not order.needs_attention
    assert ledger_drift() == []


def test_partial_without_remains_or_runs_waits_for_staff_instead_of_settling_as_no_refund(
    customer, make_service, provider
):
    [order] = place_and_send(customer, make_service("Default", dripfeed=False), 1, prefix="noremains")
    order = Order.objects.get(pk=order.pk)
    Order.objects.filter(pk=order.pk).update(remains=order.quantity // 2)  # an earlier, stale answer
    order = poll_answer(provider, order, {"status": "Partial", "charge": "0", "start_count": "10"})
    assert order.status == Status.PARTIAL and order.remains is None
    assert order.refunded == 0 and order.settled_at is None
    assert order.needs_attention and "without remains" in order.attention_reason
    assert not LedgerEntry.objects.filter(order_id=order.pk, kind="refund").exists()
    # Polling again or reconciling does not settle it either, nor flag it twice.
    order_settle(order_id=order.pk)
    assert Order.objects.get(pk=order.pk).settled_at is None
    assert order.events.filter(kind="attention").count() == 1


def test_completed_leaves_nothing_remaining_whatever_the_provider_says(customer, make_service, provider):
    order = dripfeed_order(customer, make_service)
    order = poll_answer(provider, order, {"status": "Completed", "remains": "200", "runs": "5", "charge": "0"})
    assert order.status == Status.COMPLETED and order.remains == 0 and order.refunded == 0


def test_expired_subscription_is_refunded_for_the_posts_not_made(customer, make_service, provider):
    service = make_service("Subscriptions")
    data = {"username": "someone", "min": service.min, "max": service.min, "posts": 5, "delay": 0}
    order = order_place(user=customer, service_id=service.pk, data=data).order
    assert order_forward(order_id=order.pk) == "sent"
    order = Order.objects.get(pk=order.pk)
    order = poll_answer(provider, order, {"status": "Expired", "posts": "2", "charge": "0"})
    assert order.status == Status.PARTIAL and order.remains == 3 * order.quantity
    assert order.refunded == (order.charge * 3 / 5).quantize(Decimal("0.00001"), rounding=ROUND_DOWN)
