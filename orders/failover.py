"""Automatic failover: an order its provider definitely refused moves to the service's next
fallback upstream service (catalog.ServiceFallback, in position order) and is sent there.

A definite refusal says the provider did not take the order and will not take it now: the
service is switched off or unknown upstream, the provider is out of funds (both read from its
answer by upstream.client.errors.refusal_reason), the provider is disabled in our panel, or its
circuit breaker is open. Forwarding (orders.forwarding) decides that; this module picks the
next candidate and moves the order there.

Never after an unknown outcome: when an earlier send may have reached a provider (the order's
`send_started_at` was set when it was claimed), forwarding never asks for a fallback, since a
second provider could deliver the order twice.

A candidate must sell the same type, take the order's own parameters (validated exactly as
placement validates them, against the candidate's min, max and drip-feed), be listed by an
enabled provider whose circuit is closed, and cost no more than the customer was charged
(unless the service is a loss-leader). Upstream services already tried for this order, and
providers that refused it as a whole, are never tried again for it.

The move is one compare-and-set UPDATE of the row the forwarding worker holds (state
`sending`, same provider, same attempt count): provider, upstream service and expected cost
change together with a fresh sending lease, in the transaction that writes the "failover"
event. A second worker or a staff action that touched the order meanwhile makes it match no
row, and nothing is sent.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from catalog.models import DRIPFEED_TYPES, Service, ServiceFallback, UpstreamService
from catalog.pricing import quote
from upstream.client.errors import FUNDS, SERVICE
from upstream.models import Provider
from upstream.names import name_key

from .errors import OrderError
from .events import order_event
from .metrics import FAILOVERS
from .models import ForwardState, Order, OrderEvent
from .selectors import COST, REVENUE, ZERO
from .validation import validate_order

# Why an order left a provider. SERVICE and FUNDS come from the provider's answer. English in
# the order's events (stored) and the rows below; the backoffice's failover tables translate them.
PROVIDER_DISABLED = "provider_disabled"
CIRCUIT_OPEN = "circuit_open"
REASONS = {
    SERVICE: gettext_noop("service disabled or unknown upstream"),
    FUNDS: gettext_noop("out of funds"),
    PROVIDER_DISABLED: gettext_noop("provider disabled in our panel"),
    CIRCUIT_OPEN: gettext_noop("circuit breaker open"),
}
# Refusals about the whole provider: none of its services is tried again for the order.
PROVIDER_WIDE = frozenset({FUNDS, PROVIDER_DISABLED, CIRCUIT_OPEN})

FAILOVER_EVENT = "failover"
NO_FALLBACK_EVENT = "no_fallback"


@dataclass(frozen=True)
class Refusal:
    """A definite refusal of one provider: `reason` is a key of REASONS, `detail` the
    provider's words (or ours, for a disabled provider or an open circuit)."""

    reason: str
    detail: str


class Lost:
    """The compare-and-set matched nothing: someone else changed the order meanwhile."""


LOST = Lost()

# (provider) -> the Refusal it would give without being asked (disabled, circuit open), or None.
Unavailable = Callable[[Provider], Refusal | None]


@dataclass(frozen=True)
class Candidate:
    upstream: UpstreamService
    cost: Decimal


def _order_data(order: Order) -> dict:
    """The order's parameters as a customer would have given them, to validate them again."""
    data = {**order.params, "link": order.link, "quantity": order.quantity}
    if order.runs and order.service.type in DRIPFEED_TYPES:
        data.update(runs=order.runs, interval=order.interval)
    return data


def _stand_in(order: Order, upstream: UpstreamService) -> Service:
    """The order's service as if it sold `upstream`: the type stays, the limits are upstream's."""
    service = order.service
    return Service(
        type=service.type,
        upstream=upstream,
        rate=Decimal("0"),
        min=upstream.min,
        max=upstream.max,
        dripfeed=upstream.dripfeed,
        allow_below_cost=True,
    )


