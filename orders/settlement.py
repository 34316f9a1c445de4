"""Settling final orders: the one refund rule, and the transitions that end an order.

A final order is owed a refund: all of its charge if Canceled, the undelivered share if Partial,
nothing if Completed. `order_settle` pays what is owed once (ledger key `refund:<order id>`);
running it again does nothing.
"""

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from accounts.ledger import Movement, ledger_credit, ledger_post_many
from accounts.models import LedgerEntry
from catalog.pricing import refund_for_remains
from panel.db import bulk_insert, prepared_cursor

from .events import order_event, order_final_notify, orders_final_notify
from .models import ForwardState, Order, OrderEvent, Status

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


@dataclass(frozen=True)
class Settlement:
    """What settling a locked final order does: the total it is owed and the refund still to pay."""

    due: Decimal
    delta: Decimal
    key: str


def _settlement(order: Order) -> Settlement | None:
    """The refund rule for one locked order; None when there is nothing to settle (not final, or
    Partial without remains, which is left for staff here)."""
    if not order.is_final:
        return None
    if order.status == Status.PARTIAL and order.remains is None:
        # Never settled as "no refund" by default: staff mark it Partial with the remains.
        if not order.needs_attention:
            Order.objects.filter(pk=order.pk).update(needs_attention=True, attention_reason=UNKNOWN_REMAINS)
            order_event(order.pk, "attention", UNKNOWN_REMAINS)
            logger.warning("order %s: Partial without remains, left for staff", order.pk)
        return None
    due = min(refund_due(order), order.charge)
    # The first refund's key names the order; a later, larger total (staff corrected the outcome)
    # pays the difference under a key naming that total, so each decision is paid once.
    key = f"refund:{order.pk}" if order.refunded == 0 else f"refund:{order.pk}:{due}"
    return Settlement(due=due, delta=due - order.refunded, key=key)


def _refund(order: Order, settlement: Settlement, actor_id: int | None) -> Movement:
    return Movement(
        user_id=order.user_id,
        amount=settlement.delta,
        kind=LedgerEntry.Kind.REFUND,
        memo=f"Order {order.pk}: {order.status}",
        order_id=order.pk,
        actor_id=actor_id,
        idempotency_key=settlement.key,
    )


def order_settle(*, order_id: int, actor_id: int | None = None) -> Decimal:
    """Apply the refund a final order is owed, once. Returns what this call refunded.

    The first refund carries the ledger key `refund:<order id>`; if staff later correct the
    outcome to one that is owed more, the difference carries a key naming the new total, so every
    replay of the same decision is a no-op and the order can never be refunded beyond its charge.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        settlement = _settlement(order)
        if settlement is None:
            return Decimal("0")
        moved = Decimal("0")
        if settlement.delta > 0:
            refund = _refund(order, settlement, actor_id)
            posting = ledger_credit(
                user_id=refund.user_id,
                amount=refund.amount,
                kind=refund.kind,
                memo=refund.memo,
                order_id=refund.order_id,
                actor_id=actor_id,
                idempotency_key=refund.idempotency_key,
            )
            if posting.created:
                moved = settlement.delta
                order_event(order.pk, "refund", f"Refunded {moved} ({order.status})", actor_id=actor_id)
        refunded = max(settlement.due, order.refunded)
        Order.objects.filter(pk=order.pk).update(refunded=refunded, settled_at=timezone.now())
        order_final_notify(order, refunded=refunded)
    if moved:
        logger.info("order %s settled: refunded %s", order_id, moved)
    return moved


def orders_settle(*, order_ids: list[int]) -> Decimal:
    """Settle many final orders (a poll batch's) in one transaction. Returns what was refunded.

    The same rule and the same ledger keys as order_settle, so an order settled here, by
    order_settle, or by both at once is paid exactly once. The orders are locked in ID order and
    their users in ID order after them (ledger_post_many), the order every settlement takes its
    locks in. The refunds are one ledger_post_many (one entry per refund), the orders' refunded
    totals one UPDATE and the refund events one INSERT. If anything in the batch fails, the batch
    rolls back and each order is settled on its own, so one bad order never holds back the
    others' refunds; an order that still fails is logged and left unsettled for the reconciler,
    which settles every final order that is not.
    """
    if not order_ids:
        return Decimal("0")
    try:
        return _orders_settle(sorted(set(order_ids)))
    except Exception:
        logger.exception("settling %d orders together failed; settling them one by one", len(order_ids))
    total = Decimal("0")
    for order_id in sorted(set(order_ids)):
        try:
            total += order_settle(order_id=order_id)
        except Exception:
            logger.exception("order %s: settling failed; the reconciler retries it", order_id)
    return total


def _orders_settle(order_ids: list[int]) -> Decimal:
    now = timezone.now()
    with transaction.atomic():
        orders = list(Order.objects.select_for_update().filter(pk__in=order_ids).order_by("pk"))
        settled, refund_rows, moved = settle_locked(orders, now=now)
        if refund_rows:
            bulk_insert(OrderEvent, refund_rows)
        _write_settled(settled, now)
        orders_final_notify([(order, order.refunded) for order in settled])
    for order_id, delta in moved.items():
        logger.info("order %s settled: refunded %s", order_id, delta)
    return sum(moved.values(), Decimal("0"))


def settle_locked(orders: list[Order], *, now) -> tuple[list[Order], list[OrderEvent], dict[int, Decimal]]:
    """The refund rule for final orders the caller has locked, in its transaction: their refunds
    posted as one ledger_post_many (one entry each, keyed as order_settle keys them), and each
    settled order's `refunded` and `settled_at` set on the instance. The caller writes those two
    fields and inserts the returned refund history rows (with whatever else it writes).

    Returns (the settled orders, their refund history rows, {order ID: amount moved}).
    """
    plans = [(order, plan) for order in orders if (plan := _settlement(order)) is not None]
    paying = [(order, plan) for order, plan in plans if plan.delta > 0]
    postings = ledger_post_many([_refund(order, plan, None) for order, plan in paying])
    moved = {order.pk: plan.delta for (order, plan), posting in zip(paying, postings, strict=True) if posting.created}
    rows = [
        OrderEvent(order_id=order.pk, kind="refund", message=f"Refunded {moved[order.pk]} ({order.status})")
        for order, _ in paying
        if order.pk in moved
    ]
    for order, plan in plans:
        order.refunded = max(plan.due, order.refunded)
        order.settled_at = now
    return [order for order, _ in plans], rows, moved


def _write_settled(orders: list[Order], now) -> None:
    """The orders' refunded totals and settled time: one UPDATE ... FROM unnest(arrays) on
    PostgreSQL (bulk_update's CASE per row costs more to build than to run); SQLite bulk_update."""
    if not orders:
        return
    if connection.vendor != "postgresql":
        Order.objects.bulk_update(orders, ["refunded", "settled_at"])
        return
    # Two arrays, not a row of parameters per order: the statement's text is the same for every
    # batch, and the driver adapts three parameters instead of two hundred.
    with prepared_cursor() as cursor:
        cursor.execute(
            "UPDATE orders_order AS o SET refunded = v.refunded, settled_at = %b "
            "FROM unnest(%b::bigint[], %b::numeric[]) AS v(id, refunded) WHERE o.id = v.id",
            [now, [order.pk for order in orders], [order.refunded for order in orders]],
        )


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
