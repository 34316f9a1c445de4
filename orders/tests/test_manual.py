"""Manual services: placed like any order, fulfilled by staff, settled by the same refund rule,
and answered by the API exactly like forwarded orders."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.ledger import ledger_drift
from accounts.models import AuditLog, LedgerEntry, User
from accounts.services import api_key_rotate
from api import throttling
from catalog.pricing import quote, refund_for_remains
from orders import manual
from orders.maintenance import reconcile, sweep
from orders.models import CancelRequest, ForwardState, Order, Refill, Status
from orders.placement import order_place
from orders.polling import poll_pass
from orders.selectors import COST
from orders.staff import ActionError
from testing.manual import make_manual_service

D = Decimal


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):
    settings.API_RATE_LIMITS = {"key": (100_000, 60), "ip": (100_000, 60)}
    throttling.reset()
    yield
    throttling.reset()


@pytest.fixture
def service(db):
    return make_manual_service()


@pytest.fixture
def staff(db):
    return User.objects.create(username="operator", is_staff=True, is_superuser=True)


@pytest.fixture
def key(customer):
    return api_key_rotate(user=customer)


def api(client, key, action, **params):
    response = client.post("/api/v2", {"key": key, "action": action, **params})
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def place(user, service, quantity=1000, **data):
    data = {"link": "https://example.com/p/1", "quantity": quantity, **data}
    return order_place(user=user, service_id=service.pk, data=data).order


def assert_clean_ledger(*users):
    assert ledger_drift() == []
    for user in users:
        user.refresh_from_db()
        total = sum(LedgerEntry.objects.filter(user=user).values_list("amount", flat=True))
        assert user.balance == total


def version(order_id):
    return manual.order_version(Order.objects.get(pk=order_id))


def test_a_manual_order_is_charged_like_any_other_and_waits_for_staff(
    customer, service, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order = place(customer, service, quantity=1500)
    assert callbacks == []  # nothing is enqueued: no forwarding for a manual order
    order.refresh_from_db()
    assert (order.forward_state, order.status) == (ForwardState.MANUAL, Status.PENDING)
    assert order.provider_id is None and order.upstream_service_id == ""
    expected = quote(service, customer, quantity=1500)
    assert order.charge == expected.charge == D("3.00000")
    assert order.cost_expected == D("0.75000")  # the staff-set cost per 1,000, for the reports
    customer.refresh_from_db()
    assert customer.balance == D("1000") - D("3.00000")
    assert LedgerEntry.objects.get(order_id=order.pk, kind="charge").amount == D("-3.00000")
    assert list(manual.manual_open_orders()) == [order]
    assert_clean_ledger(customer)


def test_placed_through_the_dashboard(client, customer, service, plain_static_storage):
    client.force_login(customer)
    response = client.post(
        reverse("dashboard:order_new"),
        {"service": service.pk, "idempotency_key": "k1", "link": "https://example.com/a", "quantity": 500},
    )
    assert response.status_code in (200, 302)
    order = Order.objects.get(user=customer)
    assert order.forward_state == ForwardState.MANUAL and order.charge == D("1.00000")
    # The customer's order pages show it like any other.
    page = client.get(reverse("dashboard:orders")).content.decode()
    assert f"{order.pk}" in page and "https://example.com/a" in page


def test_placed_through_the_api_and_answered_like_a_forwarded_order(client, customer, service, key, make_service, sim):
    forwarded_service = make_service("Default", dripfeed=False)
    manual_id = api(client, key, "add", service=service.pk, link="https://example.com/m", quantity=1000)["order"]
    forwarded_id = api(
        client, key, "add", service=forwarded_service.pk, link="https://example.com/f", quantity=forwarded_service.min
    )["order"]
    manual_order = Order.objects.get(pk=manual_id)
    assert manual_order.forward_state == ForwardState.MANUAL
    # The other is forwarded after commit (never here, inside the test's transaction).
    assert Order.objects.get(pk=forwarded_id).forward_state == ForwardState.QUEUED

    pending = api(client, key, "status", order=manual_id)
    other = api(client, key, "status", order=forwarded_id)
    assert list(pending) == list(other) == ["charge", "start_count", "status", "remains", "currency"]
    assert pending == {
        "charge": "2.00000",
        "start_count": "0",
        "status": "Pending",
        "remains": "1000",
        "currency": "USD",
    }
    assert all(isinstance(value, str) for value in pending.values())

    manual.manual_update(
        order_id=manual_id,
        actor_id=None,
        version=version(manual_id),
        status="In progress",
        start_count=120,
        remains=400,
    )
    assert api(client, key, "status", order=manual_id) == {
        "charge": "2.00000",
        "start_count": "120",
        "status": "In progress",
        "remains": "400",
        "currency": "USD",
    }
    both = api(client, key, "status", orders=f"{manual_id},{forwarded_id}")
    assert set(both[str(manual_id)]) == set(both[str(forwarded_id)])

    manual.manual_update(
        order_id=manual_id, actor_id=None, version=version(manual_id), status="Partial", remains=250, reason="ran out"
    )
    assert api(client, key, "status", order=manual_id) == {
        "charge": "1.50000",
        "start_count": "120",
        "status": "Partial",
        "remains": "250",
        "currency": "USD",
    }
    # The services list shows it like any other service (our ID, name and price only).
    listed = [s for s in api_client_services(client, key) if s["service"] == service.pk]
    assert listed and set(listed[0]) >= {
        "service",
        "name",
        "type",
        "category",
        "rate",
        "min",
        "max",
        "refill",
        "cancel",
    }


def api_client_services(client, key):
    return api(client, key, "services")


@pytest.mark.parametrize(
    ("status", "remains", "refund"),
    [
        ("Completed", None, D("0")),
        ("Partial", 333, refund_for_remains(D("2.00000"), 333, 1000)),
        ("Canceled", None, D("2.00000")),
    ],
)
def test_final_statuses_settle_by_the_refund_rule(customer, service, staff, status, remains, refund):
    order = place(customer, service)
    manual.manual_take(order_id=order.pk, actor_id=staff.pk)
    manual.manual_update(order_id=order.pk, actor_id=staff.pk, version=version(order.pk), start_count=50)
    updated, refunded = manual.manual_update(
        order_id=order.pk, actor_id=staff.pk, version=version(order.pk), status=status, remains=remains
    )
    assert updated.status == status and refunded == refund == updated.refunded
    assert updated.start_count == 50 and updated.settled_at is not None
    assert updated.claimed_by_id is None  # the claim ends with the order
    refunds = LedgerEntry.objects.filter(order_id=order.pk, kind="refund")
    assert sum(e.amount for e in refunds) == refund
    if refund:
        assert refunds.get().idempotency_key == f"refund:{order.pk}"
    assert_clean_ledger(customer)
    audit = AuditLog.objects.filter(action="order.manual_update", object_id=str(order.pk)).first()  # newest
    assert audit.actor_id == staff.pk and audit.after["status"] == status
    # Settling again (the reconciler, a replay) moves nothing.
    assert reconcile().ok
    assert LedgerEntry.objects.filter(order_id=order.pk, kind="refund").count() == (1 if refund else 0)


def test_partial_needs_remains_within_the_order_and_progress_is_bounded(customer, service, staff):
    order = place(customer, service)
    with pytest.raises(ActionError, match="Remains must be between 1 and 999"):
        manual.manual_update(order_id=order.pk, actor_id=staff.pk, version=version(order.pk), status="Partial")
    with pytest.raises(ActionError, match="Remains must be between 0 and 1000"):
        manual.manual_update(order_id=order.pk, actor_id=staff.pk, version=version(order.pk), remains=1001)
    with pytest.raises(ActionError, match="Status must be one of"):
        manual.manual_update(order_id=order.pk, actor_id=staff.pk, version=version(order.pk), status="Pending")
    with pytest.raises(ActionError, match="whole number"):
        manual.manual_update(order_id=order.pk, actor_id=staff.pk, version=version(order.pk), start_count="-5")
    order.refresh_from_db()
    assert order.status == Status.PENDING and order.refunded == 0
    manual.manual_update(order_id=order.pk, actor_id=staff.pk, version=version(order.pk), status="Completed")
    with pytest.raises(ActionError, match="back in progress"):
        manual.manual_update(order_id=order.pk, actor_id=staff.pk, version=version(order.pk), status="In progress")
    # A refund already paid is never taken back, and Completed -> Canceled refunds in full once.
    done, refunded = manual.manual_update(
        order_id=order.pk, actor_id=staff.pk, version=version(order.pk), status="Canceled"
    )
    assert refunded == D("2.00000") and done.refunded == done.charge
    assert_clean_ledger(customer)


def test_compare_and_set_refuses_a_stale_version(customer, service, staff):
    order = place(customer, service)
    read = version(order.pk)
    manual.manual_update(order_id=order.pk, actor_id=staff.pk, version=read, status="In progress", remains=900)
    with pytest.raises(manual.ChangedMeanwhile):
        manual.manual_update(order_id=order.pk, actor_id=staff.pk, version=read, status="Completed")
    order.refresh_from_db()
    assert order.status == Status.IN_PROGRESS and order.remains == 900


def test_a_live_claim_keeps_others_out_until_its_lease_lapses(customer, service, staff):
    other = User.objects.create(username="second", is_staff=True)
    order = place(customer, service)
    manual.manual_take(order_id=order.pk, actor_id=staff.pk)
    with pytest.raises(manual.TakenByOther):
        manual.manual_take(order_id=order.pk, actor_id=other.pk)
    with pytest.raises(manual.TakenByOther):
        manual.manual_update(order_id=order.pk, actor_id=other.pk, version=version(order.pk), status="Completed")
    assert manual.manual_pull(actor_id=other.pk) == []
    Order.objects.filter(pk=order.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    pulled = manual.manual_pull(actor_id=other.pk)
    assert [o.pk for o in pulled] == [order.pk] and pulled[0].claimed_by_id == other.pk
    manual.manual_release(order_id=order.pk, actor_id=other.pk)
    assert [o.pk for o in manual.manual_pull(actor_id=staff.pk, limit=5)] == [order.pk]


def test_refill_of_a_manual_order_waits_for_staff(client, customer, service, key, staff):
    order_id = api(client, key, "add", service=service.pk, link="https://example.com/r", quantity=1000)["order"]
    manual.manual_update(order_id=order_id, actor_id=staff.pk, version=version(order_id), status="Completed")
    answer = api(client, key, "refill", order=order_id)
    refill = Refill.objects.get(order_id=order_id)
    assert answer == {"refill": str(refill.pk)}
    assert (refill.state, refill.status, refill.provider_id) == (Refill.State.MANUAL, "Pending", None)
    assert api(client, key, "refill", order=order_id) == {"error": "Refill already requested for this order"}
    assert api(client, key, "refill_status", refill=refill.pk) == {"status": "Pending"}
    assert list(manual.manual_refills()) == [refill]
    manual.manual_refill_resolve(refill_id=refill.pk, actor_id=staff.pk, outcome="completed")
    assert api(client, key, "refill_status", refill=refill.pk) == {"status": "Completed"}
    assert AuditLog.objects.filter(action="refill.manual_resolve", actor=staff).count() == 1
    # A rejected one reads Rejected, as a provider's refusal does.
    Refill.objects.filter(pk=refill.pk).update(created_at=timezone.now() - timedelta(days=2))
    second = Refill.objects.get(pk=api(client, key, "refill", order=order_id)["refill"])
    manual.manual_refill_resolve(refill_id=second.pk, actor_id=staff.pk, outcome="rejected", reason="account private")
    assert api(client, key, "refill_status", refill=second.pk) == {"status": "Rejected"}


def test_cancel_of_a_manual_order_is_accepted_with_a_full_refund(client, customer, service, key, staff):
    order_id = api(client, key, "add", service=service.pk, link="https://example.com/c", quantity=1000)["order"]
    answer = api(client, key, "cancel", orders=str(order_id))
    cancel = CancelRequest.objects.get(order_id=order_id)
    assert answer == [{"order": order_id, "cancel": cancel.pk}]
    assert cancel.state == CancelRequest.State.MANUAL
    assert api(client, key, "cancel", order=order_id) == [
        {"order": order_id, "cancel": {"error": "Cancel already requested for this order"}}
    ]
    cancel, refunded = manual.manual_cancel_resolve(cancel_id=cancel.pk, actor_id=staff.pk, accept=True)
    assert cancel.state == CancelRequest.State.DONE and refunded == D("2.00000")
    assert api(client, key, "status", order=order_id)["status"] == "Canceled"
    assert api(client, key, "status", order=order_id)["charge"] == "0.00000"
    # Accepting again does nothing more.
    assert manual.manual_cancel_resolve(cancel_id=cancel.pk, actor_id=staff.pk, accept=True)[1] == 0
    assert_clean_ledger(customer)


def test_cancel_refused_and_a_cancel_closed_by_the_order_ending(client, customer, service, key, staff):
    first = api(client, key, "add", service=service.pk, link="https://example.com/1", quantity=1000)["order"]
    api(client, key, "cancel", orders=str(first))
    cancel = CancelRequest.objects.get(order_id=first)
    manual.manual_cancel_resolve(cancel_id=cancel.pk, actor_id=staff.pk, accept=False, reason="already started")
    cancel.refresh_from_db()
    assert cancel.state == CancelRequest.State.REJECTED and cancel.error == "already started"
    assert Order.objects.get(pk=first).status == Status.PENDING
    # Completing an order with a cancel waiting closes the request as refused.
    api(client, key, "cancel", orders=str(first))
    manual.manual_update(order_id=first, actor_id=staff.pk, version=version(first), status="Completed")
    assert CancelRequest.objects.filter(order_id=first).order_by("-id").first().state == CancelRequest.State.REJECTED
    assert Order.objects.get(pk=first).refunded == 0
    assert_clean_ledger(customer)


def test_manual_orders_are_never_forwarded_polled_swept_or_reconciled_upstream(customer, service, staff, sim):
    orders = [place(customer, service, link=f"https://example.com/{n}") for n in range(3)]
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(created_at=timezone.now() - timedelta(hours=2))
    forwarded, refills, cancels = [], [], []
    counts = sweep(enqueue_forward=forwarded.append, enqueue_refills=refills.append, enqueue_cancels=cancels.append)
    assert forwarded == [] and counts["requeued"] == 0
    batches = []
    poll_pass(enqueue=lambda provider_id, ids: batches.append(ids))
    assert batches == []
    report = reconcile()
    assert report.ok and report.data["stuck_queued"] == 0
    assert sim.stats()["orders_created"] == 0
    for order in orders:
        order.refresh_from_db()
        assert order.forward_state == ForwardState.MANUAL and order.status == Status.PENDING


def test_report_cost_of_a_manual_order_is_the_service_cost(customer, service, staff):
    order = place(customer, service, quantity=2000)
    manual.manual_update(order_id=order.pk, actor_id=staff.pk, version=version(order.pk), status="Partial", remains=500)
    cost = Order.objects.filter(pk=order.pk).annotate(cost=COST).values_list("cost", flat=True).get()
    assert cost == D("0.75")  # 0.50 per 1,000 x the 1,500 delivered


def test_non_manual_orders_are_refused_by_the_manual_transitions(customer, make_service, staff):
    forwarded = make_service("Default", dripfeed=False)
    order = order_place(
        user=customer, service_id=forwarded.pk, data={"link": "https://example.com/x", "quantity": forwarded.min}
    ).order
    with pytest.raises(ActionError, match="not an order of a manual service"):
        manual.manual_take(order_id=order.pk, actor_id=staff.pk)
    with pytest.raises(ActionError, match="not an order of a manual service"):
        manual.manual_update(order_id=order.pk, actor_id=staff.pk, version=None, status="Completed")


def test_customers_are_notified_of_manual_progress_outcomes_and_refills_as_of_forwarded_ones(customer, service, staff):
    from notifications.models import Event, WebhookEndpoint

    # "order.status" is recorded for customers whose webhook takes it, as for polled changes.
    WebhookEndpoint.objects.create(user=customer, url="https://hooks.example.com/panel")
    order = place(customer, service)
    manual.manual_update(order_id=order.pk, actor_id=staff.pk, version=version(order.pk), status="In progress")
    status_event = Event.objects.get(kind="order.status")
    assert status_event.user_id == customer.pk and status_event.data["status"] == "In progress"
    manual.manual_update(order_id=order.pk, actor_id=staff.pk, version=version(order.pk), status="Completed")
    assert Event.objects.get(kind="order.final").data["status"] == "Completed"
    refill = refill_for(customer, order)
    manual.manual_refill_resolve(refill_id=refill.pk, actor_id=staff.pk, outcome="completed")
    assert Event.objects.get(kind="refill.status").data["status"] == "Completed"


def refill_for(customer, order):
    from orders.refills import refill_request

    refill_request(user_id=customer.pk, order_ids=[order.pk])
    return Refill.objects.get(order=order)


def test_dashboard_refill_and_cancel_buttons_reach_the_staff_queue(
    client, customer, service, staff, plain_static_storage
):
    client.force_login(customer)
    running = place(customer, service, link="https://example.com/run")
    done = place(customer, service, link="https://example.com/done")
    manual.manual_update(order_id=done.pk, actor_id=staff.pk, version=version(done.pk), status="Completed")
    page = client.get(reverse("dashboard:orders")).content.decode()
    assert reverse("dashboard:order_cancel", args=[running.pk]) in page
    assert reverse("dashboard:order_refill", args=[done.pk]) in page
    client.post(reverse("dashboard:order_cancel", args=[running.pk]))
    client.post(reverse("dashboard:order_refill", args=[done.pk]))
    assert [c.order_id for c in manual.manual_cancels()] == [running.pk]
    assert [r.order_id for r in manual.manual_refills()] == [done.pk]
    assert Order.objects.get(pk=running.pk).status == Status.PENDING  # waits for staff, not canceled at once
