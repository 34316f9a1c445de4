"""Every action and variant of /api/v2, answered in the reference's exact shapes, types and words."""

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from accounts.ledger import ledger_credit
from accounts.models import LedgerEntry, User
from accounts.services import api_key_rotate
from api.answers import rate_text
from catalog.models import CustomerPrice, PricingSettings
from catalog.pricing import customer_rate
from orders.models import ForwardState, Order, Refill

from .shapes import check

pytestmark = pytest.mark.django_db


@pytest.fixture
def other(db):
    user = User.objects.create(username="someone-else")
    ledger_credit(user_id=user.pk, amount=Decimal("1000"), memo="test funds")
    return user, api_key_rotate(user=user)


@pytest.fixture
def default(make_service):
    return make_service("Default", dripfeed=False, refill=False)


def place(call, key, service, quantity=None, link="https://instagram.com/p/abc", **extra) -> int:
    answer = call(key, "add", service=service.pk, link=link, quantity=quantity or service.min, **extra)
    assert answer.status == 200 and set(answer.json) == {"order"}, answer.raw
    return answer.json["order"]


def finish(order_id: int, status: str, **fields) -> None:
    now = timezone.now()
    Order.objects.filter(pk=order_id).update(
        status=status, forward_state=ForwardState.SENT, upstream_order_id=f"u{order_id}", completed_at=now, **fields
    )


# --- services ---


def test_services_lists_the_enabled_catalog_at_the_customers_prices(call, key, customer, make_service):
    default = make_service("Default", dripfeed=True)
    comments = make_service("Custom Comments")
    hidden = make_service("Poll")
    hidden.enabled = False
    hidden.save()
    CustomerPrice.objects.create(user=customer, service=comments, rate=comments.rate * 2)

    answer = call(key, "services")
    assert answer.status == 200
    check(answer.json, "ServiceList")
    by_id = {entry["service"]: entry for entry in answer.json}
    assert hidden.pk not in by_id
    assert by_id[default.pk] == {
        "service": default.pk,
        "name": default.name,
        "type": "Default",
        "category": default.category.name,
        "rate": rate_text(customer_rate(default, customer)),
        "min": str(default.min),
        "max": str(default.max),
        "refill": default.refill,
        "cancel": default.cancel,
        "dripfeed": True,
    }
    assert list(by_id[comments.pk]) == ["service", "name", "type", "category", "rate", "min", "max", "refill", "cancel"]
    assert by_id[comments.pk]["rate"] == rate_text(comments.rate * 2)


def test_services_takes_a_constant_number_of_queries(call, key, make_service, django_assert_max_num_queries):
    for type_ in ("Default", "Custom Comments", "Poll", "SEO", "Package"):
        make_service(type_)
    with django_assert_max_num_queries(4):
        assert len(call(key, "services").json) == 5


@pytest.mark.parametrize(
    ("rate", "text"),
    [("0.9", "0.90"), ("8", "8"), ("8.00000", "8"), ("1.25", "1.25"), ("0.0125", "0.0125"), ("0.00001", "0.00001")],
)
def test_rate_text(rate, text):
    assert rate_text(Decimal(rate)) == text


# --- add ---


def test_add_answers_the_order_id_as_a_number_and_charges(call, key, customer, default):
    answer = call(key, "add", service=str(default.pk), link="https://instagram.com/p/x", quantity=str(default.min))
    order = Order.objects.get()
    assert answer.raw == b'{"order":%d}' % order.pk
    assert order.user == customer and order.source == "api"
    customer.refresh_from_db()
    assert customer.balance == Decimal("1000") - order.charge


