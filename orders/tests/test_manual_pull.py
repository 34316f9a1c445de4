"""Concurrent pullers of the manual queue: SELECT ... FOR UPDATE SKIP LOCKED hands each order to
exactly one worker; a lapsed lease makes an order pullable again."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import User
from orders import manual
from orders.models import ForwardState, Order
from testing.concurrency import run_together
from testing.manual import make_manual_service

PULLERS = 20
ORDERS = 500


def manual_orders(count: int) -> list[int]:
    service = make_manual_service()
    customer = User.objects.create(username="buyer")
    Order.objects.bulk_create(
        Order(
            user=customer,
            service=service,
            provider=None,
            forward_state=ForwardState.MANUAL,
            link=f"https://example.com/{n}",
            quantity=100,
            charge=Decimal("0.20000"),
            cost_expected=Decimal("0.05000"),
        )
        for n in range(count)
    )
    return list(Order.objects.filter(service=service).values_list("id", flat=True))


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_pullers_get_each_of_500_orders_exactly_once():
    ids = manual_orders(ORDERS)
    workers = [User.objects.create(username=f"worker{n}", is_staff=True).pk for n in range(PULLERS)]

    def puller(index: int) -> list[tuple[int, int]]:
        got = []
        while True:
            batch = manual.manual_pull(actor_id=workers[index], limit=7)
            if not batch:
                return got
            got += [(order.pk, order.claimed_by_id) for order in batch]

    results = run_together(PULLERS, puller)
    pulled = [pk for result in results for pk, _ in result]
    assert Counter(pulled).most_common(1)[0][1] == 1  # nobody got an order twice
    assert sorted(pulled) == sorted(ids)  # and every order went to someone
    assert sum(1 for result in results if result) > 1  # the work was actually shared
    # The database agrees with what each worker was told.
    holders = dict(Order.objects.values_list("id", "claimed_by_id"))
    for result in results:
        for pk, holder in result:
            assert holders[pk] == holder
    assert manual.manual_pull(actor_id=workers[0]) == []


@pytest.mark.django_db(transaction=True)
def test_a_lapsed_lease_makes_the_order_pullable_again_once():
    ids = manual_orders(30)
    first, second, third = (User.objects.create(username=f"w{n}", is_staff=True).pk for n in range(3))
    taken = manual.manual_pull(actor_id=first, limit=30, lease_seconds=60)
    assert [o.pk for o in taken] == sorted(ids)  # oldest first
    assert manual.manual_pull(actor_id=second) == []
    # Ten leases lapse (the worker died): those ten, and only those, go to the next pullers, once.
    lapsed = sorted(ids)[:10]
    Order.objects.filter(pk__in=lapsed).update(claimed_until=timezone.now() - timedelta(seconds=1))
    results = run_together(2, lambda index: [o.pk for o in manual.manual_pull(actor_id=(second, third)[index])])
    assert sorted(pk for result in results for pk in result) == lapsed
