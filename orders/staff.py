"""The order transitions staff make by hand: resend, mark sent, mark final, move to another
provider (retrying a refill or a cancel request is in refills.py and cancels.py).

Each takes the order's row lock, checks the state it starts from, changes it and writes the
order's event, all in one transaction, and returns the order's fields before and after so the
caller (the backoffice) can write its audit row in that same transaction. None calls a
provider: the caller forwards after commit. Each is safe to submit twice: the second finds the
order already in the target state and reports nothing to do.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from catalog.models import Service
from catalog.pricing import quote

from .events import order_event
from .models import ACTIVE_STATUSES, ForwardState, Order, Status
from .settlement import order_settle, refund_due

# The fields a staff change shows in its audit row.
ORDER_FIELDS = (
    "status",
    "forward_state",
    "upstream_order_id",
    "remains",
    "refunded",
    "needs_attention",
    "provider_id",
    "service_id",
    "upstream_service_id",
)


class ActionError(ValueError):
    """The action is not possible in the object's current state; the message is for staff."""


@dataclass(frozen=True)
class StaffChange:
    done: bool  # False: nothing to do (already in that state, e.g. a double submit)
    message: str
    subject: Any  # the order, refill or cancel request changed
    before: dict[str, Any]
    after: dict[str, Any]
    refunded: Decimal = Decimal("0")


def order_fields(order: Order) -> dict[str, Any]:
    return {name: getattr(order, name) for name in ORDER_FIELDS}


def _locked(order_id: int) -> Order:
    return Order.objects.select_for_update().get(pk=order_id)


def _nothing(order: Order, message: str) -> StaffChange:
    fields = order_fields(order)
    return StaffChange(False, message, order, fields, fields)


def _changed(order: Order, before: dict[str, Any], message: str, refunded: Decimal = Decimal("0")) -> StaffChange:
    order.refresh_from_db()
    return StaffChange(True, message, order, before, order_fields(order), refunded)


@transaction.atomic
def order_resend(*, order_id: int, actor_id: int) -> StaffChange:
    """unknown -> queued: send an order whose outcome is unknown again. The provider may then
    have it twice: staff confirm that they checked. The upstream idempotency key goes with it."""
    order = _locked(order_id)
    if order.forward_state != ForwardState.UNKNOWN or order.is_final:
        return _nothing(order, f"Order {order_id} is not waiting for a decision ({order.get_forward_state_display()}).")
    before = order_fields(order)
    Order.objects.filter(pk=order.pk, forward_state=ForwardState.UNKNOWN).update(
        forward_state=ForwardState.QUEUED,
        next_attempt_at=None,
        lease_until=None,
        send_started_at=None,
        needs_attention=False,
        attention_reason="",
    )
    order_event(order.pk, "staff", "Resent by staff (may duplicate at the provider)", actor_id=actor_id)
    return _changed(order, before, f"Order {order_id} queued to be resent.")


@transaction.atomic
def order_mark_sent_by_staff(*, order_id: int, upstream_order_id: str, actor_id: int) -> StaffChange:
    """unknown or queued -> sent, with the upstream ID staff found at the provider; polling
    takes over from there."""
    upstream_order_id = upstream_order_id.strip()
    if not upstream_order_id or len(upstream_order_id) > 64:
        raise ActionError("Enter the provider's order ID (up to 64 characters).")
    order = _locked(order_id)
    if order.forward_state == ForwardState.SENT and order.upstream_order_id == upstream_order_id:
        return _nothing(order, f"Order {order_id} is already sent as {upstream_order_id}.")
    if order.forward_state not in (ForwardState.UNKNOWN, ForwardState.QUEUED) or order.is_final:
        raise ActionError(f"Order {order_id} is {order.get_forward_state_display()}; only unknown or queued orders.")
    before = order_fields(order)
    Order.objects.filter(pk=order.pk, forward_state=order.forward_state).update(
        forward_state=ForwardState.SENT,
        upstream_order_id=upstream_order_id,
        next_attempt_at=None,
        lease_until=None,
        next_check_at=timezone.now(),
        needs_attention=False,
        attention_reason="",
        upstream_error="",
    )
    order_event(order.pk, "staff", f"Marked sent by staff as upstream order {upstream_order_id}", actor_id=actor_id)
    return _changed(order, before, f"Order {order_id} marked sent as {upstream_order_id}.")