def test_add_with_a_json_body(call, key, default):
    answer = call(key, "add", json_body=True, service=default.pk, link="https://x.com/a", quantity=default.min)
    assert answer.json == {"order": Order.objects.get().pk}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"service": "999999"}, "Incorrect service ID"),
        ({"service": "abc"}, "Incorrect service ID"),
        ({"service": None}, "Incorrect service ID"),
        ({"link": ""}, "Bad link"),
        ({"quantity": "abc"}, "Incorrect quantity"),
        ({"quantity": "min-1"}, "Quantity less than minimal {min}"),
        ({"quantity": "max+1"}, "Quantity more than maximum {max}"),
        ({"runs": "3", "interval": "10"}, "This service does not support drip-feed"),
    ],
)
def test_add_errors_are_worded_as_providers_word_them(call, key, default, params, message):
    data = {"service": default.pk, "link": "https://instagram.com/p/x", "quantity": default.min, **params}
    data = {name: value for name, value in data.items() if value is not None}
    if data["quantity"] == "min-1":
        data["quantity"] = default.min - 1
    if data["quantity"] == "max+1":
        data["quantity"] = default.max + 1
    answer = call(key, "add", **data)
    assert answer.status == 200
    assert answer.json == {"error": message.format(min=default.min, max=default.max)}
    assert not Order.objects.exists()


def test_add_without_enough_funds(call, default, db):
    poor = User.objects.create(username="poor")
    answer = call(api_key_rotate(user=poor), "add", service=default.pk, link="https://x.com/a", quantity=default.min)
    assert answer.raw == b'{"error":"Not enough funds on balance"}'


def test_every_service_type_is_placed_with_its_parameters(call, key, make_service):
    cases = {
        "Package": {"link": "https://x.com/a"},
        "SEO": {"link": "https://x.com/a", "quantity": "{min}", "keywords": "a\nb"},
        "Mentions with Hashtags": {"link": "https://x.com/a", "quantity": "{min}", "usernames": "a", "hashtags": "#b"},
        "Poll": {"link": "https://x.com/a", "quantity": "{min}", "answer_number": "2"},
        "Custom Comments": {"link": "https://x.com/a", "comments": "\n".join(f"c{i}" for i in range(20))},
        "Subscriptions": {"username": "someone", "min": "{min}", "max": "{min}", "posts": "2", "delay": "30"},
    }
    for type_, params in cases.items():
        service = make_service(type_)
        data = {name: value.format(min=service.min) for name, value in params.items()}
        answer = call(key, "add", service=service.pk, **data)
        assert set(answer.json) == {"order"}, (type_, answer.json)


# --- idempotency ---


def test_idempotency_key_parameter_or_header_places_one_order(call, key, customer, default):
    params = {"service": default.pk, "link": "https://x.com/a", "quantity": default.min}
    first = call(key, "add", idempotency_key="retry-1", **params)
    again = call(key, "add", idempotency_key="retry-1", **params)
    by_header = call(key, "add", headers={"Idempotency-Key": "retry-1"}, **params)
    assert first.json == again.json == by_header.json
    assert Order.objects.count() == 1
    assert LedgerEntry.objects.filter(user=customer, kind="charge").count() == 1
    # A different key is a different order (for another link: the same one is still active).
    other = call(key, "add", idempotency_key="retry-2", **{**params, "link": "https://x.com/b"})
    assert other.json["order"] != first.json["order"]


def test_idempotency_keys_belong_to_one_customer(call, key, other, default):
    params = {"service": default.pk, "link": "https://x.com/a", "quantity": default.min, "idempotency_key": "k"}
    mine = call(key, "add", **params).json["order"]
    theirs = call(other[1], "add", **params).json["order"]
    assert mine != theirs


def test_long_idempotency_keys_are_not_cut_into_collisions(call, key, default):
    params = {"service": default.pk, "quantity": default.min}
    first = call(key, "add", idempotency_key="x" * 200 + "1", link="https://x.com/a", **params)
    second = call(key, "add", idempotency_key="x" * 200 + "2", link="https://x.com/b", **params)
    assert first.json["order"] != second.json["order"]
    assert call(key, "add", idempotency_key="x" * 200 + "1", link="https://x.com/a", **params).json == first.json


# --- status ---


