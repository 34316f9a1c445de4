"""Cancels that customers request for their orders.

An order never sent is canceled at once, with a full refund; one at the provider is asked to
cancel (many at once), and its status poll then decides Canceled or Partial.
"""

import logging
from collections import defaultdict

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from upstream.client import UpstreamError
from upstream.services import provider_call

from .customer_requests import RequestOutcome, distinct_ids, outcome_per_id, own_orders
from .errors import CANCEL_DISABLED, CANCEL_NOT_POSSIBLE, CANCEL_OPEN, INCORRECT_ORDER
from .events import order_event
from .models import ACTIVE_STATUSES, CancelRequest, ForwardState, Order, Status
from .queue import FORWARD_CANCELS, enqueue
from .settlement import order_cancel_unsent
from .staff import ActionError, StaffChange, StaffText, choice

logger = logging.getLogger(__name__)


OPEN_CANCEL_STATES = (CancelRequest.State.QUEUED, CancelRequest.State.CONFIRMED, CancelRequest.State.MANUAL)


def cancels_open(order_ids: list[int]) -> set[int]:
    """Orders among these with a cancel request still open (one query for a page of orders)."""
    return set(
        CancelRequest.objects.filter(order_id__in=order_ids, state__in=OPEN_CANCEL_STATES).values_list(
            "order_id", flat=True
        )
    )


def cancel_error(order: Order) -> str | None:
    """Why this order cannot be canceled, in the protocol's words; None if it can (an open
    cancel request is refused by the database's unique index, see cancel_request)."""
    if not order.service.cancel:
        return CANCEL_DISABLED
    cancelable = (ForwardState.QUEUED, ForwardState.SENT, ForwardState.MANUAL)
    if order.status not in ACTIVE_STATUSES or order.forward_state not in cancelable:
        return CANCEL_NOT_POSSIBLE
    return None


def cancel_request(*, user_id: int, order_ids: list) -> list[RequestOutcome]:
    """Cancel each order that allows it: at once if it was never sent, else through the provider."""
    orders = own_orders(user_id, order_ids)
    outcomes: list[RequestOutcome] = []
    created: list[int] = []
    for key in distinct_ids(order_ids):
        order = orders.get(key)
        if order is None:
            outcomes.append(RequestOutcome(key, error=INCORRECT_ORDER))
            continue
        try:
            with transaction.atomic():
                # The order's row lock serialises concurrent cancels of one order: the second
                # sees the state the first left (an unsent order already canceled) and is
                # refused, instead of leaving a request nobody will ever send.
                order = Order.objects.select_for_update().select_related("service").get(pk=order.pk)
                error = cancel_error(order)
                if error is None:
                    # A manual order's cancel waits for staff (orders/manual.py): nothing is sent.
                    manual = order.forward_state == ForwardState.MANUAL
                    state = CancelRequest.State.MANUAL if manual else CancelRequest.State.QUEUED
                    cancel = CancelRequest.objects.create(order=order, user_id=user_id, state=state)
                    order_event(order.pk, "cancel", f"Cancel {cancel.pk} requested")
        except IntegrityError:
            error = CANCEL_OPEN
        if error:
            outcomes.append(RequestOutcome(key, error=error))
            continue
        if order.forward_state == ForwardState.QUEUED and order_cancel_unsent(
            order_id=order.pk, reason="Canceled by the customer before it was sent"
        ):
            CancelRequest.objects.filter(pk=cancel.pk).update(state=CancelRequest.State.DONE)
        elif order.forward_state != ForwardState.MANUAL:
            created.append(cancel.pk)
        outcomes.append(RequestOutcome(key, id=cancel.pk))
    if created:
        transaction.on_commit(lambda: enqueue(FORWARD_CANCELS, created))
    return outcome_per_id(order_ids, outcomes)


