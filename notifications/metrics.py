"""Notification gauges read at scrape time (registered with panel.metrics by NotificationsConfig)."""

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from .models import Delivery

WAITING = (Delivery.State.PENDING, Delivery.State.SENDING)


def delivery_families() -> list:
    """Deliveries waiting or failed, by channel and state, and how long the oldest has waited."""
    rows = GaugeMetricFamily(
        "panel_notification_deliveries",
        "Notification deliveries waiting or failed, by channel and state.",
        labels=["channel", "state"],
    )
    counts = (
        Delivery.objects.filter(state__in=[*WAITING, Delivery.State.FAILED])
        .values_list("channel", "state")
        .annotate(n=Count("id"))
        .order_by()
    )
    for channel, state, count in counts:
        rows.add_metric([channel, state], count)
    oldest = Delivery.objects.filter(state__in=WAITING).aggregate(at=Min("created_at"))["at"]
    age = GaugeMetricFamily(
        "panel_notification_oldest_waiting_seconds", "Age of the oldest delivery not yet sent (0: none)."
    )
    age.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0)
    return [rows, age]
