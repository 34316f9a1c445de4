"""Fixtures: the upstream simulator over real HTTP on loopback, providers and catalog rows.

def test_something(simulator, provider_for):
    sim = simulator(services=50)
    provider = provider_for(sim)
    sim.change(update={"3": {"rate": "9.99"}})
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.utils import translation

from catalog.models import Category, PricingSettings, ProviderImport, Service, UpstreamService
from simulator import Simulator, SimulatorServer, start_in_thread
from upstream.models import Provider

_names = itertools.count(1)


@pytest.fixture(autouse=True)
def _language_reset():
    """Each test starts and ends in the default language: LocaleMiddleware leaves a request's
    language active in the thread, and the next test would read names and messages in it."""
    translation.deactivate()
    yield
    translation.deactivate()


class RunningSimulator:
    def __init__(self, server: SimulatorServer, sim: Simulator, url: str) -> None:
        self.server = server
        self.sim = sim
        self.url = url
        self.key = sim.key
        self.control_url = url.removesuffix("/api/v2") + "/_sim"

    def change(self, **changes: Any) -> dict:
        """POST /_sim/services: {"remove": [ids], "update": {id: {field: value}}, "add": [...]}."""
        response = requests.post(f"{self.control_url}/services", json=changes, timeout=5)
        response.raise_for_status()
        return response.json()

    def faults(self, **faults: Any) -> dict:
        response = requests.post(f"{self.control_url}/faults", json=faults, timeout=5)
        response.raise_for_status()
        return response.json()

    def listing(self) -> list[dict]:
        response = requests.post(self.url, data={"key": self.key, "action": "services"}, timeout=5)
        response.raise_for_status()
        return response.json()


@pytest.fixture
def simulator() -> Iterator[Callable[..., RunningSimulator]]:
    started: list[RunningSimulator] = []

    def start(**kwargs: Any) -> RunningSimulator:
        kwargs.setdefault("seed", 11)
        kwargs.setdefault("services", 60)
        running = RunningSimulator(*start_in_thread(**kwargs))
        started.append(running)
        return running

    yield start
    for running in started:
        running.server.shutdown()


@pytest.fixture
def provider_for(db) -> Callable[..., Provider]:
    def make(sim: RunningSimulator | None = None, *, auto_import: bool = False, **fields: Any) -> Provider:
        fields.setdefault("name", f"provider-{next(_names)}")
        fields.setdefault("api_url", sim.url if sim else "https://provider.example/api/v2")
        fields.setdefault("api_key", sim.key if sim else "test-provider-key-0123")
        fields.setdefault("read_timeout", Decimal("5"))
        provider = Provider.objects.create(**fields)
        if auto_import:
            ProviderImport.objects.create(provider=provider, auto_import=True)
        return provider

    return make


@pytest.fixture
def pricing(db) -> PricingSettings:
    """The panel defaults, stated here so tests do not depend on the model's defaults."""
    settings = PricingSettings.load()
    settings.default_markup_percent = Decimal("50")
    settings.decimals = 4
    settings.rounding = PricingSettings.Rounding.UP
    settings.save()
    return settings


@pytest.fixture
def make_service(db, provider_for) -> Callable[..., Service]:
    """A service saved directly (no pricing applied): rate defaults to 1.00000."""
    counter = itertools.count(1)

    def make(
        *,
        provider: Provider | None = None,
        cost: str = "1.00",
        category: Category | None = None,
        type: str = "Default",
        present: bool = True,
        **fields: Any,
    ) -> Service:
        provider = provider or provider_for()
        number = next(counter)
        upstream = UpstreamService.objects.create(
            provider=provider,
            upstream_id=str(1000 + number),
            name=f"Upstream {number}",
            type=type,
            rate=Decimal(cost),
            min=10,
            max=1000,
            present=present,
        )
        category = category or Category.objects.get_or_create(name="Test category")[0]
        fields.setdefault("rate", Decimal("1"))
        fields.setdefault("min", 10)
        fields.setdefault("max", 1000)
        return Service.objects.create(
            category=category, upstream=upstream, name=f"Service {number}", type=type, **fields
        )

    return make
