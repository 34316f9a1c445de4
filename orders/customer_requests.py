"""What refill and cancel requests share: each names orders by ID, and each ID gets one outcome."""

from dataclasses import dataclass

from .models import Order


@dataclass(frozen=True)
class RequestOutcome:
    order_id: str
    id: int | None = None  # the refill or cancel request's ID
    error: str | None = None


def distinct_ids(order_ids: list) -> list[str]:
    """The requested IDs, stripped, each once, in the order first given: a request naming an
    order twice asks for one refill or cancel, not two."""
    return list(dict.fromkeys(str(raw_id).strip() for raw_id in order_ids))


def outcome_per_id(order_ids: list, outcomes: list[RequestOutcome]) -> list[RequestOutcome]:
    """One outcome per requested ID, in order: an ID named twice gets its one outcome twice."""
    by_key = {outcome.order_id: outcome for outcome in outcomes}
    return [by_key[str(raw_id).strip()] for raw_id in order_ids]


def own_orders(user_id: int, order_ids: list) -> dict[str, Order]:
    numeric = [int(i) for i in order_ids if str(i).strip().isdigit()]
    found = Order.objects.filter(user_id=user_id, pk__in=numeric).select_related("service")
    return {str(o.pk): o for o in found}