def candidate_problem(order: Order, upstream: UpstreamService, unavailable: Unavailable) -> tuple[str | None, Decimal]:
    """(why `upstream` cannot take the order or None, what it would cost in panel currency)."""
    provider = upstream.provider
    if not upstream.present:
        return f"{provider.name} no longer lists it", Decimal("0")
    refusal = unavailable(provider)
    if refusal is not None:
        return REASONS[refusal.reason], Decimal("0")
    if name_key(upstream.type) != name_key(order.service.type):
        return f"type {upstream.type}, the order's is {order.service.type}", Decimal("0")
    stand_in = _stand_in(order, upstream)
    try:
        fields = validate_order(stand_in, _order_data(order))
    except OrderError as exc:
        return exc.message, Decimal("0")
    if (fields.quantity, fields.runs, fields.params) != (order.quantity, order.runs, order.params):
        return "it would take the order's parameters differently", Decimal("0")
    # Converted to the panel currency as placement converts it (catalog.pricing.quote).
    cost = quote(stand_in, None, quantity=order.quantity, runs=order.runs, custom_rates={}).cost
    if cost > order.charge and not order.service.allow_below_cost:
        return f"costs {cost}, above the {order.charge} the customer was charged", cost
    return None, cost


def _history(order_id: int) -> tuple[set[tuple[int, str]], set[int]]:
    """Upstream services (provider ID, upstream ID) this order already left, and providers that
    refused it as a whole."""
    tried: set[tuple[int, str]] = set()
    refused_providers: set[int] = set()
    for data in OrderEvent.objects.filter(order_id=order_id, kind=FAILOVER_EVENT).values_list("data", flat=True):
        tried.add((data["from_provider"], data["from_upstream_service"]))
        if data["reason"] in PROVIDER_WIDE:
            refused_providers.add(data["from_provider"])
    return tried, refused_providers


def next_candidate(
    order: Order, refusal: Refusal, unavailable: Unavailable
) -> tuple[Candidate | None, list[str], bool]:
    """(the first candidate that can take the order or None, why the others were skipped,
    whether the service has any fallback at all)."""
    fallbacks = list(
        ServiceFallback.objects.filter(service_id=order.service_id)
        .select_related("upstream__provider")
        .order_by("position", "id")
    )
    if not fallbacks:
        return None, [], False
    tried, refused_providers = _history(order.pk)
    tried.add((order.provider_id, order.upstream_service_id))
    if refusal.reason in PROVIDER_WIDE:
        refused_providers.add(order.provider_id)
    primary = UpstreamService.objects.select_related("provider").filter(pk=order.service.upstream_id).first()
    skipped = []
    for upstream in [primary, *(fallback.upstream for fallback in fallbacks)]:
        if upstream is None or (upstream.provider_id, upstream.upstream_id) in tried:
            continue
        tried.add((upstream.provider_id, upstream.upstream_id))
        label = f"{upstream.provider.name} #{upstream.upstream_id}"
        if upstream.provider_id in refused_providers:
            skipped.append(f"{label}: its provider already refused this order")
            continue
        problem, cost = candidate_problem(order, upstream, unavailable)
        if problem is None:
            return Candidate(upstream, cost), skipped, True
        skipped.append(f"{label}: {problem}")
    return None, skipped, True


def order_failover(
    *, order: Order, refusal: Refusal, unavailable: Unavailable, lease: timedelta
) -> Order | Lost | None:
    """Move an order its provider definitely refused (the caller holds it in `sending`) to the
    next candidate, in one transaction with its event. Returns the order as moved (still
    `sending`, ready to send), None when no candidate is left (the caller handles the refusal
    as it would without fallbacks), or LOST when the order changed under us (send nothing)."""
    provider = order.provider
    candidate, skipped, has_fallbacks = next_candidate(order, refusal, unavailable)
    reason = REASONS[refusal.reason]
    if candidate is None:
        if has_fallbacks:
            message = f"{provider.name} refused ({reason}: {refusal.detail}); no fallback can take it"
            if skipped:
                message += ": " + "; ".join(skipped)
            latest = order.events.order_by("-id").values_list("kind", "message").first()
            # A provider that stays disabled is asked again every half minute: say it once.
            if latest != (NO_FALLBACK_EVENT, message):
                order_event(order.pk, NO_FALLBACK_EVENT, message, data={"reason": refusal.reason})
        return None
    upstream = candidate.upstream
    with transaction.atomic():
        moved = Order.objects.filter(
            pk=order.pk,
            forward_state=ForwardState.SENDING,
            provider_id=order.provider_id,
            upstream_service_id=order.upstream_service_id,
            attempts=order.attempts,
        ).update(
            provider_id=upstream.provider_id,
            upstream_service_id=upstream.upstream_id,
            cost_expected=candidate.cost,
            lease_until=timezone.now() + lease,
            # The refusal was definite: the order exists nowhere yet.
            send_started_at=None,
            attempts=F("attempts") + 1,
            needs_attention=False,
            attention_reason="",
            upstream_error="",
        )
        if not moved:
            return LOST
        message = (
            f"{provider.name} refused ({reason}: {refusal.detail}); "
            f"moved to {upstream.provider.name} service {upstream.upstream_id}"
        )
        if skipped:
            message += " (skipped " + "; ".join(skipped) + ")"
        order_event(
            order.pk,
            FAILOVER_EVENT,
            message,
            data={
                "reason": refusal.reason,
                "detail": refusal.detail,
                "from_provider": order.provider_id,
                "from_upstream_service": order.upstream_service_id,
                "to_provider": upstream.provider_id,
                "to_upstream_service": upstream.upstream_id,
                "cost_before": str(order.cost_expected),
                "cost_after": str(candidate.cost),
                "skipped": skipped,
            },
        )
    FAILOVERS.labels(provider.name, refusal.reason, upstream.provider.name).inc()
    return Order.objects.select_related("service", "provider").get(pk=order.pk)