def test_status_of_a_new_order(call, key, default):
    order_id = place(call, key, default, quantity=default.min)
    charge = Order.objects.get(pk=order_id).charge
    answer = call(key, "status", order=str(order_id))
    assert answer.raw == (
        b'{"charge":"%s","start_count":"0","status":"Pending","remains":"%d","currency":"USD"}'
        % (str(charge).encode(), default.min)
    )


def test_status_shows_the_charge_net_of_refunds(call, key, default):
    order_id = place(call, key, default, quantity=default.min * 2)
    order = Order.objects.get(pk=order_id)
    finish(order_id, "Partial", start_count=3572, remains=default.min, refunded=order.charge / 2)
    answer = call(key, "status", order=order_id)
    check(answer.json, "Status")
    assert answer.json == {
        "charge": str((order.charge - order.charge / 2).quantize(Decimal("0.00001"))),
        "start_count": "3572",
        "status": "Partial",
        "remains": str(default.min),
        "currency": "USD",
    }


def test_status_of_a_drip_feed_order_counts_every_run(call, key, make_service):
    service = make_service("Default", dripfeed=True)
    order_id = place(call, key, service, runs="3", interval="10")
    assert call(key, "status", order=order_id).json["remains"] == str(service.min * 3)


def test_multi_status_is_keyed_by_id_in_the_order_sent(call, key, other, default):
    mine = [place(call, key, default, link=f"https://x.com/{n}") for n in range(3)]
    theirs = place(call, other[1], default)
    finish(mine[1], "Completed", start_count=10, remains=0)
    ids = [str(mine[2]), str(theirs), "abc", str(mine[0]), "0" + str(mine[1]), "9" * 30, str(mine[1])]
    answer = call(key, "status", orders=",".join(ids) + ",")
    check(answer.json, "StatusMap")
    assert list(answer.json) == ids
    for raw in (str(theirs), "abc", "0" + str(mine[1]), "9" * 30):
        assert answer.json[raw] == {"error": "Incorrect order ID"}
    assert answer.json[str(mine[1])]["status"] == "Completed"
    assert answer.json[str(mine[0])]["status"] == "Pending"
    # Byte for byte: compact separators, as every answer.
    assert answer.raw == json.dumps(answer.json, separators=(",", ":")).encode()
    assert b'"abc":{"error":"Incorrect order ID"}' in answer.raw


def test_multi_status_of_a_single_id_keeps_the_multi_shape(call, key, default):
    order_id = place(call, key, default)
    assert list(call(key, "status", orders=str(order_id)).json) == [str(order_id)]


def test_another_customers_order_answers_like_a_missing_one(call, key, other, default):
    theirs = place(call, other[1], default)
    missing = Order.objects.order_by("-pk").first().pk + 1000
    assert call(key, "status", order=theirs).raw == call(key, "status", order=missing).raw
    assert call(key, "status", order=theirs).json == {"error": "Incorrect order ID"}


def test_status_for_100_ids_is_a_constant_number_of_queries(call, key, default, django_assert_max_num_queries):
    ids = [place(call, key, default, link=f"https://x.com/{n}") for n in range(100)]
    # One statement checks the key and reads the orders.
    with django_assert_max_num_queries(1):
        one = call(key, "status", orders=str(ids[0]))
    with django_assert_max_num_queries(1):
        hundred = call(key, "status", orders=",".join(map(str, ids)))
    assert len(one.json) == 1 and len(hundred.json) == 100


def test_status_runs_as_a_prepared_statement(call, key, default):
    ids = ",".join(str(place(call, key, default, link=f"https://x.com/{n}")) for n in range(3))
    for _ in range(3):
        assert len(call(key, "status", orders=ids).json) == 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", ["%api_key_hash%"])
        assert len(cursor.fetchall()) == 1


