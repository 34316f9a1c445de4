"""Refills and cancels that customers request for their orders.

Requests are validated and recorded in the database first, then forwarded to the provider after
commit, many at once where the protocol allows it. Refill statuses are polled in batches of 100
like orders. A refill or cancel costs nothing, so one whose outcome is unknown is simply retried.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from upstream.client import UpstreamError, normalize_refill_status
from upstream.models import Provider
from upstream.services import provider_client, provider_slot

from .models import ACTIVE_STATUSES, CancelRequest, ForwardState, Order, Refill, Status
from .services import order_cancel_unsent, order_event

logger = logging.getLogger(__name__)

INCORRECT_ORDER = "Incorrect order ID"
REFILL_DISABLED = "Refill is disabled for this service"
NOT_COMPLETED = "The order is not completed"
NOT_ELIGIBLE = "Order not eligible for refill"
REFILL_OPEN = "Refill already requested for this order"
REFILL_TOO_SOON = "Refill was requested less than 24 hours ago"
CANCEL_DISABLED = "Cancel is disabled for this service"
CANCEL_NOT_POSSIBLE = "Order can not be canceled"
CANCEL_OPEN = "Cancel already requested for this order"
REFILL_COOLDOWN = timedelta(hours=24)
RETRY_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class Outcome:
    order_id: str
    id: int | None = None  # the refill or cancel request's ID
    error: str | None = None


def _distinct(order_ids: list) -> list[str]:
    """The requested IDs, stripped, each once, in the order first given: a request naming an
    order twice asks for one refill or cancel, not two."""
    return list(dict.fromkeys(str(raw_id).strip() for raw_id in order_ids))


def _per_request(order_ids: list, outcomes: list[Outcome]) -> list[Outcome]:
    """One outcome per requested ID, in order: an ID named twice gets its one outcome twice."""
    by_key = {outcome.order_id: outcome for outcome in outcomes}
    return [by_key[str(raw_id).strip()] for raw_id in order_ids]


def _own_orders(user_id: int, order_ids: list) -> dict[str, Order]:
    numeric = [int(i) for i in order_ids if str(i).strip().isdigit()]
    found = Order.objects.filter(user_id=user_id, pk__in=numeric).select_related("service")
    return {str(o.pk): o for o in found}


def _refill_error(order: Order, now) -> str | None:
    if not order.service.refill:
        return REFILL_DISABLED
    if order.status != Status.COMPLETED:
        return NOT_COMPLETED
    if order.forward_state != ForwardState.SENT or not order.completed_at:
        return NOT_ELIGIBLE
    if now - order.completed_at > timedelta(days=order.service.refill_days):
        return NOT_ELIGIBLE
    last = order.refills.exclude(state=Refill.State.REJECTED).order_by("-created_at").first()
    if last is not None:
        if last.status in (Refill.Status.PENDING, Refill.Status.IN_PROGRESS):
            return REFILL_OPEN
        if now - last.created_at < REFILL_COOLDOWN:
            return REFILL_TOO_SOON
    return None


def refill_request(*, user_id: int, order_ids: list) -> list[Outcome]:
    """Record a refill for each eligible order; answers one outcome per requested ID, in order
    (an order named twice is refilled once and answered twice alike)."""
    orders = _own_orders(user_id, order_ids)
    now = timezone.now()
    outcomes: list[Outcome] = []
    created: list[int] = []
    for key in _distinct(order_ids):
        order = orders.get(key)
        if order is None:
            outcomes.append(Outcome(key, error=INCORRECT_ORDER))
            continue
        error = _refill_error(order, now)
        if error:
            outcomes.append(Outcome(key, error=error))
            continue
        try:
            with transaction.atomic():
                refill = Refill.objects.create(order=order, user_id=user_id, provider_id=order.provider_id)
                order_event(order.pk, "refill", f"Refill {refill.pk} requested")
        except IntegrityError:
            outcomes.append(Outcome(key, error=REFILL_OPEN))
            continue
        created.append(refill.pk)
        outcomes.append(Outcome(key, id=refill.pk))
    if created:
        transaction.on_commit(lambda: _enqueue("forward_refills", created))
    return _per_request(order_ids, outcomes)


def cancel_request(*, user_id: int, order_ids: list) -> list[Outcome]:
    """Cancel each order that allows it: at once if it was never sent, else through the provider."""
    orders = _own_orders(user_id, order_ids)
    outcomes: list[Outcome] = []
    created: list[int] = []
    for key in _distinct(order_ids):
        order = orders.get(key)
        if order is None:
            outcomes.append(Outcome(key, error=INCORRECT_ORDER))
            continue
        if not order.service.cancel:
            outcomes.append(Outcome(key, error=CANCEL_DISABLED))
            continue
        if order.status not in ACTIVE_STATUSES or order.forward_state not in (ForwardState.QUEUED, ForwardState.SENT):
            outcomes.append(Outcome(key, error=CANCEL_NOT_POSSIBLE))
            continue
        try:
            with transaction.atomic():
                cancel = CancelRequest.objects.create(order=order, user_id=user_id)
                order_event(order.pk, "cancel", f"Cancel {cancel.pk} requested")
        except IntegrityError:
            outcomes.append(Outcome(key, error=CANCEL_OPEN))
            continue
        if order.forward_state == ForwardState.QUEUED and order_cancel_unsent(
            order_id=order.pk, reason="Canceled by the customer before it was sent"
        ):
            CancelRequest.objects.filter(pk=cancel.pk).update(state=CancelRequest.State.DONE)
        else:
            created.append(cancel.pk)
        outcomes.append(Outcome(key, id=cancel.pk))
    if created:
        transaction.on_commit(lambda: _enqueue("forward_cancels", created))
    return _per_request(order_ids, outcomes)


def _enqueue(task_name: str, ids: list[int]) -> None:
    from . import tasks

    getattr(tasks, task_name).delay(ids)


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
            with provider_slot(provider) as slot:
                if not slot:
                    raise UpstreamError("refill", "no free request slot")
                results = provider_client(provider).refills(list(by_upstream))
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
                Refill.objects.filter(pk=refill.pk, state=Refill.State.QUEUED).update(
                    state=Refill.State.REJECTED, status=Refill.Status.REJECTED, error=result.error or "Rejected"
                )
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
        with provider_slot(provider) as slot:
            if not slot:
                raise UpstreamError("refill_status", "no free request slot")
            answers = provider_client(provider).refill_statuses([r.upstream_refill_id for r in refills])
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
        changed += bool(
            Refill.objects.filter(pk=refill.pk, state=Refill.State.SENT, status=refill.status).update(**changes)
            and "status" in changes
        )
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


def cancels_forward(*, cancel_ids: list[int]) -> int:
    cancels = list(
        CancelRequest.objects.filter(pk__in=cancel_ids, state=CancelRequest.State.QUEUED).select_related(
            "order__provider"
        )
    )
    by_provider: dict[int, list[CancelRequest]] = defaultdict(list)
    for cancel in cancels:
        by_provider[cancel.order.provider_id].append(cancel)
    confirmed = 0
    for group in by_provider.values():
        provider = group[0].order.provider
        by_upstream = {c.order.upstream_order_id: c for c in group if c.order.upstream_order_id}
        try:
            with provider_slot(provider) as slot:
                if not slot:
                    raise UpstreamError("cancel", "no free request slot")
                results = provider_client(provider).cancel(list(by_upstream))
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
