"""A second simulated provider and fallbacks, for the tests of automatic failover (the order
engine's and the backoffice's)."""

from contextlib import contextmanager
from decimal import Decimal

import requests

from simulator import start_in_thread

from .fixtures import Sim


@contextmanager
def second_simulator(sim: Sim):
    """Another provider with the same catalogue as `sim` (same seed), on its own port and on
    `sim`'s clock, so that advancing the clock moves orders at both."""
    server, simulator, url = start_in_thread(services=120, speed=1.0, seed=7, clock=sim.clock)
    try:
        yield Sim(server, simulator, url, sim.clock)
    finally:
        server.shutdown()
        server.server_close()


def second_provider(sim2: Sim, name: str = "second"):
    from upstream.models import Provider

    return Provider.objects.create(name=name, api_url=sim2.url, api_key=sim2.sim.key, read_timeout=Decimal("2"))


def disable_upstream(sim: Sim, upstream_id: str) -> None:
    """Switch a service off at the simulated provider, as its staff would."""
    response = requests.post(f"{sim.base}/_sim/services", json={"update": {upstream_id: {"disabled": True}}}, timeout=5)
    response.raise_for_status()


def upstream_like(service, provider, *, upstream_id: str | None = None, **fields):
    """What sync would record of `service`'s upstream service at `provider` (the same catalogue:
    the same ID unless told otherwise), `fields` overriding it."""
    from catalog.models import UpstreamService

    primary = service.upstream
    values = {
        "name": primary.name,
        "type": primary.type,
        "category": primary.category,
        "rate": primary.rate,
        "min": primary.min,
        "max": primary.max,
        "refill": primary.refill,
        "cancel": primary.cancel,
        "dripfeed": primary.dripfeed,
        **fields,
    }
    return UpstreamService.objects.create(provider=provider, upstream_id=upstream_id or primary.upstream_id, **values)


def add_fallback(service, provider, *, position: int = 0, upstream_id: str | None = None, **fields):
    """A fallback for `service` at `provider` (see upstream_like); returns its upstream service."""
    from catalog.models import ServiceFallback

    upstream = upstream_like(service, provider, upstream_id=upstream_id, **fields)
    ServiceFallback.objects.create(service=service, upstream=upstream, position=position)
    return upstream
