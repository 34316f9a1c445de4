"""Manual fulfilment: the orders of manual services (no provider) wait in a staff queue.

Staff in the backoffice, or their scripts through the Admin API, take an order (a claim with a
lease), set its start count, remains and status, and end it Completed, Partial or Canceled. The
end goes through orders.staff.order_mark_final, so the refund is order_settle's: the same rule,
the same ledger keys as a forwarded order. Refills and cancels customers ask for on manual
orders wait here too (state `manual`) until staff resolve them.

Every function here is one staff write: it takes the row lock, checks the state it starts from,
changes it, writes the order's event and the audit row (accounts.AuditLog) in one transaction.

Compare-and-set: every order has a `version` (order_version), a digest of what staff and scripts
act on. An update names the version it read; if the order changed since, ChangedMeanwhile is
raised and nothing is written, so two scripts (or a script and a person) cannot overwrite each
other unseen.
"""

import hashlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.models import AuditLog
from accounts.services import audit_record

from .events import order_event, order_status_notify, refill_final_notify
from .models import ACTIVE_STATUSES, FINAL_STATUSES, CancelRequest, ForwardState, Order, OrderEvent, Refill, Status
from .staff import ActionError, Term, choice, order_fields, order_mark_final

CLAIM_LEASE = timedelta(minutes=10)
MIN_LEASE = timedelta(seconds=10)
MAX_LEASE = timedelta(hours=24)
PULL_LIMIT = 500
# What staff may set on a manual order that is not final yet; the final ones settle.
PROGRESS_STATUSES = (Status.IN_PROGRESS, Status.PROCESSING)
SETTABLE_STATUSES = (*PROGRESS_STATUSES, *FINAL_STATUSES)


class ChangedMeanwhile(ActionError):
    """The order changed since the caller read it (its version differs): nothing was written."""


class TakenByOther(ActionError):
    """Another staff member holds a live claim on the order."""


def order_version(order: Order) -> str:
    """A digest of what an update acts on: status, counts, refund and who holds the claim.
    It changes whenever any of them does, whoever changed it (staff, a script or polling)."""
    raw = "|".join(
        str(value)
        for value in (
            order.status,
            order.start_count,
            order.remains,
            # Quantized: an order just created holds Decimal("0"), the database "0.00000".
            Decimal(order.refunded).quantize(Decimal("0.00001")),
            order.forward_state,
            order.claimed_by_id,
        )
    )
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def manual_open_orders() -> QuerySet[Order]:
    """Manual orders not final yet, oldest first: the staff queue."""
    return Order.objects.filter(forward_state=ForwardState.MANUAL, status__in=ACTIVE_STATUSES).order_by("id")


def claim_live(order: Order, now=None) -> bool:
    now = now or timezone.now()
    return order.claimed_by_id is not None and order.claimed_until is not None and order.claimed_until > now


def _lease(seconds: int | None) -> timedelta:
    if seconds is None:
        return CLAIM_LEASE
    return min(max(timedelta(seconds=seconds), MIN_LEASE), MAX_LEASE)


def _locked_manual(order_id: int) -> Order:
    order = Order.objects.select_for_update().filter(pk=order_id).first()
    if order is None:
        raise ActionError(gettext_noop("Order %(id)s does not exist."), {"id": order_id})
    if order.forward_state != ForwardState.MANUAL:
        raise ActionError(gettext_noop("Order %(id)s is not an order of a manual service."), {"id": order_id})
    return order


def _check_version(order: Order, expected: str | None) -> None:
    if expected is not None and str(expected).strip() != order_version(order):
        raise ChangedMeanwhile(
            gettext_noop("Order %(id)s changed since you read it (status %(status)s); read it again."),
            {"id": order.pk, "status": choice(Status, order.status)},
        )


def _claim_fields(order: Order) -> dict[str, Any]:
    return {"claimed_by": order.claimed_by_id, "claimed_until": order.claimed_until}


