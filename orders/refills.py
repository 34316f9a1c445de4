"""Refills that customers request for their orders.

Requests are validated and recorded in the database first, then forwarded to the provider after
commit, many at once where the protocol allows it. Refill statuses are polled in batches of 100
like orders. A refill costs nothing, so one whose outcome is unknown is simply retried.
"""

import logging
from collections import defaultdict
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from upstream.client import UpstreamError, normalize_refill_status
from upstream.models import Provider
from upstream.services import provider_call

from .customer_requests import RequestOutcome, distinct_ids, outcome_per_id, own_orders
from .errors import INCORRECT_ORDER, NOT_COMPLETED, NOT_ELIGIBLE, REFILL_DISABLED, REFILL_OPEN, REFILL_TOO_SOON
from .events import order_event, refill_final_notify
from .models import ForwardState, Order, Refill, Status
from .queue import FORWARD_REFILLS, enqueue
from .staff import ActionError, StaffChange, StaffText

logger = logging.getLogger(__name__)

REFILL_COOLDOWN = timedelta(hours=24)
RETRY_AFTER = timedelta(minutes=2)
OPEN_REFILL_STATUSES = (Refill.Status.PENDING, Refill.Status.IN_PROGRESS)


def refill_order_error(order: Order, now) -> str | None:
    """Why the order itself cannot be refilled (service, status, age), in the protocol's words."""
    if not order.service.refill:
        return REFILL_DISABLED
    if order.status != Status.COMPLETED:
        return NOT_COMPLETED
    if order.forward_state not in (ForwardState.SENT, ForwardState.MANUAL) or not order.completed_at:
        return NOT_ELIGIBLE
    if now - order.completed_at > timedelta(days=order.service.refill_days):
        return NOT_ELIGIBLE
    return None


def refills_blocking(order_ids: list[int], now) -> dict[int, str]:
    """Orders among these whose earlier refill blocks a new one: still open, or asked for less
    than REFILL_COOLDOWN ago (one query for a whole page of orders)."""
    rows = (
        Refill.objects.filter(order_id__in=order_ids)
        .exclude(state=Refill.State.REJECTED)
        .filter(Q(status__in=OPEN_REFILL_STATUSES) | Q(created_at__gt=now - REFILL_COOLDOWN))
        .values_list("order_id", "status")
    )
    blocking: dict[int, str] = {}
    for order_id, status in rows:
        if status in OPEN_REFILL_STATUSES or blocking.get(order_id) != REFILL_OPEN:
            blocking[order_id] = REFILL_OPEN if status in OPEN_REFILL_STATUSES else REFILL_TOO_SOON
    return blocking


def refill_error(order: Order, now=None) -> str | None:
    """Why this order cannot be refilled now, in the protocol's words; None if it can."""
    now = now or timezone.now()
    return refill_order_error(order, now) or refills_blocking([order.pk], now).get(order.pk)


def refill_request(*, user_id: int, order_ids: list) -> list[RequestOutcome]:
    """Record a refill for each eligible order; answers one outcome per requested ID, in order
    (an order named twice is refilled once and answered twice alike)."""
    orders = own_orders(user_id, order_ids)
    now = timezone.now()
    outcomes: list[RequestOutcome] = []
    created: list[int] = []
    for key in distinct_ids(order_ids):
        order = orders.get(key)
        if order is None:
            outcomes.append(RequestOutcome(key, error=INCORRECT_ORDER))
            continue
        error = refill_error(order, now)
        if error:
            outcomes.append(RequestOutcome(key, error=error))
            continue
        try:
            with transaction.atomic():
                # A manual order's refill waits in the staff queue (orders/manual.py): nothing is sent.
                manual = order.forward_state == ForwardState.MANUAL
                refill = Refill.objects.create(
                    order=order,
                    user_id=user_id,
                    provider_id=order.provider_id,
                    state=Refill.State.MANUAL if manual else Refill.State.QUEUED,
                )
                order_event(order.pk, "refill", f"Refill {refill.pk} requested")
        except IntegrityError:
            outcomes.append(RequestOutcome(key, error=REFILL_OPEN))
            continue
        if not manual:
            created.append(refill.pk)
        outcomes.append(RequestOutcome(key, id=refill.pk))
    if created:
        transaction.on_commit(lambda: enqueue(FORWARD_REFILLS, created))
    return outcome_per_id(order_ids, outcomes)