@pytest.mark.parametrize("refuse_duplicates, queries", [(False, 11), (True, 13)])
def test_add_takes_a_fixed_small_number_of_queries(
    call, key, default, customer, django_assert_max_num_queries, refuse_duplicates, queries
):
    # Key; service with the customer's price and the pricing rules; then the write: order,
    # ledger (savepoint, lock, entry, balance, release), event, and the transaction's own
    # statements. The duplicate-link rule adds the customer's row lock and the check.
    PricingSettings.objects.update_or_create(pk=1, defaults={"refuse_duplicate_active_link": refuse_duplicates})
    CustomerPrice.objects.create(user=customer, service=default, rate=default.rate * 2)
    with django_assert_max_num_queries(queries):
        order_id = place(call, key, default)
    expected = (default.rate * 2 * default.min / 1000).quantize(Decimal("0.00001"), rounding="ROUND_UP")
    assert Order.objects.get(pk=order_id).charge == expected


def test_more_than_100_ids(call, key):
    ids = ",".join(str(n) for n in range(1, 102))
    for action, name in (
        ("status", "orders"),
        ("refill", "orders"),
        ("refill_status", "refills"),
        ("cancel", "orders"),
    ):
        assert call(key, action, **{name: ids}).raw == b'{"error":"Too many IDs: at most 100 per request"}'
    assert len(call(key, "status", orders=",".join(str(n) for n in range(1, 101))).json) == 100


@pytest.mark.parametrize("params", [{}, {"orders": ""}, {"orders": " , ,"}])
def test_status_without_ids_is_an_incorrect_request(call, key, params):
    assert call(key, "status", **params).json == {"error": "Incorrect request"}


# --- refill and refill_status ---


@pytest.fixture
def refillable(make_service):
    return make_service("Default", refill=True, dripfeed=False)


def test_refill_single_answers_the_id_as_a_string(call, key, refillable):
    order_id = place(call, key, refillable)
    finish(order_id, "Completed", start_count=1, remains=0)
    answer = call(key, "refill", order=order_id)
    refill = Refill.objects.get()
    assert answer.raw == b'{"refill":"%d"}' % refill.pk
    assert call(key, "refill", order=order_id).json == {"error": "Refill already requested for this order"}


def test_refill_errors(call, key, other, refillable, default):
    pending = place(call, key, refillable)
    no_refill = place(call, key, default)
    finish(no_refill, "Completed")
    theirs = place(call, other[1], refillable)
    finish(theirs, "Completed")
    assert call(key, "refill", order=pending).json == {"error": "The order is not completed"}
    assert call(key, "refill", order=no_refill).json == {"error": "Refill is disabled for this service"}
    assert call(key, "refill", order=theirs).json == {"error": "Incorrect order ID"}
    assert call(key, "refill", order="abc").json == {"error": "Incorrect order ID"}
    assert not Refill.objects.exists()


def test_refill_multi_is_a_list_with_numbers_in_the_order_sent(call, key, other, refillable):
    done = [place(call, key, refillable, link=f"https://x.com/{n}") for n in range(2)]
    for order_id in done:
        finish(order_id, "Completed")
    theirs = place(call, other[1], refillable)
    finish(theirs, "Completed")
    answer = call(key, "refill", orders=f"{done[0]},{theirs},{done[1]},xyz")
    check(answer.json, "RefillList")
    refills = dict(Refill.objects.values_list("order_id", "id"))
    assert answer.json == [
        {"order": done[0], "refill": refills[done[0]]},
        {"order": theirs, "refill": {"error": "Incorrect order ID"}},
        {"order": done[1], "refill": refills[done[1]]},
        {"order": "xyz", "refill": {"error": "Incorrect order ID"}},
    ]


