"""Placing an order: validate, price, charge and record it in one transaction; forward after commit."""

import logging
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.ledger import InsufficientFunds, ledger_debit
from accounts.models import LedgerEntry, User
from catalog.models import CustomerPrice, PricingSettings, Service
from catalog.pricing import quote
from panel.observability import log_context

from .errors import DUPLICATE_LINK, INCORRECT_SERVICE, NOT_ENOUGH_FUNDS, OrderError
from .events import order_event
from .models import ACTIVE_STATUSES, ForwardState, Order, Source
from .queue import FORWARD_ORDER, enqueue
from .validation import validate_order

logger = logging.getLogger(__name__)


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
    "manual",
    "manual_cost",
    "upstream__upstream_id",
    "upstream__rate",
    "upstream__provider__name",
    "upstream__provider__exchange_rate",
)


@dataclass(frozen=True)
class Placed:
    order: Order
    created: bool  # False when the idempotency key returned an earlier order.


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
    actor_id: int | None = None,
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
        Service.objects.sellable()
        .select_related("upstream__provider")
        .filter(pk=service_pk)
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
                # A manual service's order has no provider: it waits in the staff queue.
                provider_id=None if service.manual else service.upstream.provider_id,
                upstream_service_id="" if service.manual else service.upstream.upstream_id,
                forward_state=ForwardState.MANUAL if service.manual else ForwardState.QUEUED,
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
                    actor_id=actor_id,
                    idempotency_key=f"charge:{order.pk}",
                )
            order_event(order.pk, "placed", f"Placed via {source}, charged {price.charge}", actor_id=actor_id)
            if not service.manual:
                # robust: if the broker is down the order still stands (it is committed and
                # charged); the sweeper enqueues it within a minute, and the caller gets its ID.
                transaction.on_commit(lambda: enqueue(FORWARD_ORDER, order.pk), robust=True)
    except InsufficientFunds:
        raise OrderError(NOT_ENOUGH_FUNDS) from None
    except IntegrityError:
        # Only the idempotency key can collide here: a concurrent placement with the same key.
        earlier = _existing(user.pk, idempotency_key)
        if earlier is None:
            raise
        return Placed(earlier, created=False)
    with log_context(order_id=order.pk, provider="manual" if service.manual else service.upstream.provider.name):
        logger.info("order %s placed by user %s: service %s, charge %s", order.pk, user.pk, service.pk, price.charge)
    return Placed(order, created=True)