def refills_forward(*, refill_ids: list[int]) -> int:
    """Send queued refills, grouped by provider, many IDs per call. Returns how many were sent."""
    now = timezone.now()
    refills = list(
        Refill.objects.filter(pk__in=refill_ids, state=Refill.State.QUEUED)
        .exclude(next_attempt_at__gt=now)
        .select_related("order", "provider")
    )
    by_provider: dict[int, list[Refill]] = defaultdict(list)
    for refill in refills:
        by_provider[refill.provider_id].append(refill)
    sent = 0
    for group in by_provider.values():
        provider: Provider = group[0].provider
        by_upstream = {r.order.upstream_order_id: r for r in group}
        try:
            upstream_ids = list(by_upstream)
            results = provider_call(provider, "refill", lambda client, ids=upstream_ids: client.refills(ids))
        except UpstreamError as exc:
            results = exc.partial or []
            logger.warning("provider %s: refill call failed: %s", provider.name, exc)
        answered = set()
        for result in results:
            refill = by_upstream.get(result.order)
            if refill is None:
                continue
            answered.add(refill.pk)
            if result.refill:
                Refill.objects.filter(pk=refill.pk, state=Refill.State.QUEUED).update(
                    state=Refill.State.SENT, upstream_refill_id=result.refill, next_check_at=now + RETRY_AFTER
                )
                sent += 1
            else:
                if Refill.objects.filter(pk=refill.pk, state=Refill.State.QUEUED).update(
                    state=Refill.State.REJECTED, status=Refill.Status.REJECTED, error=result.error or "Rejected"
                ):
                    refill_final_notify(refill, status=Refill.Status.REJECTED, error=result.error or "Rejected")
                order_event(refill.order_id, "refill", f"Refill {refill.pk} rejected: {result.error}")
        for refill in group:
            if refill.pk not in answered:
                Refill.objects.filter(pk=refill.pk, state=Refill.State.QUEUED).update(
                    attempts=refill.attempts + 1, next_attempt_at=now + RETRY_AFTER
                )
    return sent


def refills_poll(*, provider_id: int, refill_ids: list[int]) -> int:
    provider = Provider.objects.get(pk=provider_id)
    refills = list(Refill.objects.filter(pk__in=refill_ids, state=Refill.State.SENT))
    if not refills:
        return 0
    try:
        upstream_ids = [r.upstream_refill_id for r in refills]
        answers = provider_call(provider, "refill_status", lambda client: client.refill_statuses(upstream_ids))
    except UpstreamError as exc:
        logger.warning("provider %s: refill status failed: %s", provider.name, exc)
        return 0
    changed = 0
    now = timezone.now()
    for refill in refills:
        answer = answers.get(refill.upstream_refill_id)
        status = normalize_refill_status(answer.status) if answer and not answer.error else None
        # Compare-and-set on what was read before the call: staff (or another poll) may have
        # decided the refill meanwhile, and their decision stands.
        changes = {"next_check_at": now + RETRY_AFTER}
        if status and status != refill.status:
            changes["status"] = status
        written = Refill.objects.filter(pk=refill.pk, state=Refill.State.SENT, status=refill.status).update(**changes)
        if written and "status" in changes:
            changed += 1
            refill_final_notify(refill, status=status)
    return changed


def refill_claim_batches(*, enqueue) -> int:
    """Claim refills due for a status check in batches of 100 per provider."""
    now = timezone.now()
    count = 0
    for provider_id in Provider.objects.filter(enabled=True).values_list("id", flat=True):
        while True:
            with transaction.atomic():
                ids = list(
                    Refill.objects.select_for_update(skip_locked=True)
                    .filter(
                        provider_id=provider_id,
                        state=Refill.State.SENT,
                        status__in=[Refill.Status.PENDING, Refill.Status.IN_PROGRESS],
                        next_check_at__lte=now,
                    )
                    .values_list("id", flat=True)[:100]
                )
                if ids:
                    Refill.objects.filter(pk__in=ids).update(next_check_at=now + RETRY_AFTER)
            if not ids:
                break
            enqueue(provider_id, ids)
            count += 1
    return count


@transaction.atomic
def refill_requeue(*, refill_id: int, actor_id: int) -> StaffChange:
    """Staff retry a refill that was rejected or never sent: back to queued, to be sent again."""
    refill = Refill.objects.select_for_update().get(pk=refill_id)
    before = {"state": refill.state, "status": refill.status, "error": refill.error}
    if refill.state == Refill.State.SENT:
        message = StaffText(gettext_noop("Refill %(id)s was sent; its status is polled."), {"id": refill_id})
        return StaffChange(False, message, refill, before, before)
    if refill.provider_id is None:
        raise ActionError(
            gettext_noop("Refill %(id)s is of a manual order: resolve it in the manual queue."), {"id": refill_id}
        )
    try:
        with transaction.atomic():
            Refill.objects.filter(pk=refill.pk, state=refill.state).update(
                state=Refill.State.QUEUED, status=Refill.Status.PENDING, error="", next_attempt_at=None
            )
    except IntegrityError:
        raise ActionError(gettext_noop("Order %(id)s already has an open refill."), {"id": refill.order_id}) from None
    order_event(refill.order_id, "staff", f"Refill {refill.pk} retried by staff", actor_id=actor_id)
    after = {"state": Refill.State.QUEUED, "status": Refill.Status.PENDING}
    return StaffChange(True, StaffText(gettext_noop("Refill %(id)s queued."), {"id": refill_id}), refill, before, after)
