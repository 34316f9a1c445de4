"""Average completion time per service: the latest 10 completed orders, per 1,000, override."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import Service
from orders.completion import MIN_ORDERS, SAMPLE, average_time, avg_times_refresh, service_avg_time
from orders.models import Order, Status
from orders.tasks import refresh_avg_times

pytestmark = pytest.mark.django_db


def _order(service, user, *, minutes: float, quantity: int, status=Status.COMPLETED, ago_days=0, runs=None):
    finished = timezone.now() - timedelta(days=ago_days)
    order = Order.objects.create(
        user=user,
        service=service,
        provider=service.upstream.provider,
        quantity=quantity,
        runs=runs,
        charge=Decimal("1"),
        cost_expected=Decimal("0.5"),
        status=status,
        forward_state="sent",
        completed_at=finished if status == Status.COMPLETED else None,
    )
    # created_at is auto_now_add: set the start afterwards, `minutes` before completion.
    Order.objects.filter(pk=order.pk).update(created_at=finished - timedelta(minutes=minutes))
    return order


def test_average_is_normalised_per_1000():
    # 10 min for 500 = 20 min per 1,000; 30 min for 3,000 = 10 min per 1,000; 60 min for 1,000.
    pairs = [(timedelta(minutes=10), 500), (timedelta(minutes=30), 3000), (timedelta(minutes=60), 1000)]
    assert average_time(pairs) == timedelta(minutes=30)
    # A package is one order: its time is not scaled.
    assert average_time(pairs, per_units=False) == timedelta(seconds=2000)


def test_not_enough_data_below_the_minimum():
    pairs = [(timedelta(minutes=10), 1000)] * (MIN_ORDERS - 1)
    assert average_time(pairs) is None
    assert average_time([]) is None


def test_latest_ten_completed_orders_only(make_service, customer):
    service = make_service("Default")
    # Old, slow orders that the latest 10 push out of the sample.
    for _ in range(5):
        _order(service, customer, minutes=600, quantity=1000, ago_days=30)
    for _ in range(SAMPLE):
        _order(service, customer, minutes=30, quantity=2000)  # 15 min per 1,000
    # Not counted: unfinished, partial, canceled and drip-feed orders.
    _order(service, customer, minutes=1, quantity=1000, status=Status.IN_PROGRESS)
    _order(service, customer, minutes=1, quantity=1000, status=Status.PARTIAL)
    _order(service, customer, minutes=1, quantity=1000, status=Status.CANCELED)
    _order(service, customer, minutes=1, quantity=1000, runs=3)
    value, count = service_avg_time(service)
    assert count == SAMPLE
    assert value == timedelta(minutes=15)


def test_refresh_writes_the_figure_and_not_enough_data(make_service, customer):
    fast = make_service("Default")
    fresh = make_service("Package")
    for minutes in (10, 20, 30):
        _order(fast, customer, minutes=minutes, quantity=500)  # 20, 40, 60 min per 1,000
    _order(fresh, customer, minutes=5, quantity=1)
    assert refresh_avg_times() >= 1  # the Celery task
    fast.refresh_from_db()
    fresh.refresh_from_db()
    assert fast.avg_time == timedelta(minutes=40)
    assert fast.avg_time_orders == 3
    assert fast.avg_time_updated_at is not None
    assert fresh.avg_time is None  # one order: not enough data
    assert fresh.avg_time_shown is None
    # Running it again (or twice at once) writes the same figures and reports no change.
    assert avg_times_refresh(service_ids=[fast.pk, fresh.pk]) == 0
    fast.refresh_from_db()
    assert fast.avg_time == timedelta(minutes=40)


def test_staff_override_wins_and_survives_a_refresh(make_service, customer):
    service = make_service("Default")
    for _ in range(3):
        _order(service, customer, minutes=10, quantity=1000)
    Service.objects.filter(pk=service.pk).update(avg_time_override=timedelta(hours=2))
    avg_times_refresh()
    service.refresh_from_db()
    assert service.avg_time == timedelta(minutes=10)
    assert service.avg_time_override == timedelta(hours=2)
    assert service.avg_time_shown == timedelta(hours=2)
    Service.objects.filter(pk=service.pk).update(avg_time_override=None)
    service.refresh_from_db()
    assert service.avg_time_shown == timedelta(minutes=10)


def test_subscriptions_are_not_timed(make_service, customer):
    service = make_service("Subscriptions")
    assert service_avg_time(service) == (None, 0)
