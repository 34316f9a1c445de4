"""The sweeper (nothing stays stuck unnoticed) and the reconciliation (money adds up)."""

import logging
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, F, Q
from django.utils import timezone

from accounts.ledger import ledger_drift
from panel.events import DomainEvent, emit
from panel.money import exact_total
from upstream.models import Provider

from .events import order_event
from .forwarding import RESENDING, RESENDS_KEYS
from .models import FINAL_STATUSES, CancelRequest, ForwardState, Order, ReconciliationReport, Refill, Status
from .rollups import rollup_fold
from .settlement import order_settle, refund_due

logger = logging.getLogger(__name__)

QUEUED_GRACE = timedelta(seconds=60)
COST_TOLERANCE = Decimal("0.05")  # 5 % of the expected cost ...
COST_TOLERANCE_MIN = Decimal("0.01")  # ... or one cent, whichever is larger


def sweep(*, enqueue_forward, enqueue_refills, enqueue_cancels, now=None) -> dict[str, int]:
    """Re-enqueue work that was lost, and resolve lapsed sending leases.

    A queued order whose task was lost (the worker died between commit and enqueue, or the broker
    dropped it) is enqueued again; claiming is conditional, so an extra task is harmless. An order
    whose sending lease lapsed tells by `send_started_at` whether the request could have left:
    without it the worker died before sending and the order is queued again; with it the
    provider may have the order: a provider that honours idempotency keys is sent the same key
    again, any other leaves it "unknown" for staff.
    """
    now = now or timezone.now()
    counts = {
        "requeued": 0,
        "died_before_sending": 0,
        "resending": 0,
        "may_have_sent": 0,
        "refills": 0,
        "cancels": 0,
    }

    lapsed = Order.objects.filter(forward_state=ForwardState.SENDING, lease_until__lt=now)
    for order_id in lapsed.filter(send_started_at__isnull=True).values_list("id", flat=True):
        if Order.objects.filter(
            pk=order_id, forward_state=ForwardState.SENDING, lease_until__lt=now, send_started_at__isnull=True
        ).update(forward_state=ForwardState.QUEUED, lease_until=None, next_attempt_at=None):
            order_event(order_id, "sweeper", "Worker stopped before sending; queued again")
            counts["died_before_sending"] += 1
    # At a provider that honours idempotency keys, the same key is simply sent again.
    for order_id in lapsed.filter(send_started_at__isnull=False).filter(RESENDS_KEYS).values_list("id", flat=True):
        if Order.objects.filter(
            pk=order_id, forward_state=ForwardState.SENDING, lease_until__lt=now, send_started_at__isnull=False
        ).update(forward_state=ForwardState.UNKNOWN, lease_until=None, next_attempt_at=now):
            order_event(order_id, "sweeper", "Worker stopped while sending; resending with the same idempotency key")
            counts["resending"] += 1
    for order_id in lapsed.filter(send_started_at__isnull=False).values_list("id", flat=True):
        reason = "A worker stopped while sending this order: the provider may have it. Check before resending."
        if Order.objects.filter(
            pk=order_id, forward_state=ForwardState.SENDING, lease_until__lt=now, send_started_at__isnull=False
        ).update(forward_state=ForwardState.UNKNOWN, lease_until=None, needs_attention=True, attention_reason=reason):
            order_event(order_id, "attention", reason)
            counts["may_have_sent"] += 1

    due = Order.objects.filter(
        Q(forward_state=ForwardState.QUEUED, next_attempt_at__lte=now)
        | Q(forward_state=ForwardState.QUEUED, next_attempt_at__isnull=True, created_at__lt=now - QUEUED_GRACE)
        | RESENDING & Q(next_attempt_at__lte=now)
    )
    for order_id in due.values_list("id", flat=True)[:5000]:
        enqueue_forward(order_id)
        counts["requeued"] += 1

    refills = list(
        Refill.objects.filter(state=Refill.State.QUEUED)
        .filter(Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, created_at__lt=now - QUEUED_GRACE))
        .values_list("id", flat=True)[:1000]
    )
    if refills:
        enqueue_refills(refills)
        counts["refills"] = len(refills)
    cancels = list(
        CancelRequest.objects.filter(state=CancelRequest.State.QUEUED, updated_at__lt=now - QUEUED_GRACE).values_list(
            "id", flat=True
        )[:1000]
    )
    if cancels:
        enqueue_cancels(cancels)
        counts["cancels"] = len(cancels)
    # The report figures' pending changes, folded into the daily roll-ups (orders/rollups.py).
    counts["rollups"] = rollup_fold()
    if any(counts.values()):
        logger.info("sweep: %s", counts)
    return counts


