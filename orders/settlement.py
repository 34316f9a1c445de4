"""Settling final orders: the one refund rule, and the transitions that end an order.

A final order is owed a refund: all of its charge if Canceled, the undelivered share if Partial,
nothing if Completed. `order_settle` pays what is owed once (ledger key `refund:<order id>`);
running it again does nothing.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.ledger import ledger_credit
from accounts.models import LedgerEntry
from catalog.pricing import refund_for_remains

from .events import order_event, order_final_notify
from .models import ForwardState, Order, Status

logger = logging.getLogger(__name__)

UNKNOWN_REMAINS = "Partial without remains: the provider did not say what was delivered; decide the refund"


def final_remains(order: Order, *, reported: int | None) -> int | None:
    """What remains undelivered of an order the provider calls final, from what it said.

    Completed leaves nothing. Canceled leaves all of it unless the provider says otherwise.
    Partial takes the provider's `remains`; without one, a drip-feed order's runs (or a
    subscription's posts) delivered so far tell it: runs delivered x quantity per run. With
    neither, None: the refund cannot be known and the order waits for staff (order_settle).
    """
    if order.status == Status.COMPLETED:
        return 0
    if reported is not None:
        return min(max(reported, 0), order.units)
    if order.status == Status.CANCELED:
        return order.units
    delivered_runs = order.upstream_runs if order.upstream_runs is not None else order.upstream_posts
    if order.status == Status.PARTIAL and order.runs and delivered_runs is not None:
        return max(order.runs - max(delivered_runs, 0), 0) * order.quantity
    return None


def refund_due(order: Order, *, status: str | None = None, remains: int | None = None) -> Decimal:
    """The total refund a final order is owed: all of it if Canceled, the remains' share if
    Partial. `status` and `remains` ask what it would be owed with that outcome instead (staff
    see it before they confirm)."""
    status = order.status if status is None else status
    remains = order.remains if remains is None else remains
    if status == Status.CANCELED:
        return order.charge
    if status == Status.PARTIAL:
        return refund_for_remains(order.charge, remains or 0, order.units)
    return Decimal("0")


def order_settle(*, order_id: int, actor_id: int | None = None) -> Decimal:
    """Apply the refund a final order is owed, once. Returns what this call refunded.

    The first refund carries the ledger key `refund:<order id>`; if staff later correct the
    outcome to one that is owed more, the difference carries a key naming the new total, so every
    replay of the same decision is a no-op and the order can never be refunded beyond its charge.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if not order.is_final:
            return Decimal("0")
        if order.status == Status.PARTIAL and order.remains is None:
            # Never settled as "no refund" by default: staff mark it Partial with the remains.
            if not order.needs_attention:
                Order.objects.filter(pk=order.pk).update(needs_attention=True, attention_reason=UNKNOWN_REMAINS)
                order_event(order.pk, "attention", UNKNOWN_REMAINS)
                logger.warning("order %s: Partial without remains, left for staff", order.pk)
            return Decimal("0")
        due = min(refund_due(order), order.charge)
        delta = due - order.refunded
        moved = Decimal("0")
        if delta > 0:
            key = f"refund:{order.pk}" if order.refunded == 0 else f"refund:{order.pk}:{due}"
            posting = ledger_credit(
                user_id=order.user_id,
                amount=delta,
                kind=LedgerEntry.Kind.REFUND,
                memo=f"Order {order.pk}: {order.status}",
                order_id=order.pk,
                actor_id=actor_id,
                idempotency_key=key,
            )
            if posting.created:
                moved = delta
                order_event(order.pk, "refund", f"Refunded {delta} ({order.status})", actor_id=actor_id)
        Order.objects.filter(pk=order.pk).update(refunded=max(due, order.refunded), settled_at=timezone.now())
        order_final_notify(order, refunded=max(due, order.refunded))
    if moved:
        logger.info("order %s settled: refunded %s", order_id, moved)
    return moved


def order_cancel_unsent(*, order_id: int, reason: str, actor_id: int | None = None) -> bool:
    """Cancel an order that has not been sent upstream, with a full refund. Idempotent.

    The conditional update only matches a queued order, so it cannot race with a worker that is
    claiming the same order for sending: exactly one of them wins.
    """
    with transaction.atomic():
        updated = Order.objects.filter(pk=order_id, forward_state=ForwardState.QUEUED).update(
            forward_state=ForwardState.CANCELED,
            status=Status.CANCELED,
            completed_at=timezone.now(),
            next_attempt_at=None,
            needs_attention=False,
        )
        if updated:
            order_event(order_id, "canceled", reason, actor_id=actor_id)
    if updated:
        order_settle(order_id=order_id, actor_id=actor_id)
    return bool(updated)
