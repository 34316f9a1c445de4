"""The issue's proof: a child panel's customer orders, the order reaches the parent over HTTP
(the parent's own API v2, served by a live server), the parent forwards it to the simulator, and
statuses, refunds, refills and cancels come back, exactly once, with every ledger clean.

The child panel is a schema of its own (`child_hb`), made once per test process and emptied
before each test (its customers, providers, catalogue and orders): transactional tests empty
only the parent's tables. Celery runs eagerly: a placement's forwarding runs after its commit,
in the placing panel's schema (tenant-schemas-celery carries it).
"""

from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context, schema_exists

from accounts.ledger import ledger_credit, ledger_drift
from accounts.models import User
from accounts.services import api_key_rotate
from catalog.models import Category, Service
from childpanels.provider import provider_wire
from orders.forwarding import order_forward, upstream_idempotency_key
from orders.models import CancelRequest, ForwardState, Order, Refill
from orders.polling import poll_batch
from orders.refills import refills_poll
from tenants.models import Domain, Panel, PanelStatus
from tenants.services import panel_create
from upstream.models import Provider

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMA = "child_hb"
HOST = "hb.panels.test"
OWNER_FUNDS = Decimal("500")


@pytest.fixture(scope="session")
def _child_hb_schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        if not schema_exists(SCHEMA):
            panel_create(
                name="HB",
                schema_name=SCHEMA,
                domain=HOST,
                staff_username="hb_staff",
                staff_email=f"staff@{HOST}",
                staff_password="child-staff-Secret-123",
            )
        connection.set_schema_to_public()


def _empty_child() -> None:
    """What earlier tests left in the child's schema: customers (and with them their orders and
    ledgers), providers (and their catalogue), categories."""
    tables = [User._meta.db_table, Provider._meta.db_table, Category._meta.db_table]
    with schema_context(SCHEMA), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


class Parent:
    """The parent panel (the live server) and a child panel wired to it."""

    def __init__(self, *, panel, owner, sim, parent_provider, parent_service):
        self.panel, self.owner, self.sim = panel, owner, sim
        self.parent_provider, self.parent_service = parent_provider, parent_service

    def child_api(self, key: str, action: str, **params) -> object:
        """A call to the child panel's API v2, by its host name."""
        previous = connection.schema_name
        client = Client(HTTP_HOST=HOST)
        answer = client.post("/api/v2", {"key": key, "action": action, **params}).json()
        # The request left this thread's connection on the child's schema: back to the one the
        # test was working in.
        connection.set_schema(previous)
        return answer

    def child_customer(self, username: str = "kid", funds: str = "100") -> tuple[int, str]:
        with schema_context(SCHEMA):
            user = User.objects.create(username=username, email=f"{username}@example.com")
            ledger_credit(user_id=user.pk, amount=Decimal(funds), memo="test funds")
            return user.pk, api_key_rotate(user=user)

    def child_service(self) -> Service:
        with schema_context(SCHEMA):
            return Service.objects.get(upstream__upstream_id=str(self.parent_service.pk))

    def in_child(self):
        return schema_context(SCHEMA)

    def parent_order_for(self, child_order: Order) -> Order:
        key = schema_key(child_order.pk)
        return Order.objects.get(user=self.owner, idempotency_key=key)

    def poll_all(self) -> None:
        """One poll pass of the parent (asks the simulator), then one of the child (asks the parent)."""
        past = timezone.now() - timedelta(minutes=1)
        _poll(self.parent_provider.pk, past)
        with schema_context(SCHEMA):
            provider_id = Provider.objects.get(is_parent=True).pk
            _poll(provider_id, past)


def _poll(provider_id: int, past) -> None:
    orders = Order.objects.filter(provider_id=provider_id, forward_state=ForwardState.SENT)
    orders.update(next_check_at=past)
    ids = list(orders.values_list("id", flat=True))
    for start in range(0, len(ids), 100):
        poll_batch(provider_id=provider_id, order_ids=ids[start : start + 100])