@transaction.atomic
def manual_take(*, order_id: int, actor_id: int, lease_seconds: int | None = None) -> Order:
    """Take (claim) a manual order for a while; taking it again renews the lease. Refused while
    another staff member's claim is live."""
    order = _locked_manual(order_id)
    now = timezone.now()
    if order.status not in ACTIVE_STATUSES:
        raise ActionError(
            gettext_noop("Order %(id)s is %(status)s: nothing left to do."),
            {"id": order_id, "status": choice(Status, order.status)},
        )
    if claim_live(order, now) and order.claimed_by_id != actor_id:
        raise _taken_until(order)
    before = _claim_fields(order)
    until = now + _lease(lease_seconds)
    Order.objects.filter(pk=order.pk).update(claimed_by_id=actor_id, claimed_until=until)
    if before["claimed_by"] != actor_id:
        order_event(order.pk, "staff", "Taken for manual fulfilment", actor_id=actor_id)
    audit_record(
        actor_id=actor_id,
        action="order.manual_take",
        obj=order,
        before=before,
        after={"claimed_by": actor_id, "claimed_until": until},
    )
    order.refresh_from_db()
    return order


@transaction.atomic
def manual_release(*, order_id: int, actor_id: int) -> Order:
    """Give a taken order back to the queue (only its holder, or anyone once the lease lapsed)."""
    order = _locked_manual(order_id)
    if order.claimed_by_id is None:
        return order
    if claim_live(order) and order.claimed_by_id != actor_id:
        raise TakenByOther(gettext_noop("Order %(id)s is taken by someone else."), {"id": order_id})
    before = _claim_fields(order)
    Order.objects.filter(pk=order.pk).update(claimed_by=None, claimed_until=None)
    order_event(order.pk, "staff", "Given back to the manual queue", actor_id=actor_id)
    audit_record(actor_id=actor_id, action="order.manual_release", obj=order, before=before, after={})
    order.refresh_from_db()
    return order


def manual_pull(
    *, actor_id: int, limit: int = 100, service_ids: list[int] | None = None, lease_seconds: int | None = None
) -> list[Order]:
    """Claim a batch of manual orders for one worker, oldest first, and return them.

    SELECT ... FOR UPDATE SKIP LOCKED: concurrent pullers each lock different rows and never get
    the same order; the claim (holder and lease) is written in the same transaction. An order
    whose lease lapsed without an outcome is pullable again.
    """
    limit = max(1, min(int(limit), PULL_LIMIT))
    now = timezone.now()
    until = now + _lease(lease_seconds)
    with transaction.atomic():
        candidates = manual_open_orders().filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        if service_ids:
            candidates = candidates.filter(service_id__in=service_ids)
        ids = list(candidates.select_for_update(skip_locked=True).values_list("id", flat=True)[:limit])
        if not ids:
            return []
        Order.objects.filter(pk__in=ids).update(claimed_by_id=actor_id, claimed_until=until)
        OrderEvent.objects.bulk_create(
            OrderEvent(order_id=pk, kind="staff", message="Pulled for manual fulfilment", actor_id=actor_id)
            for pk in ids
        )
        AuditLog.objects.bulk_create(
            AuditLog(
                actor_id=actor_id,
                action="order.manual_pull",
                object_type=Order._meta.label_lower,
                object_id=str(pk),
                after={"claimed_by": actor_id, "claimed_until": until.isoformat()},
            )
            for pk in ids
        )
    return list(Order.objects.filter(pk__in=ids).select_related("service", "user").order_by("id"))


def _close_open_cancels(order: Order, actor_id: int) -> None:
    """A manual order that ended answers its open cancel request: done if it ended Canceled,
    refused otherwise (the customer's cancel came too late)."""
    canceled = order.status == Status.CANCELED
    for cancel in CancelRequest.objects.filter(order_id=order.pk, state=CancelRequest.State.MANUAL):
        state = CancelRequest.State.DONE if canceled else CancelRequest.State.REJECTED
        CancelRequest.objects.filter(pk=cancel.pk, state=CancelRequest.State.MANUAL).update(
            state=state, error="" if canceled else f"The order ended {order.status}"
        )
        order_event(order.pk, "cancel", f"Cancel {cancel.pk} closed: order {order.status}", actor_id=actor_id)


