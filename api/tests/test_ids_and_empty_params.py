"""Multi-ID actions handle each distinct ID once; an empty or blank parameter is the same as a
missing one."""

import pytest
from django.utils import timezone

from orders.models import CancelRequest, ForwardState, Order, Refill

pytestmark = pytest.mark.django_db


@pytest.fixture
def service(make_service):
    return make_service("Default", refill=True, cancel=True, dripfeed=False)


def place(call, key, service, n=0) -> int:
    answer = call(key, "add", service=service.pk, link=f"https://x.com/{n}", quantity=service.min)
    return answer.json["order"]


def sent(order_id: int, status: str = "In progress") -> None:
    Order.objects.filter(pk=order_id).update(
        status=status, forward_state=ForwardState.SENT, upstream_order_id=f"u{order_id}", completed_at=timezone.now()
    )


# --- duplicate IDs ---


def test_cancel_of_an_unsent_order_sent_three_times_cancels_it_once(call, key, service):
    order_id = place(call, key, service)
    answer = call(key, "cancel", orders=f"{order_id},{order_id},{order_id}")
    (cancel_id,) = CancelRequest.objects.filter(order_id=order_id).values_list("id", flat=True)
    assert answer.json == [{"order": order_id, "cancel": cancel_id}]
    assert not CancelRequest.objects.filter(state=CancelRequest.State.QUEUED).exists()
    assert Order.objects.get(pk=order_id).status == "Canceled"


def test_cancel_of_a_sent_order_sent_twice_asks_once(call, key, service):
    order_id = place(call, key, service)
    sent(order_id)
    answer = call(key, "cancel", orders=f" {order_id},{order_id} ")
    (cancel_id,) = CancelRequest.objects.filter(order_id=order_id).values_list("id", flat=True)
    assert answer.json == [{"order": order_id, "cancel": cancel_id}]


def test_duplicates_keep_the_first_seen_order_in_lists(call, key, service):
    first, second = place(call, key, service, 1), place(call, key, service, 2)
    answer = call(key, "cancel", orders=f"{second},abc,{first},{second},abc,{first}")
    assert [item["order"] for item in answer.json] == [second, "abc", first]


def test_refill_of_the_same_order_twice_is_one_refill(call, key, service):
    order_id = place(call, key, service)
    sent(order_id, "Completed")
    answer = call(key, "refill", orders=f"{order_id},{order_id}")
    (refill_id,) = Refill.objects.values_list("id", flat=True)
    assert answer.raw == b'[{"order":%d,"refill":%d}]' % (order_id, refill_id)


def test_refill_status_of_the_same_refill_twice_is_one_entry(call, key, service):
    order_id = place(call, key, service)
    sent(order_id, "Completed")
    refill_id = int(call(key, "refill", order=order_id).json["refill"])
    answer = call(key, "refill_status", refills=f"{refill_id},{refill_id},x,x")
    assert answer.json == [
        {"refill": refill_id, "status": "Pending"},
        {"refill": "x", "status": {"error": "Refill not found"}},
    ]


def test_multi_status_with_duplicates_has_one_key_each(call, key, service):
    order_id = place(call, key, service)
    answer = call(key, "status", orders=f"{order_id},{order_id}, {order_id}")
    assert list(answer.json) == [str(order_id)]
    assert answer.raw.count(b'"status"') == 1


def test_the_100_id_limit_counts_distinct_ids(call, key, service):
    order_id = place(call, key, service)
    others = [str(n) for n in range(10**9, 10**9 + 99)]
    answer = call(key, "status", orders=",".join([str(order_id)] * 150 + others))
    assert len(answer.json) == 100
    too_many = call(key, "status", orders=",".join(str(n) for n in range(1, 102)))
    assert too_many.json == {"error": "Too many IDs: at most 100 per request"}


# --- empty and blank parameters: the same as missing ---

INCORRECT_REQUEST = {"error": "Incorrect request"}


@pytest.mark.parametrize("blank", ["", " ", "\t"])
@pytest.mark.parametrize(
    ("action", "name"),
    [
        ("status", "order"),
        ("status", "orders"),
        ("refill", "order"),
        ("refill", "orders"),
        ("refill_status", "refill"),
        ("refill_status", "refills"),
        ("cancel", "order"),
        ("cancel", "orders"),
    ],
)
def test_an_empty_id_parameter_is_an_incorrect_request(call, key, action, name, blank):
    assert call(key, action, **{name: blank}).json == INCORRECT_REQUEST
    assert call(key, action).json == INCORRECT_REQUEST
    assert call(key, action, json_body=True, **{name: blank}).json == INCORRECT_REQUEST


def test_an_empty_list_parameter_gives_way_to_the_single_one(call, key, service):
    order_id = place(call, key, service)
    answer = call(key, "status", orders="", order=str(order_id))
    assert answer.json["status"] == "Pending"


@pytest.mark.parametrize("blank", [None, "", " "])
def test_an_empty_service_is_an_incorrect_service_id_like_a_missing_one(call, key, service, blank):
    params = {"link": "https://x.com/a", "quantity": service.min}
    if blank is not None:
        params["service"] = blank
    assert call(key, "add", **params).json == {"error": "Incorrect service ID"}