def schema_key(order_id: int) -> str:
    """The idempotency key the child sends with its order `order_id`."""
    with schema_context(SCHEMA):
        return upstream_idempotency_key(order_id)


@pytest.fixture
def parent(_child_hb_schema, _short_lived_connections, settings, live_server, sim, provider, make_service):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, ".panels.test"]
    settings.CHILD_PANELS = True
    settings.MIDDLEWARE = ["tenants.middleware.PanelMiddleware", *settings.MIDDLEWARE]
    settings.CHILD_PARENT_API_URL = live_server.url + "/api/v2"
    connection.set_schema_to_public()
    _empty_child()
    owner = User.objects.create(username="owner", email="owner@example.com")
    ledger_credit(user_id=owner.pk, amount=OWNER_FUNDS, memo="test funds")
    panel = Panel.objects.filter(schema_name=SCHEMA).first()
    if panel is None:
        panel = Panel(schema_name=SCHEMA, name="HB", status=PanelStatus.ACTIVE)
        panel.save(verbosity=0)  # the schema exists: nothing is copied
    Panel.objects.filter(pk=panel.pk).update(owner_id=owner.pk, status=PanelStatus.ACTIVE)
    Domain.objects.get_or_create(domain=HOST, defaults={"tenant": panel, "is_primary": True})
    service = make_service("Default", refill=True, cancel=True, dripfeed=False)
    yield Parent(panel=panel, owner=owner, sim=sim, parent_provider=provider, parent_service=service)
    connection.set_schema_to_public()


@pytest.fixture
def _short_lived_connections():
    # The live server answers each request on a new thread; persistent connections would keep
    # sessions open and block dropping the test database at the end.
    from django.db import connections

    shared = connections.settings["default"]
    before = shared["CONN_MAX_AGE"]
    shared["CONN_MAX_AGE"] = 0
    yield
    shared["CONN_MAX_AGE"] = before


def _partial_refund(charge: Decimal, remains: int, quantity: int) -> Decimal:
    return (charge * remains / quantity).quantize(Decimal("0.00001"), rounding=ROUND_DOWN)