def _taken_until(order: Order) -> TakenByOther:
    return TakenByOther(
        gettext_noop("Order %(id)s is taken by someone else until %(until)s UTC."),
        {"id": order.pk, "until": f"{order.claimed_until:%H:%M:%S}"},
    )


# The names of the counts staff set, as the refusals name them (translated on staff pages).
START_COUNT = Term(gettext_noop("Start count"))
REMAINS = Term(gettext_noop("Remains"))


def _count(value: Any, name: Term) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ActionError(gettext_noop("%(field)s must be a whole number."), {"field": name})
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ActionError(gettext_noop("%(field)s must be a whole number."), {"field": name}) from None
    if not 0 <= number <= 2**62:
        raise ActionError(gettext_noop("%(field)s must be a whole number from 0."), {"field": name})
    return number


@transaction.atomic
def manual_update(
    *,
    order_id: int,
    actor_id: int,
    version: str | None,
    status: str | None = None,
    start_count: Any = None,
    remains: Any = None,
    reason: str = "",
) -> tuple[Order, Decimal]:
    """Set a manual order's start count, remains and status; returns (order, refunded now).

    In progress / Processing record progress (remains between 0 and the order's units).
    Completed, Partial (remains required, between 1 and units - 1) and Canceled end the order
    through orders.staff.order_mark_final, which pays the refund by order_settle's rule. `version`
    is the order_version the caller read (None only for staff pages that lock and show the
    order in one go); ChangedMeanwhile when it differs. Refused while someone else's claim is live.
    """
    order = _locked_manual(order_id)
    _check_version(order, version)
    if claim_live(order) and order.claimed_by_id != actor_id:
        raise _taken_until(order)
    start = _count(start_count, START_COUNT)
    left = _count(remains, REMAINS)
    if status is not None and status not in SETTABLE_STATUSES:
        # The protocol's words, as the caller must send them (never translated).
        allowed = ", ".join(SETTABLE_STATUSES)
        raise ActionError(gettext_noop("Status must be one of %(allowed)s."), {"allowed": allowed})
    if order.is_final:
        current = {"id": order_id, "status": choice(Status, order.status)}
        if status is None or (status == order.status and start is None and left is None):
            raise ActionError(gettext_noop("Order %(id)s is already %(status)s."), current)
        if status in PROGRESS_STATUSES:
            raise ActionError(
                gettext_noop("Order %(id)s is %(status)s: a final order does not go back in progress."), current
            )
    if left is not None and left > order.units:
        raise ActionError(
            gettext_noop("Remains must be between 0 and %(most)s (the order has %(units)s)."),
            {"most": order.units, "units": order.units},
        )
    before = order_fields(order) | {"start_count": order.start_count}
    refunded = Decimal("0")
    if start is not None and start != order.start_count:
        Order.objects.filter(pk=order.pk).update(start_count=start)
        order_event(order.pk, "staff", f"Start count set to {start}", actor_id=actor_id)
    if status in FINAL_STATUSES:
        change = order_mark_final(order_id=order.pk, status=status, actor_id=actor_id, remains=left, reason=reason)
        refunded = change.refunded
        order.refresh_from_db()
        _close_open_cancels(order, actor_id)
        Order.objects.filter(pk=order.pk).update(claimed_by=None, claimed_until=None)
    else:
        changes: dict[str, Any] = {}
        if status is not None and status != order.status:
            changes["status"] = status
        if left is not None and left != order.remains:
            changes["remains"] = left
        if changes:
            previous = order.status
            Order.objects.filter(pk=order.pk, status=order.status).update(**changes)
            described = ", ".join(f"{name} {value}" for name, value in changes.items())
            row = OrderEvent.objects.create(
                order_id=order.pk, kind="staff", message=f"Manual progress: {described}", actor_id=actor_id
            )
            if "status" in changes:
                # The customer hears of it as of a status a provider reported (notifications).
                order.refresh_from_db()
                order_status_notify([row], {order.pk: order}, {order.pk: previous})
    order.refresh_from_db()
    after = order_fields(order) | {"start_count": order.start_count}
    if after != before:
        audit_record(
            actor_id=actor_id,
            action="order.manual_update",
            obj=order,
            before=before,
            after=after | {"refund": refunded},
            reason=reason,
        )
    return order, refunded