def final_remains_for(order: Order, status: str, remains: int | None) -> int:
    """The remains a staff decision records: given for Partial (strictly between nothing and
    all), none for Completed, all that was not reported delivered for Canceled."""
    if status == Status.PARTIAL:
        if remains is None or not 0 < remains < order.units:
            raise ActionError(f"Remains must be between 1 and {order.units - 1} (the order has {order.units}).")
        return remains
    if status == Status.COMPLETED:
        return 0
    return order.units if order.remains is None else order.remains


@transaction.atomic
def order_mark_final(
    *, order_id: int, status: str, actor_id: int, remains: int | None = None, reason: str = ""
) -> StaffChange:
    """Mark an order Canceled (full refund), Partial (refund of the remains' share) or Completed.

    The refund is order_settle's, so it is exactly what the customer is owed and is paid once.
    A refund already paid is never taken back: an order refunded more than the new outcome
    owes is refused (adjust the balance instead, with a reason).
    """
    if status not in (Status.CANCELED, Status.PARTIAL, Status.COMPLETED):
        raise ActionError("Unknown final status.")
    order = _locked(order_id)
    remains = final_remains_for(order, status, remains)
    if order.status == status and (status != Status.PARTIAL or order.remains == remains):
        return _nothing(order, f"Order {order_id} is already {status}.")
    if order.forward_state == ForwardState.SENDING:
        raise ActionError(f"Order {order_id} is being sent right now; wait for the outcome.")
    delivering = (ForwardState.SENT, ForwardState.UNKNOWN, ForwardState.MANUAL)
    if status != Status.CANCELED and order.forward_state not in delivering:
        raise ActionError(f"Order {order_id} never reached the provider; it can only be canceled.")
    if refund_due(order, status=status, remains=remains) < order.refunded:
        raise ActionError(
            f"Order {order_id} was already refunded {order.refunded}; refunds are never taken back. "
            "Adjust the customer's balance instead."
        )
    before = order_fields(order)
    forward_state = ForwardState.CANCELED if order.forward_state == ForwardState.QUEUED else order.forward_state
    Order.objects.filter(pk=order.pk, status=order.status, forward_state=order.forward_state).update(
        status=status,
        remains=remains,
        forward_state=forward_state,
        completed_at=timezone.now(),
        next_attempt_at=None,
        lease_until=None,
        needs_attention=False,
        attention_reason="",
        claimed_until=None,
    )
    order_event(order.pk, "staff", f"Marked {status} by staff" + (f": {reason}" if reason else ""), actor_id=actor_id)
    refunded = order_settle(order_id=order.pk, actor_id=actor_id)
    return _changed(order, before, f"Order {order_id} marked {status}; refunded {refunded}.", refunded)


@transaction.atomic
def order_move(*, order_id: int, service_id: int, actor_id: int) -> StaffChange:
    """Move an order the provider does not have (queued, or unknown and checked) to another
    provider's equivalent service, queued to be sent there. The customer's charge stays as agreed."""
    target = Service.objects.select_related("upstream__provider").filter(pk=service_id).first()
    if target is None or target.manual or not target.enabled or not target.upstream.provider.enabled:
        raise ActionError("Pick an enabled service of an enabled provider.")
    order = _locked(order_id)
    if order.service_id == target.pk:
        return _nothing(order, f"Order {order_id} is already on service {target.pk}.")
    if order.forward_state not in (ForwardState.QUEUED, ForwardState.UNKNOWN) or order.status not in ACTIVE_STATUSES:
        raise ActionError(f"Order {order_id} is {order.get_forward_state_display()}; only unsent orders can move.")
    if target.type != order.service.type:
        raise ActionError(f"Service {target.pk} is of type {target.type}, the order's is {order.service.type}.")
    if not target.min <= order.quantity <= target.max:
        raise ActionError(f"Service {target.pk} takes {target.min} to {target.max}; the order has {order.quantity}.")
    before = order_fields(order)
    cost = quote(target, order.user, quantity=order.quantity, runs=order.runs).cost
    Order.objects.filter(pk=order.pk, forward_state=order.forward_state).update(
        service=target,
        provider_id=target.upstream.provider_id,
        upstream_service_id=target.upstream.upstream_id,
        cost_expected=cost,
        forward_state=ForwardState.QUEUED,
        next_attempt_at=None,
        lease_until=None,
        send_started_at=None,
        attempts=0,
        needs_attention=False,
        attention_reason="",
        upstream_error="",
    )
    provider_name = target.upstream.provider.name
    order_event(order.pk, "staff", f"Moved by staff to service {target.pk} at {provider_name}", actor_id=actor_id)
    return _changed(order, before, f"Order {order_id} moved to {provider_name}.")