def test_refill_status_single_and_multi(call, key, other, refillable):
    order_id = place(call, key, refillable)
    finish(order_id, "Completed")
    refill_id = int(call(key, "refill", order=order_id).json["refill"])
    theirs = place(call, other[1], refillable)
    finish(theirs, "Completed")
    their_refill = int(call(other[1], "refill", order=theirs).json["refill"])

    assert call(key, "refill_status", refill=refill_id).raw == b'{"status":"Pending"}'
    Refill.objects.filter(pk=refill_id).update(status="Completed")
    assert call(key, "refill_status", refill=refill_id).json == {"status": "Completed"}
    assert call(key, "refill_status", refill=their_refill).json == {"error": "Refill not found"}

    answer = call(key, "refill_status", refills=f"{refill_id},{their_refill},abc")
    check(answer.json, "RefillStatusList")
    assert answer.json == [
        {"refill": refill_id, "status": "Completed"},
        {"refill": their_refill, "status": {"error": "Refill not found"}},
        {"refill": "abc", "status": {"error": "Refill not found"}},
    ]


# --- cancel ---


def test_cancel_answers_a_list_in_the_reference_shape(call, key, other, make_service, default):
    cancelable = make_service("Default", cancel=True, dripfeed=False)
    mine = place(call, key, cancelable)
    theirs = place(call, other[1], cancelable)
    not_cancelable = place(call, key, make_service("Default", cancel=False, dripfeed=False))
    answer = call(key, "cancel", orders=f"{theirs},{mine},{not_cancelable}")
    check(answer.json, "CancelList")
    cancel_id = answer.json[1]["cancel"]
    assert answer.json == [
        {"order": theirs, "cancel": {"error": "Incorrect order ID"}},
        {"order": mine, "cancel": cancel_id},
        {"order": not_cancelable, "cancel": {"error": "Cancel is disabled for this service"}},
    ]
    assert isinstance(cancel_id, int)
    # Never sent upstream, so it is canceled and refunded at once.
    order = Order.objects.get(pk=mine)
    assert order.status == "Canceled" and order.refunded == order.charge
    again = call(key, "cancel", orders=str(mine))
    assert again.json == [{"order": mine, "cancel": {"error": "Order can not be canceled"}}]
    assert call(key, "cancel").json == {"error": "Incorrect request"}


# --- balance ---


def test_balance(call, key, customer):
    assert call(key, "balance").raw == b'{"balance":"1000.00000","currency":"USD"}'


# --- keys, actions, methods ---


@pytest.mark.parametrize("bad", [None, "", "nope", "x" * 300])
def test_invalid_key(call, bad):
    answer = call(bad, "balance")
    assert answer.status == 200
    assert answer.raw == b'{"error":"Invalid API key"}'


def test_rotated_or_disabled_key_is_invalid(call, key, customer):
    api_key_rotate(user=customer)
    assert call(key, "balance").json == {"error": "Invalid API key"}
    fresh = api_key_rotate(user=customer)
    User.objects.filter(pk=customer.pk).update(is_active=False)
    assert call(fresh, "balance").json == {"error": "Invalid API key"}


def test_a_session_cookie_is_not_a_credential(client, call, customer):
    client.force_login(customer)
    assert call(None, "balance").json == {"error": "Invalid API key"}


def test_missing_and_unknown_actions(call, key):
    assert call(key).json == {"error": "Incorrect request"}
    assert call(key, "withdraw").json == {"error": "This action is invalid"}


def test_get_answers_like_post(call, key):
    assert call(method="get", query={"key": key, "action": "balance"}).json == call(key, "balance").json


def test_trailing_slash_and_other_methods(client, key):
    assert client.post("/api/v2/", {"key": key, "action": "balance"}).json()["currency"] == "USD"
    response = client.put("/api/v2", "key=x")
    assert response.status_code == 405 and response.json() == {"error": "Incorrect request"}


@pytest.mark.parametrize(
    "body", [b"{", b"[1,2]", b'"text"', b'{"key": {"a": 1}}', b"\xff\xfe", b"[" * 100000 + b"]" * 100000]
)
def test_unreadable_json_bodies(client, body):
    response = client.post("/api/v2", body, content_type="application/json")
    assert response.status_code == 200 and response.json() == {"error": "Incorrect request"}


def test_nul_characters_are_refused(call, key, default):
    answer = call(key, "add", service=default.pk, link="https://x.com/a\x00", quantity=default.min)
    assert answer.json == {"error": "Incorrect request"}
