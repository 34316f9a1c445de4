"""A stateful property test: placements, faults, forwards, polls, settles, cancels, sweeps and
replays in any order; after every step the money adds up.

Invariants checked after each step:
- every balance equals the sum of its ledger entries (and is never negative);
- no order is refunded more than it was charged, and at most one first refund exists per order;
- a final order owes nothing more: its refund equals exactly what its status entitles it to;
- the simulator never holds more orders than we have recorded as sent or unknown (no duplicates).
"""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from accounts.ledger import ledger_credit, ledger_drift
from accounts.models import LedgerEntry, User
from orders.cancels import cancel_request, cancels_forward
from orders.errors import OrderError
from orders.forwarding import order_forward
from orders.maintenance import reconcile, sweep
from orders.models import FINAL_STATUSES, ForwardState, Order
from orders.placement import order_place
from orders.polling import poll_batch, poll_pass
from orders.settlement import order_settle, refund_due

FAULTS = ["none", "error", "http_500", "drop_after_accept", "out_of_funds"]


@pytest.mark.django_db
def test_money_invariants_hold_under_any_interleaving(sim, make_service, provider):
    services = [make_service("Default", cancel=True, dripfeed=False), make_service("Package")]

    class Engine(RuleBasedStateMachine):
        @initialize()
        def start(self):
            sim.sim.reset()
            sim.faults(error_rate=0, http_500_rate=0, drop_after_accept_rate=0, out_of_funds=False)
            cache.clear()
            self.user = User.objects.create(username=f"prop{User.objects.count()}")
            ledger_credit(user_id=self.user.pk, amount=Decimal("50"))
            self.links = 0

        @rule(which=st.integers(0, 1), size=st.integers(1, 4))
        def place(self, which, size):
            service = services[which]
            self.links += 1
            data = {"link": f"https://x.com/{self.user.pk}/{self.links}"}
            if service.type == "Default":
                data["quantity"] = service.min * size
            try:
                order_place(user=self.user, service_id=service.pk, data=data)
            except OrderError as exc:
                assert exc.message == "Not enough funds on balance"

        @rule(fault=st.sampled_from(FAULTS))
        def set_fault(self, fault):
            sim.faults(
                error_rate=1.0 if fault == "error" else 0.0,
                http_500_rate=1.0 if fault == "http_500" else 0.0,
                drop_after_accept_rate=1.0 if fault == "drop_after_accept" else 0.0,
                out_of_funds=fault == "out_of_funds",
            )

        @rule()
        def forward_all(self):
            cache.clear()  # the circuit breaker would otherwise hold orders back between steps
            Order.objects.filter(forward_state=ForwardState.QUEUED).update(next_attempt_at=None)
            for order_id in Order.objects.filter(forward_state=ForwardState.QUEUED).values_list("id", flat=True):
                order_forward(order_id=order_id)

        @rule(seconds=st.sampled_from([1, 5, 30]))
        def time_passes_and_poll(self, seconds):
            sim.clock.advance(seconds)
            Order.objects.filter(forward_state=ForwardState.SENT).update(next_check_at="2000-01-01T00:00:00Z")
            poll_pass(enqueue=lambda provider_id, ids: poll_batch(provider_id=provider_id, order_ids=ids))

        @rule()
        def replay_settles(self):
            for order_id in Order.objects.values_list("id", flat=True):
                order_settle(order_id=order_id)

        @rule(data=st.data())
        def cancel_some(self, data):
            ids = list(Order.objects.filter(user=self.user).values_list("id", flat=True))
            if not ids:
                return
            chosen = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3, unique=True))
            outcomes = cancel_request(user_id=self.user.pk, order_ids=chosen)
            cancels_forward(cancel_ids=[o.id for o in outcomes if o.id])

        @rule()
        def sweep_and_reconcile(self):
            sweep(enqueue_forward=lambda i: None, enqueue_refills=list, enqueue_cancels=list)
            reconcile()

        @invariant()
        def money_adds_up(self):
            assert ledger_drift() == []
            self.user.refresh_from_db()
            assert self.user.balance >= 0
            for order in Order.objects.filter(user=self.user):
                assert 0 <= order.refunded <= order.charge
                first_refunds = LedgerEntry.objects.filter(idempotency_key=f"refund:{order.pk}").count()
                assert first_refunds <= 1
                if order.status in FINAL_STATUSES and order.settled_at:
                    assert order.refunded == refund_due(order)
            refunded = Order.objects.filter(user=self.user).aggregate(t=Sum("refunded"))["t"] or 0
            ledger_refunds = (
                LedgerEntry.objects.filter(user=self.user, kind="refund").aggregate(t=Sum("amount"))["t"] or 0
            )
            assert refunded == ledger_refunds

        @invariant()
        def no_duplicate_upstream_orders(self):
            recorded = Order.objects.filter(forward_state__in=[ForwardState.SENT, ForwardState.UNKNOWN]).count()
            assert sim.sim.stats()["orders_created"] <= recorded

    Engine.TestCase.settings = settings(
        max_examples=15,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    Engine.TestCase().runTest()
