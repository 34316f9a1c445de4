"""The order engine's metrics: events counted where they happen, and gauges read at scrape time
(registered with panel.metrics by OrdersConfig.ready)."""

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .models import ACTIVE_STATUSES, ForwardState, Order, ReconciliationReport

FORWARD_OUTCOMES = Counter(
    "panel_forward_outcomes_total", "Forwarding attempts by provider and outcome.", ["provider", "outcome"]
)
POLL_BATCHES = Counter(
    "panel_poll_batches_total", "Status batches polled, by provider and outcome.", ["provider", "outcome"]
)
FAILOVERS = Counter(
    "panel_failovers_total",
    "Orders moved to a fallback: the provider that refused, why, and the provider they moved to.",
    ["provider", "reason", "to"],
)
POLL_ORDERS_CHANGED = Counter("panel_poll_orders_changed_total", "Orders whose status poll changed them.", ["provider"])


def order_state_families() -> list:
    """Orders placed, open forwarding states, orders waiting for staff, poll lag, and what the
    last reconciliation found."""
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
    return families