def reconcile() -> ReconciliationReport:
    """Check that the money adds up; repair only what is safe (missing refunds); write a report."""
    drift = ledger_drift()

    # Final orders whose refund is missing or short: apply it, idempotently.
    unsettled = Order.objects.filter(status__in=FINAL_STATUSES).filter(
        Q(settled_at__isnull=True) | Q(status=Status.CANCELED) & ~Q(refunded=F("charge"))
    )
    repaired = []
    for order in unsettled.only("id", "status", "charge", "refunded", "remains", "quantity", "runs")[:10000]:
        if refund_due(order) > order.refunded or order.settled_at is None:
            moved = order_settle(order_id=order.pk)
            if moved:
                repaired.append({"order": order.pk, "refunded": str(moved)})

    # The provider's charge against what we expected to pay.
    mismatches = []
    candidates = Order.objects.filter(cost_actual__isnull=False).exclude(cost_actual=F("cost_expected"))
    for order_id, expected, actual, status in candidates.values_list(
        "id", "cost_expected", "cost_actual", "status"
    ).order_by("-id")[:5000]:
        if status in (Status.CANCELED, Status.PARTIAL):
            continue  # the provider's own refund lowers its charge; that is expected
        tolerance = max(expected * COST_TOLERANCE, COST_TOLERANCE_MIN)
        if abs(actual - expected) > tolerance:
            mismatches.append({"order": order_id, "expected": str(expected), "actual": str(actual)})

    # Each provider's balance movement since the last report against the charges it reported.
    previous = ReconciliationReport.objects.order_by("-id").first()
    providers = {}
    for provider in Provider.objects.all():
        before = (previous.data.get("providers", {}).get(str(provider.pk)) or {}) if previous else {}
        charged = Order.objects.filter(provider=provider, cost_actual__isnull=False)
        if previous:
            charged = charged.filter(created_at__gte=previous.created_at)
        spent = exact_total(charged, "cost_actual")
        entry = {"name": provider.name, "balance": str(provider.balance) if provider.balance is not None else None}
        if before.get("balance") is not None and provider.balance is not None:
            movement = (Decimal(before["balance"]) - provider.balance) * provider.exchange_rate
            entry.update(
                {"balance_movement": str(movement), "charges": str(spent), "difference": str(movement - spent)}
            )
        providers[str(provider.pk)] = entry

    attention = Order.objects.filter(needs_attention=True).count()
    stuck = Order.objects.filter(
        forward_state=ForwardState.QUEUED, created_at__lt=timezone.now() - timedelta(hours=1)
    ).aggregate(n=Count("id"))["n"]
    ok = not drift and not mismatches
    summary = (
        f"{len(drift)} balance(s) drift, {len(repaired)} refund(s) applied, {len(mismatches)} cost mismatch(es), "
        f"{attention} order(s) need attention, {stuck} queued over an hour"
    )
    report = ReconciliationReport.objects.create(
        ok=ok,
        summary=summary,
        data={
            "drift": [{"user": d.username, "balance": str(d.balance), "ledger": str(d.ledger_sum)} for d in drift],
            "refunds_applied": repaired,
            "cost_mismatches": mismatches[:500],
            "providers": providers,
            "needs_attention": attention,
            "stuck_queued": stuck,
        },
    )
    (logger.info if ok else logger.warning)("reconcile: %s", summary)
    if not ok:
        emit(
            DomainEvent(
                kind="reconcile.issues", key=f"reconcile:{report.pk}", data={"report": report.pk, "message": summary}
            )
        )
    return report
