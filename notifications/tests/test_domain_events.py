"""The domain raises its events in one place each, once: orders polled to their end over the
simulator reach the customer's webhook as "order.status" and "order.final" (with the refund),
refills as "refill.status", and orders left for staff as a staff alert."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from notifications.models import Event
from orders.forwarding import order_forward
from orders.models import ForwardState, Order, Refill, Status
from orders.placement import order_place
from orders.polling import poll_batch, poll_pass
from orders.refills import refill_request, refills_forward, refills_poll
from orders.settlement import order_settle

# Real commits: each event is dispatched (eager Celery) when its action commits, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def poll_all():
    Order.objects.filter(forward_state=ForwardState.SENT).update(next_check_at=timezone.now() - timedelta(seconds=1))
    poll_pass(enqueue=lambda provider_id, ids: poll_batch(provider_id=provider_id, order_ids=ids))


def test_polled_orders_reach_the_webhook_once_each_with_their_refund(customer, make_service, sim, endpoint, receiver):
    service = make_service("Default", dripfeed=False)
    orders = []
    for i in range(12):
        order = order_place(
            user=customer, service_id=service.pk, data={"link": f"https://x.com/{i}", "quantity": service.min * 3}
        ).order
        order_forward(order_id=order.pk)  # already sent on commit (eager Celery): a no-op then
        orders.append(order)
    assert set(Order.objects.values_list("forward_state", flat=True)) == {ForwardState.SENT}
    poll_all()
    sim.clock.advance(5)
    poll_all()
    sim.clock.advance(60)
    poll_all()
    for order in orders:  # settling again raises nothing new
        order_settle(order_id=order.pk)
    poll_all()

    assert all(request["verified"] for request in receiver.requests)
    finals = {event["data"]["order"]: event for event in receiver.events if event["type"] == "order.final"}
    assert sorted(finals) == sorted(o.pk for o in orders)
    for order in Order.objects.filter(pk__in=finals):
        data = finals[order.pk]["data"]
        assert data["status"] == order.status
        assert Decimal(data["charge"]) == order.charge
        assert Decimal(data["refund"]) == order.refunded
        assert data["remains"] == order.remains
    assert {Status.PARTIAL, Status.CANCELED} & {order["data"]["status"] for order in finals.values()}
    statuses = [event for event in receiver.events if event["type"] == "order.status"]
    assert {event["data"]["status"] for event in statuses} == {Status.IN_PROGRESS}
    assert {event["data"]["previous"] for event in statuses} == {Status.PENDING}
    # One delivery per event: no event ID arrived twice.
    ids = [request["headers"]["webhook-id"] for request in receiver.requests]
    assert len(ids) == len(set(ids)) == Event.objects.filter(user=customer).count()


def test_refill_done_reaches_the_webhook(customer, make_service, sim, provider, endpoint, receiver):
    service = make_service("Default", refill=True, dripfeed=False)
    for i in range(6):
        order = order_place(
            user=customer, service_id=service.pk, data={"link": f"https://x.com/r{i}", "quantity": service.min * 3}
        ).order
        order_forward(order_id=order.pk)
    sim.clock.advance(100)
    poll_all()
    completed = Order.objects.filter(status=Status.COMPLETED).first()
    refill_id = refill_request(user_id=customer.pk, order_ids=[completed.pk])[0].id
    refills_forward(refill_ids=[refill_id])
    sim.clock.advance(1000)
    refills_poll(provider_id=provider.pk, refill_ids=[refill_id])
    refills_poll(provider_id=provider.pk, refill_ids=[refill_id])
    events = [event for event in receiver.events if event["type"] == "refill.status"]
    assert [event["data"] for event in events] == [
        {"refill": refill_id, "order": completed.pk, "status": Refill.Status.COMPLETED, "error": ""}
    ]


def test_an_order_left_for_staff_raises_one_staff_alert(customer, make_service, sim, settings):
    settings.NOTIFY_STAFF_EMAILS = ["ops@example.com"]
    service = make_service("Default", dripfeed=False)
    order = order_place(
        user=customer, service_id=service.pk, data={"link": "https://x.com/a", "quantity": service.min}
    ).order
    Order.objects.filter(pk=order.pk).update(
        forward_state=ForwardState.SENT, upstream_order_id="1", status=Status.PARTIAL, remains=None
    )
    order_settle(order_id=order.pk)
    order_settle(order_id=order.pk)
    alert = Event.objects.get(kind="order.attention")
    assert alert.user_id is None
    assert alert.data["order"] == order.pk and "Partial without remains" in alert.data["message"]
    assert alert.deliveries.get().channel == "staff_email"


# --- Staff alerts and support, raised once each -------------------------------------------------


def test_tickets_raise_a_staff_alert_and_answers_tell_the_customer(customer, django_user_model):
    from support.services import ticket_open, ticket_reply

    staff = django_user_model.objects.create(username="agent", is_staff=True)
    ticket = ticket_open(user=customer, subject="Where is my order?", body="Order 5", topic="order")
    ticket_reply(ticket=ticket, author=customer, body="Any news?")
    answer = ticket_reply(ticket=ticket, author=staff, body="Delivered now.")
    assert list(Event.objects.order_by("id").values_list("kind", "key", "user_id")) == [
        ("ticket.new", f"ticket:{ticket.pk}:new", None),
        ("ticket.answered", f"ticket-message:{answer.pk}", customer.pk),
    ]
    assert Event.objects.get(kind="ticket.new").data["message"] == f"Ticket {ticket.pk} from buyer: Where is my order?"


def test_a_failed_sync_raises_one_staff_alert_per_run(db):
    from catalog.sync.run import sync_provider
    from upstream.models import Provider

    provider = Provider.objects.create(name="down", api_url="http://127.0.0.1:9/api/v2", api_key="k")
    run = sync_provider(provider_id=provider.pk)
    assert run.ok is False
    alert = Event.objects.get(kind="sync.failed")
    assert alert.key == f"sync-run:{run.pk}" and alert.data["message"].startswith("Sync of down failed:")


def test_a_low_provider_balance_is_one_alert_a_day(provider):
    from upstream.services import provider_refresh_balance

    type(provider).objects.filter(pk=provider.pk).update(low_balance_threshold=Decimal("1000000000"))
    provider_refresh_balance(provider_id=provider.pk)
    provider_refresh_balance(provider_id=provider.pk)
    alert = Event.objects.get(kind="provider.balance_low")
    assert alert.key == f"provider:{provider.pk}:balance-low:{timezone.now():%Y-%m-%d}"
    assert alert.data["message"].startswith("sim: balance ")


def test_a_circuit_that_opens_is_one_alert(db):
    from orders.forwarding import CircuitBreaker

    breaker = CircuitBreaker(4242)
    breaker.success()
    for _ in range(CircuitBreaker.THRESHOLD + 3):
        breaker.failure()
    assert breaker.is_open()
    alert = Event.objects.get(kind="provider.failing")
    assert alert.key == f"provider:4242:circuit:{timezone.now():%Y-%m-%dT%H}"
    breaker.success()


def test_reconciliation_with_issues_is_an_alert(customer):
    from accounts.models import User
    from orders.maintenance import reconcile

    assert reconcile().ok and not Event.objects.filter(kind="reconcile.issues").exists()
    User.objects.filter(pk=customer.pk).update(balance=Decimal("999"))  # drift from its ledger
    report = reconcile()
    alert = Event.objects.get(kind="reconcile.issues")
    assert alert.key == f"reconcile:{report.pk}" and "1 balance(s) drift" in alert.data["message"]


# --- Deposits ------------------------------------------------------------------------------------


def test_a_deposit_request_alerts_staff_and_its_credit_tells_the_customer(customer, django_user_model):
    from billing.models import PaymentMethod
    from billing.services import deposit_approve, deposit_request_create

    staff = django_user_model.objects.create(username="cashier", is_staff=True)
    bank = PaymentMethod.objects.create(name="Bank", instructions="IBAN XX", min_amount=Decimal("10"))
    request = deposit_request_create(user=customer, method=bank, amount=Decimal("25"), reference="TX1")
    alert = Event.objects.get(kind="deposit.pending")
    assert alert.user_id is None and alert.key == f"deposit-request:{request.pk}:pending"
    assert alert.data["message"] == f"Deposit request {request.pk} from buyer: 25 USD by Bank"
    assert deposit_approve(deposit_id=request.pk, actor_id=staff.pk)
    assert not deposit_approve(deposit_id=request.pk, actor_id=staff.pk)
    credited = Event.objects.get(kind="deposit.credited")
    assert credited.user_id == customer.pk
    assert (Decimal(credited.data["amount"]), credited.data["currency"]) == (Decimal("25"), "USD")


def test_a_gateway_deposit_credited_by_staff_tells_the_customer_once(customer, django_user_model):
    from billing.models import Deposit, PaymentMethod
    from billing.payments import deposit_credit_manually

    staff = django_user_model.objects.create(username="cashier", is_staff=True)
    card = PaymentMethod.objects.create(name="Card", kind="stripe", min_amount=Decimal("1"))
    deposit = Deposit.objects.create(
        user=customer,
        method=card,
        gateway="stripe",
        amount=Decimal("40"),
        charge_amount=Decimal("40"),
        charge_currency="USD",
    )
    assert deposit_credit_manually(deposit_id=deposit.pk, actor_id=staff.pk, note="receipt")
    assert not deposit_credit_manually(deposit_id=deposit.pk, actor_id=staff.pk)
    credited = Event.objects.get(kind="deposit.credited")
    assert credited.user_id == customer.pk and Decimal(credited.data["amount"]) == Decimal("40")