# --- Refills and cancels of manual orders ----------------------------------------------------------

NOT_MANUAL_CANCEL = gettext_noop("Cancel %(id)s is not a cancel request of a manual order.")
REFILL_OUTCOMES = {
    "in_progress": Refill.Status.IN_PROGRESS,
    "completed": Refill.Status.COMPLETED,
    "rejected": Refill.Status.REJECTED,
}


def manual_refills() -> QuerySet[Refill]:
    """Refills of manual orders that staff have not finished, oldest first."""
    return Refill.objects.filter(
        state=Refill.State.MANUAL, status__in=[Refill.Status.PENDING, Refill.Status.IN_PROGRESS]
    ).order_by("id")


def manual_cancels() -> QuerySet[CancelRequest]:
    """Cancel requests of manual orders waiting for staff, oldest first."""
    return CancelRequest.objects.filter(state=CancelRequest.State.MANUAL).order_by("id")


@transaction.atomic
def manual_refill_resolve(*, refill_id: int, actor_id: int, outcome: str, reason: str = "") -> Refill:
    """Staff did the refill (completed), are doing it (in_progress) or refuse it (rejected)."""
    if outcome not in REFILL_OUTCOMES:
        raise ActionError(gettext_noop("Outcome must be one of %(allowed)s."), {"allowed": ", ".join(REFILL_OUTCOMES)})
    refill = Refill.objects.select_for_update().filter(pk=refill_id).first()
    if refill is None or refill.state != Refill.State.MANUAL:
        raise ActionError(gettext_noop("Refill %(id)s is not a refill of a manual order."), {"id": refill_id})
    status = REFILL_OUTCOMES[outcome]
    if refill.status in (Refill.Status.COMPLETED, Refill.Status.REJECTED):
        if refill.status == status:
            return refill
        raise ActionError(
            gettext_noop("Refill %(id)s is already %(status)s."),
            {"id": refill_id, "status": choice(Refill.Status, refill.status)},
        )
    before = {"status": refill.status}
    Refill.objects.filter(pk=refill.pk, status=refill.status).update(
        status=status, error=reason[:500] if status == Refill.Status.REJECTED else ""
    )
    order_event(refill.order_id, "refill", f"Refill {refill.pk} {status} by staff", actor_id=actor_id)
    refill_final_notify(refill, status=status, error=reason)
    audit_record(
        actor_id=actor_id,
        action="refill.manual_resolve",
        obj=refill,
        before=before,
        after={"status": status},
        reason=reason,
    )
    refill.refresh_from_db()
    return refill