def cancels_forward(*, cancel_ids: list[int]) -> int:
    cancels = list(
        CancelRequest.objects.filter(pk__in=cancel_ids, state=CancelRequest.State.QUEUED).select_related(
            "order__provider"
        )
    )
    by_provider: dict[int, list[CancelRequest]] = defaultdict(list)
    for cancel in cancels:
        if cancel.order.is_final:
            # Ended meanwhile (canceled before it was sent, or settled by the provider or staff):
            # nothing left to ask the provider, and the request is closed rather than kept queued.
            state = CancelRequest.State.DONE if cancel.order.status == Status.CANCELED else CancelRequest.State.REJECTED
            CancelRequest.objects.filter(pk=cancel.pk, state=CancelRequest.State.QUEUED).update(
                state=state, error="" if state == CancelRequest.State.DONE else CANCEL_NOT_POSSIBLE
            )
        elif cancel.order.upstream_order_id:
            by_provider[cancel.order.provider_id].append(cancel)
    confirmed = 0
    for group in by_provider.values():
        provider = group[0].order.provider
        by_upstream = {c.order.upstream_order_id: c for c in group if c.order.upstream_order_id}
        try:
            upstream_ids = list(by_upstream)
            results = provider_call(provider, "cancel", lambda client, ids=upstream_ids: client.cancel(ids))
        except UpstreamError as exc:
            results = exc.partial or []
            logger.warning("provider %s: cancel call failed: %s", provider.name, exc)
        for result in results:
            cancel = by_upstream.get(result.order)
            if cancel is None:
                continue
            if result.cancel:
                CancelRequest.objects.filter(pk=cancel.pk, state=CancelRequest.State.QUEUED).update(
                    state=CancelRequest.State.CONFIRMED, upstream_cancel_id=result.cancel
                )
                # The provider's status answer decides Canceled or Partial: check it right away.
                Order.objects.filter(pk=cancel.order_id).update(next_check_at=timezone.now())
                order_event(cancel.order_id, "cancel", f"Cancel confirmed by {provider.name}")
                confirmed += 1
            else:
                CancelRequest.objects.filter(pk=cancel.pk, state=CancelRequest.State.QUEUED).update(
                    state=CancelRequest.State.REJECTED, error=result.error or "Rejected"
                )
                order_event(cancel.order_id, "cancel", f"Cancel rejected by {provider.name}: {result.error}")
    return confirmed


@transaction.atomic
def cancel_requeue(*, cancel_id: int, actor_id: int) -> StaffChange:
    """Staff retry a cancel request that was rejected or never sent: back to queued."""
    cancel = CancelRequest.objects.select_for_update().get(pk=cancel_id)
    before = {"state": cancel.state, "error": cancel.error}
    if cancel.state in (CancelRequest.State.CONFIRMED, CancelRequest.State.DONE):
        message = StaffText(
            gettext_noop("Cancel %(id)s is already %(state)s."),
            {"id": cancel_id, "state": choice(CancelRequest.State, cancel.state)},
        )
        return StaffChange(False, message, cancel, before, before)
    if cancel.state == CancelRequest.State.MANUAL or cancel.order.forward_state == ForwardState.MANUAL:
        raise ActionError(
            gettext_noop("Cancel %(id)s is of a manual order: resolve it in the manual queue."), {"id": cancel_id}
        )
    try:
        with transaction.atomic():
            CancelRequest.objects.filter(pk=cancel.pk, state=cancel.state).update(
                state=CancelRequest.State.QUEUED, error=""
            )
    except IntegrityError:
        raise ActionError(
            gettext_noop("Order %(id)s already has an open cancel request."), {"id": cancel.order_id}
        ) from None
    order_event(cancel.order_id, "staff", f"Cancel {cancel.pk} retried by staff", actor_id=actor_id)
    message = StaffText(gettext_noop("Cancel %(id)s queued."), {"id": cancel_id})
    return StaffChange(True, message, cancel, before, {"state": CancelRequest.State.QUEUED})