# --- What staff see on a service's page ------------------------------------------------------


@dataclass(frozen=True)
class FulfilmentRow:
    provider_id: int | None
    provider: str
    orders: int
    revenue: Decimal
    cost: Decimal


@dataclass(frozen=True)
class FailoverRow:
    from_provider: str
    reason: str
    to_provider: str
    count: int


def service_fulfilment(*, service_id: int, since: datetime) -> tuple[list[FulfilmentRow], list[FailoverRow], int]:
    """For a service's orders placed since `since`: who fulfilled them (the provider each order
    is with now: the one that accepted it, once sent), how often failover moved one (from, why,
    to), and how many found no fallback."""
    orders = Order.objects.filter(service_id=service_id, created_at__gte=since)
    names = dict(Provider.objects.values_list("id", "name"))
    fulfilment = [
        FulfilmentRow(
            provider_id=row["provider_id"],
            # A manual order has no provider: staff fulfil it.
            provider=names.get(row["provider_id"], "-") if row["provider_id"] else gettext("Manual (staff)"),
            orders=row["n"],
            revenue=row["revenue"],
            cost=row["cost"],
        )
        for row in orders.order_by()
        .values("provider_id")
        .annotate(n=Count("id"), revenue=Coalesce(Sum(REVENUE), ZERO), cost=Coalesce(Sum(COST), ZERO))
        .order_by("-n", "provider_id")
    ]
    events = OrderEvent.objects.filter(order__service_id=service_id, created_at__gte=since)

    def name(provider_id: str | None) -> str:
        return names.get(int(provider_id), provider_id) if provider_id and provider_id.isdigit() else "-"

    failovers = [
        FailoverRow(
            from_provider=name(row["source"]),
            reason=REASONS.get(row["why"], row["why"]),
            to_provider=name(row["target"]),
            count=row["n"],
        )
        for row in events.filter(kind=FAILOVER_EVENT)
        .values(source=KT("data__from_provider"), why=KT("data__reason"), target=KT("data__to_provider"))
        .annotate(n=Count("id"))
        .order_by("-n", "source", "why", "target")
    ]
    unserved = events.filter(kind=NO_FALLBACK_EVENT).values("order_id").distinct().count()
    return fulfilment, failovers, unserved


@dataclass(frozen=True)
class ProviderFailoverRow:
    service_id: int
    service: str
    other_provider: str  # where the orders went (away), or where they came from (taken)
    reason: str
    count: int


def provider_failovers(
    *, provider_id: int, since: datetime
) -> tuple[list[ProviderFailoverRow], list[ProviderFailoverRow]]:
    """Failovers since `since` that moved orders away from this provider (it refused them) and
    that brought orders to it (it was the fallback), per service, other provider and reason."""
    names = dict(Provider.objects.values_list("id", "name"))
    events = OrderEvent.objects.filter(kind=FAILOVER_EVENT, created_at__gte=since)

    def rows(mine: str, other: str) -> list[ProviderFailoverRow]:
        grouped = (
            events.filter(**{f"data__{mine}": provider_id})
            .values("order__service_id", "order__service__name", other_id=KT(f"data__{other}"), why=KT("data__reason"))
            .annotate(n=Count("id"))
            .order_by("-n", "order__service_id", "other_id", "why")
        )
        return [
            ProviderFailoverRow(
                service_id=row["order__service_id"],
                service=row["order__service__name"],
                other_provider=names.get(int(row["other_id"]), row["other_id"]) if row["other_id"] else "-",
                reason=REASONS.get(row["why"], row["why"]),
                count=row["n"],
            )
            for row in grouped
        ]

    return rows("from_provider", "to_provider"), rows("to_provider", "from_provider")
