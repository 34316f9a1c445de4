"""Placing and settling orders: every write that touches an order's money."""

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.ledger import InsufficientFunds, ledger_credit, ledger_debit
from accounts.models import LedgerEntry, User
from catalog.models import CustomerPrice, PricingSettings, Service
from catalog.pricing import quote, refund_for_remains
from panel.observability import log_context

from .models import ACTIVE_STATUSES, ForwardState, Order, OrderEvent, Source, Status
from .validation import OrderError, validate_order

logger = logging.getLogger(__name__)

DUPLICATE_LINK = "You have active order with this link. Please wait until order being completed."
NOT_ENOUGH_FUNDS = "Not enough funds on balance"
INCORRECT_SERVICE = "Incorrect service ID"


# What placing an order reads of the service, its upstream service and provider (validation,
# pricing, the order row, the log line); loading only these keeps the busiest API call light.
PLACEMENT_FIELDS = (
    "id",
    "name",
    "type",
    "rate",
    "min",
    "max",
    "dripfeed",
    "allow_below_cost",
    "upstream__upstream_id",
    "upstream__rate",
    "upstream__provider__name",
    "upstream__provider__exchange_rate",
)


@dataclass(frozen=True)
class Placed:
    order: Order
    created: bool  # False when the idempotency key returned an earlier order.


def _enqueue_forward(order_id: int) -> None:
    from .tasks import forward_order

    forward_order.delay(order_id)


def order_event(order_id: int, kind: str, message: str, *, data: dict | None = None, by: int | None = None) -> None:
    OrderEvent.objects.create(order_id=order_id, kind=kind, message=message, data=data or {}, created_by_id=by)


def _existing(user_id: int, idempotency_key: str | None) -> Order | None:
    if not idempotency_key:
        return None
    return Order.objects.filter(user_id=user_id, idempotency_key=idempotency_key).first()


def order_place(
    *,
    user: User,
    service_id: Any,
    data: dict[str, Any],
    source: str = Source.WEB,
    idempotency_key: str | None = None,
    created_by_id: int | None = None,
) -> Placed:
    """Validate, price, charge and record an order; forwarding is enqueued after commit.

    Raises OrderError with the protocol's wording. The same idempotency key from the same
    customer returns the same order, even when sent concurrently.
    """
    if idempotency_key is not None:
        idempotency_key = str(idempotency_key).strip()[:128] or None
    earlier = _existing(user.pk, idempotency_key)
    if earlier is not None:
        return Placed(earlier, created=False)

    try:
        service_pk = int(str(service_id).strip())
    except (TypeError, ValueError):
        raise OrderError(INCORRECT_SERVICE, "service") from None
    service = (
        Service.objects.select_related("upstream__provider")
        .filter(pk=service_pk, enabled=True, category__hidden=False, upstream__provider__enabled=True)
        .only(*PLACEMENT_FIELDS)
        .order_by()
        # What the order needs from two other tables comes in the same query: the customer's
        # fixed price for this service, if any, and the duplicate-link rule.
        .annotate(
            customer_fixed_rate=Subquery(
                CustomerPrice.objects.filter(user_id=user.pk, service_id=OuterRef("pk")).values("rate")[:1]
            ),
            refuse_duplicates=Coalesce(
                Subquery(PricingSettings.objects.filter(pk=1).values("refuse_duplicate_active_link")),
                Value(PricingSettings._meta.get_field("refuse_duplicate_active_link").default),
            ),
        )
        .first()
    )
    if service is None:
        raise OrderError(INCORRECT_SERVICE, "service")
    fields = validate_order(service, data)
    fixed = service.customer_fixed_rate
    price = quote(
        service,
        user,
        quantity=fields.quantity,
        runs=fields.runs,
        custom_rates={} if fixed is None else {service.pk: fixed},
    )
    check_duplicates = bool(service.refuse_duplicates and fields.link)

    try:
        with transaction.atomic():
            if check_duplicates:
                # The customer's row lock serialises this customer's placements, so two
                # concurrent orders for the same link cannot both pass the check.
                User.objects.select_for_update().filter(pk=user.pk).values_list("pk").get()
                earlier = _existing(user.pk, idempotency_key)
                if earlier is not None:
                    return Placed(earlier, created=False)
                if Order.objects.filter(
                    user_id=user.pk, service_id=service.pk, link=fields.link, status__in=ACTIVE_STATUSES
                ).exists():
                    raise OrderError(DUPLICATE_LINK, "link")
            # A concurrent placement with the same idempotency key fails this insert on the
            # UNIQUE (user, key) index and is answered with the first order (below); funds are
            # checked by the ledger, and a refused charge rolls the order back with it.
            order = Order.objects.create(
                user_id=user.pk,
                service=service,
                provider_id=service.upstream.provider_id,
                upstream_service_id=service.upstream.upstream_id,
                source=source,
                link=fields.link,
                quantity=fields.quantity,
                runs=fields.runs,
                interval=fields.interval,
                params=fields.params,
                charge=price.charge,
                cost_expected=price.cost,
                idempotency_key=idempotency_key,
            )
            if price.charge > 0:
                ledger_debit(
                    user_id=user.pk,
                    amount=price.charge,
                    kind=LedgerEntry.Kind.CHARGE,
                    memo=f"Order {order.pk}: {service.name}"[:255],
                    order_id=order.pk,
                    created_by_id=created_by_id,
                    idempotency_key=f"charge:{order.pk}",
                )
            order_event(order.pk, "placed", f"Placed via {source}, charged {price.charge}", by=created_by_id)
            # robust: if the broker is down the order still stands (it is committed and charged);
            # the sweeper enqueues it within a minute, and the caller gets its order ID.
            transaction.on_commit(lambda: _enqueue_forward(order.pk), robust=True)
    except InsufficientFunds:
        raise OrderError(NOT_ENOUGH_FUNDS) from None
    except IntegrityError:
        # Only the idempotency key can collide here: a concurrent placement with the same key.
        earlier = _existing(user.pk, idempotency_key)
        if earlier is None:
            raise
        return Placed(earlier, created=False)
    with log_context(order_id=order.pk, provider=service.upstream.provider.name):
        logger.info("order %s placed by user %s: service %s, charge %s", order.pk, user.pk, service.pk, price.charge)
    return Placed(order, created=True)


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


def refund_due(order: Order) -> Decimal:
    """The total refund a final order is owed: all of it if Canceled, the remains' share if Partial."""
    if order.status == Status.CANCELED:
        return order.charge
    if order.status == Status.PARTIAL:
        return refund_for_remains(order.charge, order.remains or 0, order.units)
    return Decimal("0")


UNKNOWN_REMAINS = "Partial without remains: the provider did not say what was delivered; decide the refund"


def order_settle(*, order_id: int, by: int | None = None) -> Decimal:
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
                created_by_id=by,
                idempotency_key=key,
            )
            if posting.created:
                moved = delta
                order_event(order.pk, "refund", f"Refunded {delta} ({order.status})", by=by)
        Order.objects.filter(pk=order.pk).update(refunded=max(due, order.refunded), settled_at=timezone.now())
    if moved:
        logger.info("order %s settled: refunded %s", order_id, moved)
    return moved


def order_cancel_unsent(*, order_id: int, reason: str, by: int | None = None) -> bool:
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
            order_event(order_id, "canceled", reason, by=by)
    if updated:
        order_settle(order_id=order_id, by=by)
    return bool(updated)
