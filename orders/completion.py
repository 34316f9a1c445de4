"""Average completion time per service: how long its latest completed orders took per 1,000.

What a customer compares services on before ordering. The figure is computed from the latest
SAMPLE orders that reached Completed (drip-feed orders are left out: their time is the interval
the customer chose, not the provider's speed), each normalised to 1,000 units (time x 1,000 /
units; a package counts as one order, not normalised), then averaged. Fewer than MIN_ORDERS such
orders is "not enough data" (None). Staff may override the figure on the service's page
(catalog.models.Service.avg_time_override); customers then see the override.

Refreshed by the Celery task orders.refresh_avg_times; running it twice, or two at once, writes
the same figures.
"""

from datetime import timedelta

from django.utils import timezone

from catalog.models import Service, ServiceType
from catalog.pricing import FLAT_TYPES

from .models import Order, Status

SAMPLE = 10
MIN_ORDERS = 3
# Subscriptions run until their expiry: their duration says nothing about speed.
NOT_TIMED = {ServiceType.SUBSCRIPTIONS}


def average_time(durations: list[tuple[timedelta, int]], *, per_units: bool = True) -> timedelta | None:
    """The mean of (duration, units) pairs, each scaled to 1,000 units when `per_units`;
    None when fewer than MIN_ORDERS pairs. Rounded to whole seconds."""
    if len(durations) < MIN_ORDERS:
        return None
    total = 0.0
    for duration, units in durations:
        seconds = max(duration.total_seconds(), 0.0)
        total += seconds * 1000 / units if per_units and units > 0 else seconds
    return timedelta(seconds=round(total / len(durations)))


def service_durations(service_id: int) -> list[tuple[timedelta, int]]:
    """(time taken, units) of the service's latest SAMPLE completed, non-drip-feed orders."""
    rows = (
        Order.objects.filter(
            service_id=service_id, status=Status.COMPLETED, completed_at__isnull=False, runs__isnull=True
        )
        .order_by("-completed_at", "-id")
        .values_list("created_at", "completed_at", "quantity")[:SAMPLE]
    )
    return [(completed - created, quantity) for created, completed, quantity in rows]


def service_avg_time(service: Service) -> tuple[timedelta | None, int]:
    """The computed average time per 1,000 of one service (None: not enough data) and how many
    orders it is based on."""
    if service.type in NOT_TIMED:
        return None, 0
    durations = service_durations(service.pk)
    return average_time(durations, per_units=service.type not in FLAT_TYPES), len(durations)


def avg_times_refresh(*, service_ids: list[int] | None = None) -> int:
    """Recompute the figure of every service (or of `service_ids`); returns how many changed.

    Written with a plain UPDATE per changed service (no row lock, no `updated_at` bump: this
    is a statistic, not a staff edit), so a concurrent staff edit of the service is never
    overwritten with stale fields."""
    services = Service.objects.only("pk", "type", "avg_time", "avg_time_orders")
    if service_ids is not None:
        services = services.filter(pk__in=service_ids)
    changed = 0
    now = timezone.now()
    for service in services.order_by("pk").iterator(chunk_size=500):
        value, count = service_avg_time(service)
        if value != service.avg_time or count != service.avg_time_orders:
            changed += 1
        Service.objects.filter(pk=service.pk).update(avg_time=value, avg_time_orders=count, avg_time_updated_at=now)
    return changed
