"""Favourites and the average-time refresh under concurrency: real threads, separate connections."""

import pytest

from catalog.favourites import favourite_set
from catalog.models import FavouriteService, Service
from orders.completion import avg_times_refresh
from orders.tests.test_completion import _order
from testing.concurrency import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_eight_concurrent_stars_make_one_favourite(customer, make_service):
    service = make_service("Default")
    results = run_together(8, lambda _i: favourite_set(user_id=customer.pk, service_id=service.pk, starred=True))
    assert results == [True] * 8
    assert FavouriteService.objects.filter(user=customer, service=service).count() == 1


def test_the_refresh_task_run_concurrently_writes_the_same_figures(customer, make_service):
    services = [make_service("Default"), make_service("Default", refill=True)]
    for service in services:
        for minutes in (10, 20, 30):
            _order(service, customer, minutes=minutes, quantity=1000)
    run_together(4, lambda _i: avg_times_refresh())
    for service in Service.objects.filter(pk__in=[s.pk for s in services]):
        assert service.avg_time.total_seconds() == 20 * 60
        assert service.avg_time_orders == 3
