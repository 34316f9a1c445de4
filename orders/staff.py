"""The order transitions staff make by hand: resend, mark sent, mark final, move to another
provider (retrying a refill or a cancel request is in refills.py and cancels.py).

Each takes the order's row lock, checks the state it starts from, changes it and writes the
order's event, all in one transaction, and returns the order's fields before and after so the
caller (the backoffice) can write its audit row in that same transaction. None calls a
provider: the caller forwards after commit. Each is safe to submit twice: the second finds the
order already in the target state and reports nothing to do.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

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


class Term(str):
    """A word put into a staff text that a page shows translated (a field's name), marked with
    gettext_noop where it is written."""


def _english(value: Any) -> Any:
    """A value as the English text shows it: a stored choice by its English label."""
    if isinstance(value, models.Choices):
        with translation.override(None):
            return str(value.label)
    return value


def choice(choices: type[models.Choices], value: Any) -> Any:
    """A stored value as its choices member (so a text can show its label); as it is if unknown."""
    try:
        return choices(value)
    except ValueError:
        return value


@dataclass(frozen=True)
class StaffText:
    """A text for staff, kept apart from the values put into it, so each reader gets it in their
    language. str() is the English text with the values in: what the Admin API answers, logs and
    tests read. `template` is marked with gettext_noop where it is written; a staff page translates
    it and puts the same values in (backoffice.services.staff_text), showing a stored choice (a
    Status, a ForwardState: passed as its choices member) by its translated label and a Term
    translated."""

    template: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        if not self.params:
            return self.template
        return self.template % {name: _english(value) for name, value in self.params.items()}


class ActionError(ValueError):
    """The action is not possible in the object's current state; the message is for staff.

    str() is the English text (the Admin API answers it); `text` keeps its template and values
    apart for a page that translates it. A plain string (no values) works as before."""

    def __init__(self, template: str, params: Mapping[str, Any] | None = None):
        self.text = StaffText(template, dict(params or {}))
        super().__init__(str(self.text))

    def __str__(self) -> str:
        return str(self.text)


@dataclass(frozen=True)
class StaffChange:
    done: bool  # False: nothing to do (already in that state, e.g. a double submit)
    message: str | StaffText  # English in str(); a page translates a StaffText
    subject: Any  # the order, refill or cancel request changed
    before: dict[str, Any]
    after: dict[str, Any]
    refunded: Decimal = Decimal("0")


def order_fields(order: Order) -> dict[str, Any]:
    return {name: getattr(order, name) for name in ORDER_FIELDS}


def _locked(order_id: int) -> Order:
    return Order.objects.select_for_update().get(pk=order_id)


def _nothing(order: Order, message: str | StaffText) -> StaffChange:
    fields = order_fields(order)
    return StaffChange(False, message, order, fields, fields)


def _changed(
    order: Order, before: dict[str, Any], message: str | StaffText, refunded: Decimal = Decimal("0")
) -> StaffChange:
    order.refresh_from_db()
    return StaffChange(True, message, order, before, order_fields(order), refunded)


@transaction.atomic
def order_resend(*, order_id: int, actor_id: int) -> StaffChange:
    """unknown -> queued: send an order whose outcome is unknown again. The provider may then
    have it twice: staff confirm that they checked. The upstream idempotency key goes with it."""
    order = _locked(order_id)
    if order.forward_state != ForwardState.UNKNOWN or order.is_final:
        return _nothing(
            order,
            StaffText(
                gettext_noop("Order %(id)s is not waiting for a decision (%(state)s)."),
                {"id": order_id, "state": choice(ForwardState, order.forward_state)},
            ),
        )
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
    return _changed(order, before, StaffText(gettext_noop("Order %(id)s queued to be resent."), {"id": order_id}))


@transaction.atomic
def order_mark_sent_by_staff(*, order_id: int, upstream_order_id: str, actor_id: int) -> StaffChange:
    """unknown or queued -> sent, with the upstream ID staff found at the provider; polling
    takes over from there."""
    upstream_order_id = upstream_order_id.strip()
    if not upstream_order_id or len(upstream_order_id) > 64:
        raise ActionError(gettext_noop("Enter the provider's order ID (up to 64 characters)."))
    order = _locked(order_id)
    if order.forward_state == ForwardState.SENT and order.upstream_order_id == upstream_order_id:
        return _nothing(
            order,
            StaffText(
                gettext_noop("Order %(id)s is already sent as %(upstream)s."),
                {"id": order_id, "upstream": upstream_order_id},
            ),
        )
    if order.forward_state not in (ForwardState.UNKNOWN, ForwardState.QUEUED) or order.is_final:
        raise ActionError(
            gettext_noop("Order %(id)s is %(state)s; only unknown or queued orders."),
            {"id": order_id, "state": choice(ForwardState, order.forward_state)},
        )
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
    return _changed(
        order,
        before,
        StaffText(
            gettext_noop("Order %(id)s marked sent as %(upstream)s."), {"id": order_id, "upstream": upstream_order_id}
        ),
    )


def final_remains_for(order: Order, status: str, remains: int | None) -> int:
    """The remains a staff decision records: given for Partial (strictly between nothing and
    all), none for Completed, all that was not reported delivered for Canceled."""
    if status == Status.PARTIAL:
        if remains is None or not 0 < remains < order.units:
            raise ActionError(
                gettext_noop("Remains must be between 1 and %(most)s (the order has %(units)s)."),
                {"most": order.units - 1, "units": order.units},
            )
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
        raise ActionError(gettext_noop("Unknown final status."))
    order = _locked(order_id)
    remains = final_remains_for(order, status, remains)
    if order.status == status and (status != Status.PARTIAL or order.remains == remains):
        return _nothing(
            order,
            StaffText(
                gettext_noop("Order %(id)s is already %(status)s."), {"id": order_id, "status": choice(Status, status)}
            ),
        )
    if order.forward_state == ForwardState.SENDING:
        raise ActionError(gettext_noop("Order %(id)s is being sent right now; wait for the outcome."), {"id": order_id})
    delivering = (ForwardState.SENT, ForwardState.UNKNOWN, ForwardState.MANUAL)
    if status != Status.CANCELED and order.forward_state not in delivering:
        raise ActionError(
            gettext_noop("Order %(id)s never reached the provider; it can only be canceled."), {"id": order_id}
        )
    if refund_due(order, status=status, remains=remains) < order.refunded:
        raise ActionError(
            gettext_noop(
                "Order %(id)s was already refunded %(refunded)s; refunds are never taken back. "
                "Adjust the customer's balance instead."
            ),
            {"id": order_id, "refunded": order.refunded},
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
    message = StaffText(
        gettext_noop("Order %(id)s marked %(status)s; refunded %(refunded)s."),
        {"id": order_id, "status": choice(Status, status), "refunded": refunded},
    )
    return _changed(order, before, message, refunded)


@transaction.atomic
def order_move(*, order_id: int, service_id: int, actor_id: int) -> StaffChange:
    """Move an order the provider does not have (queued, or unknown and checked) to another
    provider's equivalent service, queued to be sent there. The customer's charge stays as agreed."""
    target = Service.objects.select_related("upstream__provider").filter(pk=service_id).first()
    if target is None or target.manual or not target.enabled or not target.upstream.provider.enabled:
        raise ActionError(gettext_noop("Pick an enabled service of an enabled provider."))
    order = _locked(order_id)
    if order.service_id == target.pk:
        return _nothing(
            order,
            StaffText(
                gettext_noop("Order %(id)s is already on service %(service)s."), {"id": order_id, "service": target.pk}
            ),
        )
    if order.forward_state not in (ForwardState.QUEUED, ForwardState.UNKNOWN) or order.status not in ACTIVE_STATUSES:
        raise ActionError(
            gettext_noop("Order %(id)s is %(state)s; only unsent orders can move."),
            {"id": order_id, "state": choice(ForwardState, order.forward_state)},
        )
    if target.type != order.service.type:
        raise ActionError(
            gettext_noop("Service %(service)s is of type %(type)s, the order's is %(order_type)s."),
            {"service": target.pk, "type": target.type, "order_type": order.service.type},
        )
    if not target.min <= order.quantity <= target.max:
        raise ActionError(
            gettext_noop("Service %(service)s takes %(min)s to %(max)s; the order has %(quantity)s."),
            {"service": target.pk, "min": target.min, "max": target.max, "quantity": order.quantity},
        )
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
    return _changed(
        order,
        before,
        StaffText(gettext_noop("Order %(id)s moved to %(provider)s."), {"id": order_id, "provider": provider_name}),
    )