def test_a_child_order_reaches_the_parent_once_and_its_partial_refunds_land_on_both_balances(parent):
    provider_wire(panel_id=parent.panel.pk)
    service = parent.child_service()
    customer_id, key = parent.child_customer(funds="100")

    placed = []
    for n in range(12):
        answer = parent.child_api(key, "add", service=service.pk, link=f"https://x.com/e2e/{n}", quantity=service.min)
        assert set(answer) == {"order"}, answer
        placed.append(answer["order"])

    # Every child order went to the parent, which sent it on to the simulator: one parent order
    # each, charged to the owner, carrying the child's key.
    with parent.in_child():
        child_orders = list(Order.objects.filter(pk__in=placed).order_by("pk"))
        assert all(o.forward_state == ForwardState.SENT for o in child_orders), [o.upstream_error for o in child_orders]
    for child_order in child_orders:
        parent_order = parent.parent_order_for(child_order)
        assert str(parent_order.pk) == child_order.upstream_order_id
        assert parent_order.forward_state == ForwardState.SENT
    assert Order.objects.filter(user=parent.owner).count() == 12
    assert parent.sim.stats()["orders_created"] == 12

    # The child's send repeated with the same key (a lost answer, a second worker) places nothing new.
    with parent.in_child():
        Order.objects.filter(pk=placed[0]).update(
            forward_state=ForwardState.UNKNOWN, send_started_at=timezone.now(), next_attempt_at=None
        )
        assert order_forward(order_id=placed[0]) == "sent"
        assert Order.objects.get(pk=placed[0]).upstream_order_id == child_orders[0].upstream_order_id
    assert Order.objects.filter(user=parent.owner).count() == 12
    assert parent.sim.stats()["orders_created"] == 12

    parent.sim.clock.advance(60)
    parent.poll_all()

    outcomes = set()
    child_refunds = Decimal("0")
    owner_refunds = Decimal("0")
    with parent.in_child():
        child_orders = list(Order.objects.filter(pk__in=placed).order_by("pk"))
    for child_order in child_orders:
        parent_order = parent.parent_order_for(child_order)
        assert child_order.status == parent_order.status, (child_order.pk, parent_order.pk)
        assert child_order.settled_at and parent_order.settled_at
        for order in (child_order, parent_order):
            if order.status == "Partial":
                assert 0 < order.remains < order.quantity
                expected = _partial_refund(order.charge, order.remains, order.quantity)
            elif order.status == "Canceled":
                expected = order.charge
            else:
                assert order.status == "Completed"
                expected = Decimal("0")
            assert order.refunded == expected, (order.pk, order.status)
        assert child_order.remains == parent_order.remains
        # What the child paid the parent is what the parent charged the owner, net of refunds.
        assert child_order.cost_actual == parent_order.charge - parent_order.refunded
        child_refunds += child_order.refunded
        owner_refunds += parent_order.refunded
        outcomes.add(child_order.status)
    assert "Partial" in outcomes, outcomes

    # Exact balances on both sides.
    parent_charges = sum(o.charge for o in Order.objects.filter(user=parent.owner))
    assert User.objects.get(pk=parent.owner.pk).balance == OWNER_FUNDS - parent_charges + owner_refunds
    with parent.in_child():
        child_charges = sum(o.charge for o in child_orders)
        assert User.objects.get(pk=customer_id).balance == Decimal("100") - child_charges + child_refunds
        # The child's customer reads the same through the child's API.
        first = child_orders[0]
        answer = parent.child_api(key, "status", order=first.pk)
        assert answer["status"] == first.status
        assert Decimal(answer["charge"]) == first.charge - first.refunded
        assert ledger_drift() == []
    assert ledger_drift() == []
    # The simulator's books agree with the parent's: what it charged, net of its refunds.
    sim_orders = parent.sim.sim._orders
    for parent_order in Order.objects.filter(user=parent.owner):
        sim_order = sim_orders[int(parent_order.upstream_order_id)]
        assert parent_order.cost_actual == sim_order.charge - sim_order.refund_due


def test_a_cancel_and_a_refill_travel_from_the_child_through_the_parent(parent):
    provider_wire(panel_id=parent.panel.pk)
    service = parent.child_service()
    _, key = parent.child_customer(funds="100")
    placed = [
        parent.child_api(key, "add", service=service.pk, link=f"https://x.com/rc/{n}", quantity=service.min)["order"]
        for n in range(6)
    ]

    to_cancel = placed[0]
    answer = parent.child_api(key, "cancel", orders=str(to_cancel))
    with parent.in_child():
        cancel = CancelRequest.objects.get(order_id=to_cancel)
        assert answer == [{"order": to_cancel, "cancel": cancel.pk}]
        assert cancel.state == CancelRequest.State.CONFIRMED
        child_order = Order.objects.get(pk=to_cancel)
    parent_order = parent.parent_order_for(child_order)
    assert CancelRequest.objects.get(order=parent_order).state == CancelRequest.State.CONFIRMED

    parent.sim.clock.advance(60)
    parent.poll_all()
    with parent.in_child():
        child_order = Order.objects.get(pk=to_cancel)
        assert child_order.status == "Canceled" and child_order.refunded == child_order.charge
        completed = list(Order.objects.filter(pk__in=placed[1:], status="Completed").order_by("pk"))
    parent_order.refresh_from_db()
    assert parent_order.status == "Canceled" and parent_order.refunded == parent_order.charge
    assert completed

    ids = ",".join(str(o.pk) for o in completed)
    answer = parent.child_api(key, "refill", orders=ids)
    assert [item["order"] for item in answer] == [o.pk for o in completed]
    assert all(isinstance(item["refill"], int) for item in answer), answer
    with parent.in_child():
        child_refills = list(Refill.objects.all())
        assert all(r.state == Refill.State.SENT for r in child_refills)
        child_provider = Provider.objects.get(is_parent=True).pk
    parent_refills = list(Refill.objects.filter(user=parent.owner))
    assert len(parent_refills) == len(child_refills) == len(completed)

    parent.sim.clock.advance(60)
    refills_poll(provider_id=parent.parent_provider.pk, refill_ids=[r.pk for r in parent_refills])
    with parent.in_child():
        refills_poll(provider_id=child_provider, refill_ids=[r.pk for r in child_refills])
    statuses = parent.child_api(key, "refill_status", refills=",".join(str(r.pk) for r in child_refills))
    assert statuses == [{"refill": r.pk, "status": "Completed"} for r in child_refills]
    with parent.in_child():
        assert ledger_drift() == []
    assert ledger_drift() == []


