"""Prometheus metrics, served at /metrics.

The registry, the endpoint's text and the worker's exporter live here; the metrics themselves
belong to the apps that count them (orders/metrics.py, upstream/metrics.py). Two kinds:

- Events counted where they happen (forwarding outcomes, upstream latency and errors, poll
  batches), with prometheus-client. With PROMETHEUS_MULTIPROC_DIR set, every process of a
  machine (gunicorn workers, Celery's prefork children) writes to files there and the exporter
  adds them up; Celery workers serve theirs on CELERY_METRICS_PORT (see `start_worker_exporter`).
- State read from the database and Redis at scrape time (orders placed, open and stuck orders,
  poll lag, queue depth, ledger drift found by the last reconciliation; the apps register their
  sources with `register_state`), so they are the same
  whichever machine is scraped and survive restarts. Cached for a few seconds so that several
  scrapers cost one set of queries.
"""

import os
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

STATE_CACHE_SECONDS = 5


class StateCollector:
    """Gauges computed from the database and the broker when scraped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: tuple[float, list] | None = None

    def collect(self):
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < STATE_CACHE_SECONDS:
                return list(self._cached[1])
            families = self._families()
            self._cached = (time.monotonic(), families)
            return list(families)

    def _families(self) -> list:
        families = []
        for source in _state_sources:
            families.extend(source())
        from .health import heartbeat_age

        for name in ("beat", "poll"):
            age = heartbeat_age(name)
            if age is not None:
                families.append(
                    GaugeMetricFamily(
                        f"panel_{name}_heartbeat_age_seconds", f"Seconds since the last {name} heartbeat.", value=age
                    )
                )
        depth = _queue_depths()
        if depth:
            gauge = GaugeMetricFamily("panel_queue_depth", "Tasks waiting in each broker queue.", labels=["queue"])
            for queue, count in depth.items():
                gauge.add_metric([queue], count)
            families.append(gauge)
        return families


# Functions returning metric families read at scrape time, registered by the apps that own the
# data (orders registers its order and reconciliation gauges): panel imports no app.
_state_sources: list[Callable[[], list]] = []


def register_state(source: Callable[[], list]) -> None:
    """Add a scrape-time source of metric families (called from an app's ready())."""
    if source not in _state_sources:
        _state_sources.append(source)


def _queue_depths() -> dict[str, int]:
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    if urlsplit(url).scheme not in {"redis", "rediss"}:
        return {}
    import redis

    queues = [queue.name for queue in settings.CELERY_TASK_QUEUES]
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        pipe = client.pipeline(transaction=False)
        for queue in queues:
            pipe.llen(queue)
        return dict(zip(queues, pipe.execute(), strict=True))
    except redis.RedisError:
        return {}
    finally:
        client.close()


_state = StateCollector()


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def render(*, include_state: bool = True) -> bytes:
    """The exposition text: this machine's event metrics, plus the shared state."""
    if _multiprocess():
        events = CollectorRegistry()
        MultiProcessCollector(events)
    else:
        from prometheus_client import REGISTRY as events
    text = generate_latest(events)
    if include_state:
        state = CollectorRegistry(auto_describe=False)
        state.register(_state)
        text += generate_latest(state)
    return text


def start_worker_exporter(**kwargs) -> None:
    """Serve this machine's event metrics from a Celery worker's main process.

    Connected to Celery's `worker_ready` signal; only with CELERY_METRICS_PORT and
    PROMETHEUS_MULTIPROC_DIR set (prefork children write their counts to that folder).
    """
    port = os.environ.get("CELERY_METRICS_PORT")
    if not port or not _multiprocess():
        return
    from prometheus_client import start_http_server

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    start_http_server(int(port), registry=registry)