@transaction.atomic
def manual_cancel_resolve(
    *, cancel_id: int, actor_id: int, accept: bool, reason: str = ""
) -> tuple[CancelRequest, Decimal]:
    """Accept a manual order's cancel (the order ends Canceled, refunded in full by the refund
    rule) or refuse it (the order goes on)."""
    cancel = CancelRequest.objects.select_for_update().filter(pk=cancel_id).first()
    if cancel is None or cancel.state not in (
        CancelRequest.State.MANUAL,
        CancelRequest.State.DONE,
        CancelRequest.State.REJECTED,
    ):
        raise ActionError(NOT_MANUAL_CANCEL, {"id": cancel_id})
    order = Order.objects.select_for_update().get(pk=cancel.order_id)
    if order.forward_state != ForwardState.MANUAL:
        raise ActionError(NOT_MANUAL_CANCEL, {"id": cancel_id})
    wanted = CancelRequest.State.DONE if accept else CancelRequest.State.REJECTED
    if cancel.state != CancelRequest.State.MANUAL:
        if cancel.state == wanted:
            return cancel, Decimal("0")
        raise ActionError(
            gettext_noop("Cancel %(id)s is already %(state)s."),
            {"id": cancel_id, "state": choice(CancelRequest.State, cancel.state)},
        )
    refunded = Decimal("0")
    if accept:
        if order.is_final and order.status != Status.CANCELED:
            raise ActionError(
                gettext_noop("Order %(id)s is already %(status)s; refuse the cancel instead."),
                {"id": order.pk, "status": choice(Status, order.status)},
            )
        if not order.is_final:
            refunded = order_mark_final(
                order_id=order.pk, status=Status.CANCELED, actor_id=actor_id, reason=reason or "Cancel accepted"
            ).refunded
            Order.objects.filter(pk=order.pk).update(claimed_by=None, claimed_until=None)
    try:
        CancelRequest.objects.filter(pk=cancel.pk, state=CancelRequest.State.MANUAL).update(
            state=wanted, error="" if accept else (reason or "Refused by staff")[:500]
        )
    except IntegrityError:  # pragma: no cover - the row lock above serialises resolutions
        raise ChangedMeanwhile(gettext_noop("Cancel %(id)s changed meanwhile."), {"id": cancel_id}) from None
    order_event(
        order.pk, "cancel", f"Cancel {cancel.pk} {'accepted' if accept else 'refused'} by staff", actor_id=actor_id
    )
    audit_record(
        actor_id=actor_id,
        action="cancel.manual_resolve",
        obj=cancel,
        before={"state": cancel.state},
        after={"state": wanted, "refund": refunded},
        reason=reason,
    )
    cancel.refresh_from_db()
    return cancel, refunded


# --- Any order: the outcome staff (or their scripts) decide ----------------------------------------


def order_update(
    *,
    order_id: int,
    actor_id: int,
    version: str | None,
    status: str | None = None,
    start_count: Any = None,
    remains: Any = None,
    reason: str = "",
) -> tuple[Order, Decimal]:
    """Update an order for staff or the Admin API, compare-and-set on `version`.

    A manual order takes progress and outcomes (manual_update). An order a provider fulfils takes
    only an outcome, Completed, Partial (with remains) or Canceled: its progress is the
    provider's, read by polling. Both end through orders.staff.order_mark_final.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise ActionError(gettext_noop("Order %(id)s does not exist."), {"id": order_id})
        if order.forward_state == ForwardState.MANUAL:
            return manual_update(
                order_id=order_id,
                actor_id=actor_id,
                version=version,
                status=status,
                start_count=start_count,
                remains=remains,
                reason=reason,
            )
        _check_version(order, version)
        if start_count not in (None, "") or (remains not in (None, "") and status != Status.PARTIAL):
            raise ActionError(
                gettext_noop(
                    "Order %(id)s is fulfilled by a provider: its start count and progress come from the provider."
                ),
                {"id": order_id},
            )
        if status not in FINAL_STATUSES:
            raise ActionError(
                gettext_noop("An order fulfilled by a provider takes only Completed, Partial or Canceled.")
            )
        before = order_fields(order)
        change = order_mark_final(
            order_id=order_id, status=status, actor_id=actor_id, remains=_count(remains, REMAINS), reason=reason
        )
        if change.done:
            audit_record(
                actor_id=actor_id,
                action=f"order.mark_{status.lower()}",
                obj=order,
                before=before,
                after={**change.after, "refund": change.refunded},
                reason=reason,
            )
        return change.subject, change.refunded