def test_the_owner_out_of_funds_keeps_child_orders_waiting_then_sends_them_once_after_a_deposit(parent):
    from notifications.models import Event

    provider_wire(panel_id=parent.panel.pk)
    service = parent.child_service()
    _, key = parent.child_customer(funds="100")
    # The owner's whole parent balance goes elsewhere: nothing is left for the child's orders.
    from accounts.ledger import ledger_debit

    ledger_debit(user_id=parent.owner.pk, amount=OWNER_FUNDS, memo="spent elsewhere", idempotency_key="spent-1")

    placed = [
        parent.child_api(key, "add", service=service.pk, link=f"https://x.com/poor/{n}", quantity=service.min)["order"]
        for n in range(3)
    ]
    with parent.in_child():
        for order in Order.objects.filter(pk__in=placed):
            assert order.forward_state == ForwardState.QUEUED and order.status == "Pending"
            assert order.needs_attention
            assert "balance on the parent panel is too low" in order.attention_reason
            assert "Top it up on the parent panel" in order.attention_reason
        provider = Provider.objects.get(is_parent=True)
        assert provider.low_balance and provider.funds_short_since is not None
        # The child's customer sees an ordinary Pending order, not an error.
        assert parent.child_api(key, "status", order=placed[0])["status"] == "Pending"
        # A retry that meets the same shortage tells nobody again.
        Order.objects.filter(pk=placed[0]).update(next_attempt_at=None)
        assert order_forward(order_id=placed[0]) == "provider_out_of_funds"
    # Nothing was placed or charged on the parent; the owner was told once for the shortage.
    assert not Order.objects.filter(user=parent.owner).exists()
    assert User.objects.get(pk=parent.owner.pk).balance == 0
    told = list(Event.objects.filter(kind="childpanel.funds_short"))
    assert len(told) == 1
    assert told[0].user_id == parent.owner.pk and told[0].data["panel"] == SCHEMA

    # The owner tops up; the 5-minute retry sends each waiting order once.
    ledger_credit(user_id=parent.owner.pk, amount=Decimal("50"), memo="top-up", idempotency_key="top-up-1")
    with parent.in_child():
        Order.objects.filter(pk__in=placed).update(next_attempt_at=None)
        assert [order_forward(order_id=pk) for pk in placed] == ["sent"] * 3
        assert [order_forward(order_id=pk) for pk in placed] == ["skipped"] * 3
        for order in Order.objects.filter(pk__in=placed):
            assert order.forward_state == ForwardState.SENT and not order.needs_attention
        assert Provider.objects.get(is_parent=True).funds_short_since is None
        assert ledger_drift() == []
    assert Order.objects.filter(user=parent.owner).count() == 3
    assert parent.sim.stats()["orders_created"] == 3
    assert ledger_drift() == []
