"""20 scripts pulling the manual queue at once through the Admin API: each of 500 orders goes to
exactly one of them; a lapsed lease hands an order out again."""

import json
from collections import Counter
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from orders.models import Order
from orders.tests.test_manual_pull import manual_orders
from testing.concurrency import run_together

from .conftest import staff_with_token

PULLERS = 20


def pull(key: str, **body) -> list[dict]:
    response = Client().post(
        "/adminapi/v2/orders/pull", json.dumps(body), content_type="application/json", HTTP_X_API_KEY=key
    )
    assert response.status_code == 200, response.content[:300]
    return response.json()["data"]["list"]


@pytest.mark.django_db(transaction=True)
def test_twenty_scripts_pull_500_orders_each_exactly_once():
    ids = manual_orders(500)
    workers = [staff_with_token(f"script{n}", "Admin") for n in range(PULLERS)]

    def script(index: int) -> list[tuple[int, str]]:
        user, key = workers[index]
        got = []
        while batch := pull(key, limit=13, lease_seconds=300):
            got += [(order["id"], order["claimed_by"]) for order in batch]
            assert all(order["claimed_by"] == user.username for order in batch)
        return got

    results = run_together(PULLERS, script)
    pulled = [pk for result in results for pk, _ in result]
    assert Counter(pulled).most_common(1)[0][1] == 1
    assert sorted(pulled) == sorted(ids)
    holders = dict(Order.objects.values_list("id", "claimed_by__username"))
    assert all(holders[pk] == holder for result in results for pk, holder in result)


@pytest.mark.django_db(transaction=True)
def test_a_lapsed_lease_is_pulled_again():
    ids = manual_orders(3)
    _, first = staff_with_token("first", "Admin")
    second_user, second = staff_with_token("second", "Admin")
    assert [o["id"] for o in pull(first, limit=10, lease_seconds=10)] == sorted(ids)
    assert pull(second) == []
    Order.objects.filter(pk=ids[0]).update(claimed_until=timezone.now() - timedelta(seconds=1))
    again = pull(second)
    assert [o["id"] for o in again] == [ids[0]] and again[0]["claimed_by"] == second_user.username
