"""Status answers for drip-feed orders carry `runs` (runs delivered so far), for subscriptions
`posts` (posts delivered so far), after the reference's keys; a Completed order has nothing
remaining."""

import json
from decimal import Decimal

import pytest

from orders.models import ForwardState, Order

from .shapes import check

pytestmark = pytest.mark.django_db


@pytest.fixture
def dripfeed(make_service):
    return make_service("Default", dripfeed=True)


@pytest.fixture
def subscription(make_service):
    return make_service("Subscriptions")


def place_dripfeed(call, key, service, runs=4) -> Order:
    answer = call(
        key, "add", service=service.pk, link="https://x.com/d", quantity=service.min, runs=str(runs), interval="10"
    )
    return Order.objects.get(pk=answer.json["order"])


def place_subscription(call, key, service, posts=5) -> Order:
    answer = call(
        key, "add", service=service.pk, username="someone", min=service.min, max=service.min, posts=posts, delay="30"
    )
    return Order.objects.get(pk=answer.json["order"])


def update(order: Order, status: str, **fields) -> None:
    Order.objects.filter(pk=order.pk).update(
        status=status, forward_state=ForwardState.SENT, upstream_order_id=f"u{order.pk}", **fields
    )


def status_raw(call, key, order: Order) -> bytes:
    answer = call(key, "status", order=str(order.pk))
    check(answer.json, "Status")
    return answer.raw


def expected(order: Order, status: str, remains: int, extra: str, start_count: int = 0) -> bytes:
    charge = str((order.charge - Order.objects.get(pk=order.pk).refunded).quantize(Decimal("0.00001")))
    head = f'{{"charge":"{charge}","start_count":"{start_count}","status":"{status}","remains":"{remains}"'
    return f'{head},"currency":"USD",{extra}}}'.encode()


def test_a_new_drip_feed_order_has_delivered_no_runs(call, key, dripfeed):
    order = place_dripfeed(call, key, dripfeed, runs=4)
    assert status_raw(call, key, order) == expected(order, "Pending", order.quantity * 4, '"runs":"0"')


def test_a_drip_feed_order_in_progress_counts_its_whole_runs_delivered(call, key, dripfeed):
    order = place_dripfeed(call, key, dripfeed, runs=4)
    # 2.5 runs' worth delivered: two whole runs.
    remains = order.quantity * 3 // 2
    update(order, "In progress", start_count=10, remains=remains)
    assert status_raw(call, key, order) == expected(order, "In progress", remains, '"runs":"2"', 10)


def test_a_partial_drip_feed_order_answers_the_runs_its_charge_paid_for(call, key, dripfeed):
    order = place_dripfeed(call, key, dripfeed, runs=4)
    update(order, "Partial", start_count=10, remains=order.quantity, refunded=order.charge / 4)
    answer = json.loads(status_raw(call, key, order))
    assert answer["runs"] == "3" and answer["remains"] == str(order.quantity)


def test_a_completed_drip_feed_order_has_nothing_remaining_and_every_run(call, key, dripfeed):
    # Seen in the wild: a provider answering Completed with "remains":"200" for a drip-feed order.
    order = place_dripfeed(call, key, dripfeed, runs=4)
    update(order, "Completed", start_count=10, remains=200)
    assert status_raw(call, key, order) == expected(order, "Completed", 0, '"runs":"4"', 10)


def test_a_canceled_drip_feed_order_was_refunded_every_run(call, key, dripfeed):
    order = place_dripfeed(call, key, dripfeed, runs=4)
    update(order, "Canceled", remains=0, refunded=order.charge)
    answer = json.loads(status_raw(call, key, order))
    assert answer["runs"] == "0" and answer["charge"] == "0.00000"


def test_a_completed_order_never_shows_remains(call, key, make_service):
    service = make_service("Default", dripfeed=False)
    answer = call(key, "add", service=service.pk, link="https://x.com/c", quantity=service.min)
    order = Order.objects.get(pk=answer.json["order"])
    update(order, "Completed", start_count=5, remains=37)
    raw = status_raw(call, key, order)
    assert json.loads(raw)["remains"] == "0"
    assert list(json.loads(raw)) == ["charge", "start_count", "status", "remains", "currency"]


def test_a_new_subscription_has_delivered_no_posts(call, key, subscription):
    order = place_subscription(call, key, subscription, posts=5)
    # Charged for max x posts, and all of it remains.
    assert status_raw(call, key, order) == expected(order, "Pending", order.quantity * 5, '"posts":"0"')


def test_a_subscription_in_progress_counts_its_posts_delivered(call, key, subscription):
    order = place_subscription(call, key, subscription, posts=5)
    update(order, "In progress", start_count=0, remains=order.quantity * 2)
    assert json.loads(status_raw(call, key, order))["posts"] == "3"
    update(order, "Completed", start_count=0, remains=order.quantity * 2)
    assert json.loads(status_raw(call, key, order))["posts"] == "5"


def test_multi_status_carries_the_extra_keys_per_order(call, key, dripfeed, subscription, make_service):
    drip = place_dripfeed(call, key, dripfeed, runs=3)
    sub = place_subscription(call, key, subscription, posts=2)
    plain = make_service("Default", dripfeed=False)
    plain_id = call(key, "add", service=plain.pk, link="https://x.com/p", quantity=plain.min).json["order"]
    answer = call(key, "status", orders=f"{drip.pk},{sub.pk},{plain_id}")
    check(answer.json, "StatusMap")
    assert answer.json[str(drip.pk)]["runs"] == "0"
    assert answer.json[str(sub.pk)]["posts"] == "0"
    assert set(answer.json[str(plain_id)]) == {"charge", "start_count", "status", "remains", "currency"}
    assert answer.raw == json.dumps(answer.json, separators=(",", ":")).encode()
