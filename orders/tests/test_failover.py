"""Automatic failover between two simulator instances acting as two providers.

The first provider (the `sim` fixture) sells the service; the second (`sim2`, the same
catalogue on its own port) is the fallback. Both share the test's clock, so advancing it moves
orders at either.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from accounts.ledger import ledger_drift
from accounts.models import LedgerEntry
from orders.cancels import cancel_request, cancels_forward
from orders.failover import (
    FAILOVER_EVENT,
    LOST,
    NO_FALLBACK_EVENT,
    Refusal,
    order_failover,
    provider_failovers,
    service_fulfilment,
)
from orders.forwarding import SEND_LEASE, CircuitBreaker, _unavailable, order_forward
from orders.maintenance import reconcile
from orders.models import ForwardState, Order, OrderEvent, Refill, Status
from orders.placement import order_place
from orders.polling import poll_batch
from orders.refills import refill_request, refills_forward
from orders.settlement import refund_due
from testing.concurrency import run_together
from testing.failover import add_fallback, disable_upstream, second_provider, second_simulator
from upstream.client import ApiV2Client
from upstream.models import Provider
from upstream.services import provider_refresh_balance


@pytest.fixture
def sim2(sim):
    with second_simulator(sim) as second:
        yield second


@pytest.fixture
def provider2(db, sim2):
    return second_provider(sim2)


def place(customer, service, *, quantity=None, link="https://x.com/f", **data) -> Order:
    payload = {"link": link, "quantity": quantity or service.min, **data}
    return order_place(user=customer, service_id=service.pk, data=payload).order


def refreshed(order) -> Order:
    return Order.objects.get(pk=order.pk)


def kinds(order) -> list[str]:
    return list(OrderEvent.objects.filter(order_id=order.pk).values_list("kind", flat=True))


def failover_event(order) -> OrderEvent:
    return OrderEvent.objects.get(order_id=order.pk, kind=FAILOVER_EVENT)


def run_to_the_end(sim, order, provider) -> Order:
    sim.clock.advance(1000)
    Order.objects.filter(pk=order.pk).update(next_check_at=timezone.now() - timedelta(seconds=1))
    poll_batch(provider_id=provider.pk, order_ids=[order.pk])
    return refreshed(order)


def test_a_service_disabled_upstream_moves_the_order_to_the_fallback_where_it_completes(
    customer, make_service, sim, sim2, provider, provider2
):
    service = make_service("Default", dripfeed=False)
    fallback = add_fallback(service, provider2)
    # A first reconciliation records both providers' balances.
    provider_refresh_balance(provider_id=provider.pk)
    provider_refresh_balance(provider_id=provider2.pk)
    assert reconcile().ok
    disable_upstream(sim, service.upstream.upstream_id)

    order = place(customer, service, quantity=service.min * 5)
    assert order_forward(order_id=order.pk) == "sent"
    order = refreshed(order)
    assert order.provider_id == provider2.pk and order.upstream_service_id == fallback.upstream_id
    assert order.forward_state == ForwardState.SENT and order.upstream_order_id
    assert order.cost_expected == (fallback.rate * order.quantity / 1000).quantize(Decimal("0.00001"))
    assert not order.needs_attention and order.attempts == 2
    assert sim.stats()["orders_created"] == 0 and sim2.stats()["orders_created"] == 1
    assert kinds(order) == ["placed", FAILOVER_EVENT, "forwarded"]
    event = failover_event(order)
    assert event.data["reason"] == "service" and event.data["detail"] == "Service not found or inactive"
    assert event.data["from_provider"] == provider.pk and event.data["to_provider"] == provider2.pk
    assert "sim refused" in event.message and "moved to second service" in event.message

    order = run_to_the_end(sim, order, provider2)
    assert order.is_final and order.settled_at is not None
    assert order.refunded == refund_due(order)
    assert order.cost_actual is not None
    customer.refresh_from_db()
    assert customer.balance == Decimal("1000") - order.charge + order.refunded
    assert LedgerEntry.objects.filter(order_id=order.pk, kind="refund").count() == (1 if order.refunded else 0)
    assert ledger_drift() == []

    # The upstream charge is the second provider's: its balance moved by exactly that much.
    provider_refresh_balance(provider_id=provider.pk)
    provider_refresh_balance(provider_id=provider2.pk)
    report = reconcile()
    assert report.ok, report.summary
    first, second = report.data["providers"][str(provider.pk)], report.data["providers"][str(provider2.pk)]
    assert Decimal(first["charges"]) == 0 and Decimal(first["difference"]) == 0
    assert Decimal(second["charges"]) == order.cost_actual and Decimal(second["difference"]) == 0


def test_a_provider_out_of_funds_moves_the_order_and_is_flagged_for_a_top_up(
    customer, make_service, sim, sim2, provider, provider2
):
    service = make_service("Default", dripfeed=False)
    add_fallback(service, provider2)
    sim.faults(out_of_funds=True)
    order = place(customer, service)
    labels = {"provider": "sim", "reason": "funds", "to": "second"}
    before = REGISTRY.get_sample_value("panel_failovers_total", labels) or 0
    assert order_forward(order_id=order.pk) == "sent"
    assert REGISTRY.get_sample_value("panel_failovers_total", labels) == before + 1
    order = refreshed(order)
    assert order.provider_id == provider2.pk and not order.needs_attention
    assert failover_event(order).data["reason"] == "funds"
    assert sim.stats()["orders_created"] == 0 and sim2.stats()["orders_created"] == 1
    provider.refresh_from_db()
    assert provider.low_balance and "Not enough funds" in provider.last_error

    order = run_to_the_end(sim, order, provider2)
    assert order.is_final and order.refunded == refund_due(order)
    assert ledger_drift() == []


def test_a_provider_disabled_in_our_panel_is_not_asked_and_the_order_moves(
    customer, make_service, sim, sim2, provider, provider2
):
    service = make_service("Default", dripfeed=False)
    add_fallback(service, provider2)
    order = place(customer, service)
    Provider.objects.filter(pk=provider.pk).update(enabled=False)
    assert order_forward(order_id=order.pk) == "sent"
    assert refreshed(order).provider_id == provider2.pk
    assert failover_event(order).data["reason"] == "provider_disabled"
    assert sim.stats()["requests"].get("add", 0) == 0 and sim2.stats()["orders_created"] == 1


def test_an_open_circuit_moves_the_order(customer, make_service, sim, sim2, provider, provider2):
    service = make_service("Default", dripfeed=False)
    add_fallback(service, provider2)
    order = place(customer, service)
    breaker = CircuitBreaker(provider.pk)
    for _ in range(CircuitBreaker.THRESHOLD):
        breaker.failure()
    assert order_forward(order_id=order.pk) == "sent"
    assert refreshed(order).provider_id == provider2.pk
    assert failover_event(order).data["reason"] == "circuit_open"
    assert sim.stats()["requests"].get("add", 0) == 0 and sim2.stats()["orders_created"] == 1


def test_without_fallbacks_a_refusal_ends_as_before(customer, make_service, sim, provider):
    service = make_service("Default", dripfeed=False)
    disable_upstream(sim, service.upstream.upstream_id)
    order = place(customer, service)
    assert order_forward(order_id=order.pk) == "rejected"
    order = refreshed(order)
    assert order.status == Status.CANCELED and order.refunded == order.charge
    assert FAILOVER_EVENT not in kinds(order) and NO_FALLBACK_EVENT not in kinds(order)
    assert ledger_drift() == []


def test_a_timeout_after_the_provider_accepted_never_fails_over(customer, make_service, sim, sim2, provider, provider2):
    service = make_service("Default", dripfeed=False)
    add_fallback(service, provider2)
    Provider.objects.filter(pk=provider.pk).update(read_timeout=Decimal("0.5"))
    sim.faults(hang_after_accept_rate=1.0)
    order = place(customer, service)
    assert order_forward(order_id=order.pk) == "unknown"
    order = refreshed(order)
    assert order.provider_id == provider.pk and order.forward_state == ForwardState.UNKNOWN
    assert order.needs_attention and order.refunded == 0
    # The first provider has it; the second never heard of it.
    assert sim.stats()["orders_created"] == 1 and sim2.stats()["requests"].get("add", 0) == 0
    assert FAILOVER_EVENT not in kinds(order)
    # Even once the first provider is disabled, nothing sends it elsewhere.
    sim.faults(hang_after_accept_rate=0.0)
    Provider.objects.filter(pk=provider.pk).update(enabled=False)
    Order.objects.filter(pk=order.pk).update(next_attempt_at=None)
    assert order_forward(order_id=order.pk) == "skipped"
    assert sim2.stats()["requests"].get("add", 0) == 0


@pytest.mark.parametrize("fault", ["drop_after_accept_rate", "http_500_rate", "html_rate"])
def test_other_unknown_outcomes_never_fail_over(customer, make_service, sim, sim2, provider, provider2, fault):
    service = make_service("Default", dripfeed=False)
    add_fallback(service, provider2)
    sim.faults(**{fault: 1.0})
    order = place(customer, service)
    assert order_forward(order_id=order.pk) == "unknown"
    assert refreshed(order).provider_id == provider.pk
    assert sim2.stats()["requests"].get("add", 0) == 0


def test_an_order_being_resent_after_an_unknown_outcome_stays_with_its_provider(
    customer, make_service, sim, sim2, provider, provider2
):
    provider.honours_idempotency_keys = True
    provider.save()
    service = make_service("Default", dripfeed=False)
    add_fallback(service, provider2)
    sim.faults(drop_after_accept_rate=1.0)
    order = place(customer, service)
    assert order_forward(order_id=order.pk) == "resend"
    sim.faults(drop_after_accept_rate=0.0)
    # The provider is disabled while the resend waits: a definite "not now", but the first send
    # may have reached it, so the order waits for it instead of going elsewhere.
    Provider.objects.filter(pk=provider.pk).update(enabled=False)
    Order.objects.filter(pk=order.pk).update(next_attempt_at=None)
    assert order_forward(order_id=order.pk) == "deferred"
    order = refreshed(order)
    assert order.provider_id == provider.pk and order.forward_state == ForwardState.UNKNOWN
    assert sim2.stats()["requests"].get("add", 0) == 0
    Provider.objects.filter(pk=provider.pk).update(enabled=True)
    Order.objects.filter(pk=order.pk).update(next_attempt_at=None)
    assert order_forward(order_id=order.pk) == "sent"
    assert sim.stats()["orders_created"] == 1 and sim2.stats()["orders_created"] == 0


def test_a_refusal_about_the_request_is_not_a_reason_to_fail_over(
    customer, make_service, sim, sim2, provider, provider2
):
    service = make_service("Default", dripfeed=False)
    add_fallback(service, provider2)
    sim.faults(error_rate=1.0)  # {"error": "Service temporarily unavailable"}
    order = place(customer, service)
    assert order_forward(order_id=order.pk) == "rejected"
    order = refreshed(order)
    assert order.provider_id == provider.pk and order.status == Status.CANCELED
    assert order.refunded == order.charge
    assert sim2.stats()["requests"].get("add", 0) == 0
    assert ledger_drift() == []


def test_a_fallback_above_our_price_is_skipped(customer, make_service, sim, sim2, provider, provider2):
    service = make_service("Default", dripfeed=False)
    # We sell at twice the primary's cost; this fallback costs three times as much.
    add_fallback(service, provider2, rate=service.upstream.rate * 3)
    disable_upstream(sim, service.upstream.upstream_id)
    order = place(customer, service, quantity=service.min * 10)
    assert order_forward(order_id=order.pk) == "rejected"
    order = refreshed(order)
    assert order.provider_id == provider.pk and order.status == Status.CANCELED
    assert order.refunded == order.charge
    assert sim2.stats()["requests"].get("add", 0) == 0
    note = OrderEvent.objects.get(order_id=order.pk, kind=NO_FALLBACK_EVENT).message
    assert "above the" in note and "the customer was charged" in note
    assert ledger_drift() == []


def test_an_expensive_fallback_is_skipped_for_the_next_and_a_loss_leader_takes_it(
    customer, make_service, sim, sim2, provider, provider2, upstream_services
):
    service = make_service("Default", dripfeed=False)
    other = next(
        u
        for u in upstream_services
        if u.type == "Default" and u.service != service.upstream.upstream_id and u.min <= service.min <= u.max
    )
    add_fallback(service, provider2, position=0, upstream_id=other.service, rate=service.upstream.rate * 3)
    cheap = add_fallback(service, provider2, position=1)
    disable_upstream(sim, service.upstream.upstream_id)

    order = place(customer, service, quantity=service.min * 10, link="https://x.com/a")
    assert order_forward(order_id=order.pk) == "sent"
    assert refreshed(order).upstream_service_id == cheap.upstream_id
    skipped = failover_event(order).data["skipped"]
    assert len(skipped) == 1 and skipped[0].startswith(f"second #{other.service}: costs")

    service.allow_below_cost = True
    service.save()
    order = place(customer, service, quantity=service.min * 10, link="https://x.com/b")
    assert order_forward(order_id=order.pk) == "sent"
    order = refreshed(order)
    assert order.upstream_service_id == other.service and order.cost_expected > order.charge


def test_fallbacks_of_another_type_or_whose_limits_exclude_the_quantity_are_skipped(
    customer, make_service, sim, sim2, provider, provider2, upstream_services
):
    service = make_service("Default", dripfeed=False)
    package = next(u for u in upstream_services if u.type == "Package")
    add_fallback(service, provider2, position=0, upstream_id=package.service, type="Package", rate=Decimal("0"))
    quantity = service.min * 3
    add_fallback(service, provider2, position=1, upstream_id="99991", max=quantity - 1)
    add_fallback(service, provider2, position=2, upstream_id="99992", min=quantity + 1)
    good = add_fallback(service, provider2, position=3)
    disable_upstream(sim, service.upstream.upstream_id)
    order = place(customer, service, quantity=quantity)
    assert order_forward(order_id=order.pk) == "sent"
    assert refreshed(order).upstream_service_id == good.upstream_id
    skipped = failover_event(order).data["skipped"]
    assert skipped == [
        f"second #{package.service}: type Package, the order's is Default",
        f"second #99991: Quantity more than maximum {quantity - 1}",
        f"second #99992: Quantity less than minimal {quantity + 1}",
    ]


def test_a_drip_feed_order_only_moves_to_a_drip_feed_service(customer, make_service, sim, sim2, provider, provider2):
    service = make_service("Default", dripfeed=True)
    add_fallback(service, provider2, dripfeed=False)
    disable_upstream(sim, service.upstream.upstream_id)
    order = place(customer, service, runs=3, interval=10)
    assert order.runs == 3
    assert order_forward(order_id=order.pk) == "rejected"
    note = OrderEvent.objects.get(order_id=order.pk, kind=NO_FALLBACK_EVENT).message
    assert "This service does not support drip-feed" in note
    assert sim2.stats()["requests"].get("add", 0) == 0


def test_a_custom_comments_order_needs_a_custom_comments_fallback_that_takes_its_lines(
    customer, make_service, sim, sim2, provider, provider2
):
    service = make_service("Custom Comments")
    comments = "\n".join(f"comment {i}" for i in range(service.min + 2))
    add_fallback(service, provider2, position=0, upstream_id="99994", type="Default")
    add_fallback(service, provider2, position=1, upstream_id="99993", max=service.min + 1)
    good = add_fallback(service, provider2, position=2)
    disable_upstream(sim, service.upstream.upstream_id)
    order = order_place(
        user=customer, service_id=service.pk, data={"link": "https://x.com/c", "comments": comments}
    ).order
    assert order_forward(order_id=order.pk) == "sent"
    order = refreshed(order)
    assert order.upstream_service_id == good.upstream_id and order.provider_id == provider2.pk
    assert len(failover_event(order).data["skipped"]) == 2
    # The fallback received every comment line.
    with ApiV2Client(sim2.url, sim2.sim.key) as client:
        assert client.status(order.upstream_order_id).remains == service.min + 2


def test_refills_and_cancels_go_to_the_provider_that_took_the_order(
    customer, make_service, sim, sim2, provider, provider2
):
    service = make_service("Default", refill=True, cancel=True, dripfeed=False)
    add_fallback(service, provider2)
    disable_upstream(sim, service.upstream.upstream_id)
    orders = [place(customer, service, link=f"https://x.com/r{i}") for i in range(8)]
    for order in orders:
        assert order_forward(order_id=order.pk) == "sent"
    # One to cancel while it runs, the others run to their end.
    [outcome] = cancel_request(user_id=customer.pk, order_ids=[orders[0].pk])
    assert cancels_forward(cancel_ids=[outcome.id]) == 1
    finished = [run_to_the_end(sim, order, provider2) for order in orders]
    assert finished[0].status == Status.CANCELED and finished[0].refunded == finished[0].charge
    completed = next(order for order in finished if order.status == Status.COMPLETED)
    [refill] = refill_request(user_id=customer.pk, order_ids=[completed.pk])
    assert refill.error is None
    assert refills_forward(refill_ids=[refill.id]) == 1
    sent = Refill.objects.get(pk=refill.id)
    assert sent.provider_id == provider2.pk and sent.state == Refill.State.SENT
    assert sim.stats()["requests"].get("refill", 0) == 0 and sim.stats()["requests"].get("cancel", 0) == 0
    assert sim2.stats()["requests"]["refill"] == 1 and sim2.stats()["requests"]["cancel"] == 1
    assert ledger_drift() == []


def test_when_every_candidate_refuses_the_order_ends_as_without_fallbacks(
    customer, make_service, sim, sim2, provider, provider2
):
    service = make_service("Default", dripfeed=False)
    add_fallback(service, provider2)
    disable_upstream(sim, service.upstream.upstream_id)
    sim2.faults(out_of_funds=True)
    order = place(customer, service)
    # Refused by both: the last refusal (out of funds at the fallback) is handled as today.
    assert order_forward(order_id=order.pk) == "provider_out_of_funds"
    order = refreshed(order)
    assert order.provider_id == provider2.pk and order.forward_state == ForwardState.QUEUED
    assert order.needs_attention and "out of funds" in order.attention_reason
    assert kinds(order) == ["placed", FAILOVER_EVENT, NO_FALLBACK_EVENT, "attention"]
    # Tried again later, it does not go back to the provider that switched the service off.
    sim2.faults(out_of_funds=False)
    Order.objects.filter(pk=order.pk).update(next_attempt_at=None)
    assert order_forward(order_id=order.pk) == "sent"
    assert refreshed(order).provider_id == provider2.pk
    assert sim.stats()["requests"]["add"] == 1 and sim2.stats()["orders_created"] == 1


def test_both_refusing_the_service_cancels_and_refunds_in_full(customer, make_service, sim, sim2, provider, provider2):
    service = make_service("Default", dripfeed=False)
    add_fallback(service, provider2)
    disable_upstream(sim, service.upstream.upstream_id)
    disable_upstream(sim2, service.upstream.upstream_id)
    order = place(customer, service)
    assert order_forward(order_id=order.pk) == "rejected"
    order = refreshed(order)
    assert order.status == Status.CANCELED and order.refunded == order.charge
    assert order.provider_id == provider2.pk
    customer.refresh_from_db()
    assert customer.balance == Decimal("1000")
    assert ledger_drift() == []


def test_the_move_is_a_compare_and_set(customer, make_service, sim2, provider, provider2):
    service = make_service("Default", dripfeed=False)
    add_fallback(service, provider2)
    order = place(customer, service)
    Order.objects.filter(pk=order.pk).update(forward_state=ForwardState.SENDING, attempts=1)
    stale = Order.objects.select_related("service__upstream__provider", "provider").get(pk=order.pk)
    # Meanwhile the lease lapsed and another worker claimed the order again.
    Order.objects.filter(pk=order.pk).update(attempts=2)
    refusal = Refusal("service", "Incorrect service ID")
    assert order_failover(order=stale, refusal=refusal, unavailable=_unavailable, lease=SEND_LEASE) is LOST
    order = refreshed(order)
    assert order.provider_id == provider.pk and FAILOVER_EVENT not in kinds(order)


@pytest.mark.django_db(transaction=True)
def test_two_workers_forwarding_the_same_order_send_it_once(sim, sim2, make_service, provider, provider2):
    from accounts.ledger import ledger_credit
    from accounts.models import User

    user = User.objects.create(username="race")
    ledger_credit(user_id=user.pk, amount=Decimal("100"))
    service = make_service("Default", dripfeed=False)
    add_fallback(service, provider2)
    disable_upstream(sim, service.upstream.upstream_id)
    # Created as placement creates them, without its task (eager here) sending them at once.
    orders = [
        Order.objects.create(
            user=user,
            service=service,
            provider=provider,
            upstream_service_id=service.upstream.upstream_id,
            link=f"https://x.com/race{i}",
            quantity=service.min,
            charge=Decimal("1"),  # above any fallback's cost: the price guard lets it pass
            cost_expected=Decimal("0"),
        )
        for i in range(5)
    ]
    for order in orders:
        outcomes = run_together(2, lambda _, order_id=order.pk: order_forward(order_id=order_id))
        assert sorted(outcomes) == ["sent", "skipped"]
        assert OrderEvent.objects.filter(order_id=order.pk, kind=FAILOVER_EVENT).count() == 1
    assert sim.stats()["orders_created"] == 0
    assert sim2.stats()["orders_created"] == 5
    assert sim.stats()["requests"]["add"] == 5


def test_the_service_page_figures(customer, make_service, sim, sim2, provider, provider2):
    service = make_service("Default", dripfeed=False)
    add_fallback(service, provider2)
    first = place(customer, service, link="https://x.com/1")
    assert order_forward(order_id=first.pk) == "sent"
    disable_upstream(sim, service.upstream.upstream_id)
    moved = [place(customer, service, link=f"https://x.com/m{i}") for i in range(3)]
    for order in moved:
        assert order_forward(order_id=order.pk) == "sent"
    since = timezone.now() - timedelta(days=30)
    fulfilment, failovers, unserved = service_fulfilment(service_id=service.pk, since=since)
    by_provider = {row.provider: row for row in fulfilment}
    assert by_provider["second"].orders == 3 and by_provider["sim"].orders == 1
    assert by_provider["second"].revenue == sum(refreshed(o).charge for o in moved)
    assert [(r.from_provider, r.reason, r.to_provider, r.count) for r in failovers] == [
        ("sim", "service disabled or unknown upstream", "second", 3)
    ]
    assert unserved == 0
    # Outside the period, nothing.
    assert service_fulfilment(service_id=service.pk, since=timezone.now() + timedelta(seconds=1)) == ([], [], 0)
    # Each provider's page: what it refused and where it went; what it took and from whom.
    away, taken = provider_failovers(provider_id=provider.pk, since=since)
    assert [(r.service_id, r.other_provider, r.reason, r.count) for r in away] == [
        (service.pk, "second", "service disabled or unknown upstream", 3)
    ]
    assert taken == []
    away, taken = provider_failovers(provider_id=provider2.pk, since=since)
    assert away == [] and [(r.service_id, r.other_provider, r.count) for r in taken] == [(service.pk, "sim", 3)]


Q = "Q"  # stands for the service's minimum quantity
EVERY_TYPE = [
    ("Default", {"link": "https://x.com/p", "quantity": Q}),
    ("Package", {"link": "https://x.com/p"}),
    ("SEO", {"link": "https://x.com/p", "quantity": Q, "keywords": "k1\nk2"}),
    ("Custom Comments", {"link": "https://x.com/p", "comments": "LINES"}),
    ("Mentions", {"link": "https://x.com/p", "quantity": Q, "usernames": "a\nb"}),
    ("Mentions with Hashtags", {"link": "https://x.com/p", "quantity": Q, "usernames": "a\nb", "hashtags": "#x\n#y"}),
    ("Mentions Custom List", {"link": "https://x.com/p", "usernames": "LINES"}),
    ("Mentions Hashtag", {"link": "https://x.com/p", "quantity": Q, "hashtag": "#x"}),
    ("Mentions User Followers", {"link": "https://x.com/p", "quantity": Q, "username": "bob"}),
    ("Mentions Media Likers", {"link": "https://x.com/p", "quantity": Q, "media": "https://x.com/m"}),
    ("Custom Comments Package", {"link": "https://x.com/p", "comments": "one\ntwo"}),
    ("Comment Likes", {"link": "https://x.com/p", "quantity": Q, "username": "bob"}),
    ("Poll", {"link": "https://x.com/p", "quantity": Q, "answer_number": "2"}),
    ("Invites from Groups", {"link": "https://x.com/p", "quantity": Q, "groups": "g1\ng2"}),
    ("Subscriptions", {"username": "bob", "min": Q, "max": Q, "posts": "3", "delay": "30"}),
    ("Web Traffic", {"link": "https://x.com/p", "quantity": Q, "country": "US", "device": "5", "type_of_traffic": "3"}),
]


@pytest.mark.parametrize(("type_", "data"), EVERY_TYPE, ids=[type_ for type_, _ in EVERY_TYPE])
def test_an_order_of_every_type_fails_over_with_its_parameters_intact(
    customer, make_service, sim, sim2, provider, provider2, type_, data
):
    service = make_service(type_)
    lines = "\n".join(f"line {i}" for i in range(service.min))
    data = {name: service.min if value == Q else lines if value == "LINES" else value for name, value in data.items()}
    add_fallback(service, provider2)
    disable_upstream(sim, service.upstream.upstream_id)
    order = order_place(user=customer, service_id=service.pk, data=data).order
    assert order_forward(order_id=order.pk) == "sent"
    order = refreshed(order)
    assert order.provider_id == provider2.pk and not failover_event(order).data["skipped"]
    assert sim2.stats()["orders_created"] == 1
    # The fallback was asked for exactly what the customer ordered.
    with ApiV2Client(sim2.url, sim2.sim.key) as client:
        status = client.status(order.upstream_order_id)
    if type_ not in ("Package", "Custom Comments Package", "Subscriptions"):
        assert status.remains == order.units


def test_a_provider_that_stays_unavailable_is_noted_once(customer, make_service, sim, sim2, provider, provider2):
    service = make_service("Default", dripfeed=False)
    add_fallback(service, provider2)
    order = place(customer, service)
    Provider.objects.filter(pk__in=[provider.pk, provider2.pk]).update(enabled=False)
    for _ in range(3):
        Order.objects.filter(pk=order.pk).update(next_attempt_at=None)
        assert order_forward(order_id=order.pk) == "deferred"
    order = refreshed(order)
    assert order.provider_id == provider.pk and order.forward_state == ForwardState.QUEUED
    assert kinds(order) == ["placed", NO_FALLBACK_EVENT]
    note = OrderEvent.objects.get(order_id=order.pk, kind=NO_FALLBACK_EVENT).message
    assert "second #" in note and "provider disabled in our panel" in note
    # Once the fallback's provider is back, the next attempt moves the order there.
    Provider.objects.filter(pk=provider2.pk).update(enabled=True)
    Order.objects.filter(pk=order.pk).update(next_attempt_at=None)
    assert order_forward(order_id=order.pk) == "sent"
    assert refreshed(order).provider_id == provider2.pk


def test_an_order_whose_outcome_was_unknown_never_fails_over_even_when_refused_later(
    customer, make_service, sim, sim2, provider, provider2
):
    provider.honours_idempotency_keys = True
    provider.save()
    service = make_service("Default", dripfeed=False)
    add_fallback(service, provider2)
    sim.faults(http_500_rate=1.0)  # the answer is lost: the provider may have the order
    order = place(customer, service)
    assert order_forward(order_id=order.pk) == "resend"
    # The resend with the same key is refused for funds: a provider that honours keys would
    # have answered with the order had it taken it, but the order still stays with it.
    sim.faults(http_500_rate=0.0, out_of_funds=True)
    for _ in range(2):
        Order.objects.filter(pk=order.pk).update(next_attempt_at=None)
        assert order_forward(order_id=order.pk) == "provider_out_of_funds"
        order = refreshed(order)
        assert order.provider_id == provider.pk and order.send_started_at is not None
    assert FAILOVER_EVENT not in kinds(order) and sim2.stats()["requests"].get("add", 0) == 0
    sim.faults(out_of_funds=False)
    Order.objects.filter(pk=order.pk).update(next_attempt_at=None)
    assert order_forward(order_id=order.pk) == "sent"
    assert refreshed(order).provider_id == provider.pk
    assert sim.stats()["orders_created"] == 1 and sim2.stats()["orders_created"] == 0


def test_a_manual_service_page_counts_its_orders_as_fulfilled_by_staff(customer):
    from testing.manual import make_manual_service

    service = make_manual_service()
    place(customer, service, quantity=1000)
    [row], failovers, unserved = service_fulfilment(service_id=service.pk, since=timezone.now() - timedelta(days=1))
    assert (row.provider_id, row.provider, row.orders) == (None, "Manual (staff)", 1)
    assert failovers == [] and unserved == 0


def test_one_task_moves_an_order_a_bounded_number_of_times(customer, make_service, sim, sim2, provider, provider2):
    service = make_service("Default", dripfeed=False)
    # Four fallbacks the second provider does not know ("Incorrect service ID"), then a good one.
    for position, upstream_id in enumerate(["99001", "99002", "99003", "99004"]):
        add_fallback(service, provider2, position=position, upstream_id=upstream_id)
    good = add_fallback(service, provider2, position=9)
    disable_upstream(sim, service.upstream.upstream_id)
    order = place(customer, service)
    assert order_forward(order_id=order.pk) == "deferred"
    order = refreshed(order)
    # Moved three times (sim, 99001, 99002 refused), queued at 99003 without being sent there.
    assert order.upstream_service_id == "99003" and order.forward_state == ForwardState.QUEUED
    assert order.send_started_at is None and order.next_attempt_at <= timezone.now()
    assert kinds(order).count(FAILOVER_EVENT) == 3 and sim2.stats()["requests"]["add"] == 2
    # The next task carries on from there.
    assert order_forward(order_id=order.pk) == "sent"
    order = refreshed(order)
    assert order.upstream_service_id == good.upstream_id and order.provider_id == provider2.pk
    assert kinds(order).count(FAILOVER_EVENT) == 5 and sim2.stats()["orders_created"] == 1
