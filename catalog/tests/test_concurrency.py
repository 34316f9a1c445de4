"""Concurrent syncs on separate PostgreSQL connections: no duplicates, each change logged once,
and no deadlock with staff recomputing prices at the same time."""

from decimal import Decimal

import pytest

from catalog.models import Service, ServiceChange, UpstreamService
from catalog.services import prices_recompute
from catalog.sync import sync_provider
from testing.concurrency import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_syncs_import_each_service_once(pricing, simulator, provider_for):
    sim = simulator(services=300)
    provider = provider_for(sim, auto_import=True)
    runs = run_together(3, lambda _: sync_provider(provider_id=provider.pk))
    assert all(run.ok for run in runs), [run.error for run in runs]
    assert sorted(run.created for run in runs) == [0, 0, 300]
    assert UpstreamService.objects.filter(provider=provider).count() == 300
    assert Service.objects.filter(upstream__provider=provider).count() == 300
    assert ServiceChange.objects.filter(kind=ServiceChange.Kind.IMPORTED).count() == 300

    sim.change(update={str(i): {"rate": "7.77"} for i in range(1, 11)}, remove=[20, 21])
    runs = run_together(3, lambda _: sync_provider(provider_id=provider.pk))
    assert all(run.ok for run in runs)
    cost_changes = ServiceChange.objects.filter(kind=ServiceChange.Kind.CHANGED, field="cost")
    assert cost_changes.count() == 10
    assert ServiceChange.objects.filter(kind=ServiceChange.Kind.REMOVED).count() == 2
    assert set(Service.objects.filter(upstream__upstream_id__in=["1", "2"]).values_list("rate", flat=True)) == {
        Decimal("11.6550")
    }


def test_sync_and_price_recompute_at_once_do_not_deadlock(pricing, simulator, provider_for):
    sims = [simulator(services=200, seed=seed) for seed in (1, 2)]
    providers = [provider_for(sim, auto_import=True) for sim in sims]
    for provider in providers:
        assert sync_provider(provider_id=provider.pk).ok
    for sim in sims:
        sim.change(update={str(i): {"rate": "3.33"} for i in range(1, 201, 3)})

    def work(index: int):
        if index < 2:
            return sync_provider(provider_id=providers[index].pk).ok
        return prices_recompute() >= 0

    assert run_together(4, work) == [True] * 4
    assert Service.objects.filter(upstream__rate=Decimal("3.33"), rate=Decimal("4.9950")).count() == 2 * 67
