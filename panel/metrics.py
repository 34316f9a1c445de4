"""Prometheus metrics, served at /metrics.

Two kinds:

- Events counted where they happen (forwarding outcomes, upstream latency and errors, poll
  batches), with prometheus-client. With PROMETHEUS_MULTIPROC_DIR set, every process of a
  machine (gunicorn workers, Celery's prefork children) writes to files there and the exporter
  adds them up; Celery workers serve theirs on CELERY_METRICS_PORT (see `start_worker_exporter`).
- State read from the database and Redis at scrape time (orders placed, open and stuck orders,
  poll lag, queue depth, ledger drift found by the last reconciliation), so they are the same
  whichever machine is scraped and survive restarts. Cached for a few seconds so that several
  scrapers cost one set of queries.
"""

import os
import threading
import time
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

FORWARD_OUTCOMES = Counter(
    "panel_forward_outcomes_total", "Forwarding attempts by provider and outcome.", ["provider", "outcome"]
)
UPSTREAM_SECONDS = Histogram(
    "panel_upstream_request_seconds",
    "Upstream API calls: time to the answer, by provider and action.",
    ["provider", "action"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
UPSTREAM_CALLS = Counter(
    "panel_upstream_calls_total",
    "Upstream API calls by provider, action and outcome (ok, rejected, not_sent, unknown).",
    ["provider", "action", "outcome"],
)
POLL_BATCHES = Counter(
    "panel_poll_batches_total", "Status batches polled, by provider and outcome.", ["provider", "outcome"]
)
POLL_ORDERS_CHANGED = Counter("panel_poll_orders_changed_total", "Orders whose status poll changed them.", ["provider"])

BROKER_QUEUES = ("default", "forward", "poll")
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
        from django.db.models import Count, Min
        from django.utils import timezone

        from orders.models import ACTIVE_STATUSES, ForwardState, Order, ReconciliationReport

        families = []
        placed = CounterMetricFamily("panel_orders_placed", "Orders placed, by source.", labels=["source"])
        for source, count in Order.objects.values_list("source").annotate(n=Count("id")).order_by():
            placed.add_metric([source], count)
        families.append(placed)

        states = GaugeMetricFamily(
            "panel_orders_forward_state", "Orders not yet sent or in doubt, by forwarding state.", labels=["state"]
        )
        open_states = [ForwardState.QUEUED, ForwardState.SENDING, ForwardState.UNKNOWN]
        counts = dict(
            Order.objects.filter(forward_state__in=open_states)
            .values_list("forward_state")
            .annotate(n=Count("id"))
            .order_by()
        )
        for state in open_states:
            states.add_metric([str(state)], counts.get(state, 0))
        families.append(states)
        families.append(
            GaugeMetricFamily(
                "panel_orders_needs_attention",
                "Orders waiting for staff.",
                value=Order.objects.filter(needs_attention=True).count(),
            )
        )

        now = timezone.now()
        oldest_due = Order.objects.filter(
            forward_state=ForwardState.SENT, status__in=ACTIVE_STATUSES, next_check_at__lte=now
        ).aggregate(t=Min("next_check_at"))["t"]
        families.append(
            GaugeMetricFamily(
                "panel_poll_lag_seconds",
                "How long the most overdue status check has been waiting.",
                value=(now - oldest_due).total_seconds() if oldest_due else 0.0,
            )
        )

        from .health import heartbeat_age

        for name in ("beat", "poll"):
            age = heartbeat_age(name)
            if age is not None:
                families.append(
                    GaugeMetricFamily(
                        f"panel_{name}_heartbeat_age_seconds", f"Seconds since the last {name} heartbeat.", value=age
                    )
                )

        report = ReconciliationReport.objects.order_by("-id").first()
        if report is not None:
            families.append(
                GaugeMetricFamily(
                    "panel_ledger_drift_customers",
                    "Customers whose balance differed from their ledger at the last reconciliation.",
                    value=len(report.data.get("drift", [])),
                )
            )
            families.append(
                GaugeMetricFamily(
                    "panel_reconcile_ok", "1 if the last reconciliation found no issue.", value=int(report.ok)
                )
            )
            families.append(
                GaugeMetricFamily(
                    "panel_reconcile_age_seconds",
                    "Seconds since the last reconciliation.",
                    value=(now - report.created_at).total_seconds(),
                )
            )

        depth = _queue_depths()
        if depth:
            gauge = GaugeMetricFamily("panel_queue_depth", "Tasks waiting in each broker queue.", labels=["queue"])
            for queue, count in depth.items():
                gauge.add_metric([queue], count)
            families.append(gauge)
        return families


def _queue_depths() -> dict[str, int]:
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    if urlsplit(url).scheme not in {"redis", "rediss"}:
        return {}
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        pipe = client.pipeline(transaction=False)
        for queue in BROKER_QUEUES:
            pipe.llen(queue)
        return dict(zip(BROKER_QUEUES, pipe.execute(), strict=True))
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
