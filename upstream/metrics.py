"""Upstream API calls counted per provider, action and outcome."""

from prometheus_client import Counter, Histogram

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
