"""report_apply: the one place a verified report changes anything (see the package docstring).

Lock order: the event, then the deposit, then (inside the ledger) the user."""

from __future__ import annotations

import logging
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation

from accounts.ledger import ledger_credit
from accounts.models import LedgerEntry
from panel.events import DomainEvent, emit
from panel.tenancy import panel_currency

from ..affiliates import commission_accrue
from ..gateways.base import (
    Outcome,
    Report,
)
from ..models import Deposit, GatewayEvent, PaymentMethod, Reversal

logger = logging.getLogger(__name__)
OPEN = (Deposit.Status.CREATED, Deposit.Status.PENDING)
CLOSED_UNPAID = (Deposit.Status.FAILED, Deposit.Status.EXPIRED)


def report_apply(*, method: PaymentMethod, report: Report) -> str:
    """Apply one verified report, once. Returns what happened, as stored on the event."""
    event = _event_store(method, report)
    if event.processed:
        logger.info("%s event %s replayed: nothing done.", method.kind, report.event_id)
        return f"Replayed: {event.outcome}"
    return _event_process(event.pk, method, report)


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _event_store(method: PaymentMethod, report: Report) -> GatewayEvent:
    payload = {
        "report": {
            "outcome": str(report.outcome),
            "deposit_id": report.deposit_id,
            "transaction_id": report.transaction_id,
            "external_id": report.external_id,
            "amount": None if report.amount is None else str(report.amount),
            "currency": report.currency,
            "note": report.note,
        },
        "raw": _json_safe(report.raw),
    }
    event_id = (report.event_id or f"{report.transaction_id or report.external_id}:{report.outcome}")[:255]
    event, _created = GatewayEvent.objects.get_or_create(
        gateway=method.kind,
        event_id=event_id,
        defaults={"method": method, "type": str(report.outcome), "payload": payload},
    )
    return event


@transaction.atomic
def _event_process(event_pk: int, method: PaymentMethod, report: Report) -> str:
    event = GatewayEvent.objects.select_for_update().get(pk=event_pk)
    if event.processed:
        return f"Replayed: {event.outcome}"
    deposit = _deposit_for(method, report)
    if deposit is not None and deposit.method_id != method.pk:
        # Another method of the same gateway made this deposit. Razorpay and Stripe send every
        # event of an account to every webhook URL on it, so two methods on one account each get
        # it. The event is left unprocessed: the deposit's own method applies it when its copy
        # arrives (or its lookup does); nothing is flagged for an event that is not ours to apply.
        outcome = f"For deposit {deposit.pk} of method {deposit.method_id}: left for that method."
        logger.info("%s event %s reached method %s: %s", method.kind, event.event_id, method.pk, outcome)
        return outcome
    outcome, review = _apply(method, deposit, report, event)
    event.deposit = deposit
    event.method = method  # the method that applied it (another may have stored it first)
    event.outcome = outcome[:255]
    event.needs_review = review
    event.processed = True
    event.processed_at = timezone.now()
    event.save(update_fields=["deposit", "method", "outcome", "needs_review", "processed", "processed_at"])
    log = logger.warning if review else logger.info
    log(
        "%s event %s (%s) for deposit %s: %s",
        method.kind,
        event.event_id,
        report.outcome,
        deposit.pk if deposit else None,
        outcome,
    )
    return outcome


def _deposit_for(method: PaymentMethod, report: Report) -> Deposit | None:
    deposits = Deposit.objects.select_for_update().filter(gateway=method.kind)
    if report.deposit_id:
        return deposits.filter(pk=report.deposit_id).first()
    if report.external_id:
        return deposits.filter(external_id=report.external_id).first()
    if report.transaction_id:
        return deposits.filter(transaction_id=report.transaction_id).first()
    return None


def _flag(deposit: Deposit, note: str) -> tuple[str, bool]:
    """Leave the deposit for staff: something does not add up; nothing is credited."""
    Deposit.objects.filter(pk=deposit.pk).update(needs_review=True, note=note[:255], updated_at=timezone.now())
    return note, True


def _apply(method: PaymentMethod, deposit: Deposit | None, report: Report, event: GatewayEvent) -> tuple[str, bool]:
    if report.outcome == Outcome.IGNORED:
        return f"Ignored: {report.note or 'not an event we act on'}.", False
    money_reported = report.outcome in (Outcome.PAID, Outcome.PARTIAL, Outcome.REFUNDED, Outcome.CHARGEBACK)
    if deposit is None:
        return "No deposit of ours matches this report: nothing done.", money_reported
    if report.external_id and deposit.external_id and report.external_id != deposit.external_id:
        return _flag(
            deposit, f"Report for {method.kind} order {report.external_id}, ours is {deposit.external_id}; ignored."
        )
    if report.outcome in (Outcome.PAID, Outcome.PARTIAL):
        return _paid(method, deposit, report)
    if report.outcome in (Outcome.REFUNDED, Outcome.CHARGEBACK):
        return _reversal(deposit, report, event)
    if report.outcome == Outcome.PENDING:
        changes = {"updated_at": timezone.now()}
        if report.external_id and not deposit.external_id:
            changes["external_id"] = report.external_id
        Deposit.objects.filter(pk=deposit.pk).update(**changes)
        if deposit.status == Deposit.Status.CREATED:
            Deposit.objects.filter(pk=deposit.pk).update(status=Deposit.Status.PENDING)
            return "Pending at the gateway.", False
        return f"Pending at the gateway; left {deposit.status}.", False
    # FAILED, EXPIRED: only an open deposit closes; a paid one is never downgraded.
    new_status = Deposit.Status.EXPIRED if report.outcome == Outcome.EXPIRED else Deposit.Status.FAILED
    if deposit.status in OPEN:
        Deposit.objects.filter(pk=deposit.pk).update(status=new_status, updated_at=timezone.now())
        return f"Marked {new_status}.", False
    return f"{report.outcome} reported; left {deposit.status}.", False


def _paid(method: PaymentMethod, deposit: Deposit, report: Report) -> tuple[str, bool]:
    code = method.kind
    currency = (report.currency or "").upper()
    received = report.amount
    if not report.transaction_id:
        return _flag(deposit, f"{report.outcome} reported without a transaction ID: not credited.")
    if currency != deposit.charge_currency.upper():
        return _flag(
            deposit,
            f"{code} reported {received} {currency or '?'}, we asked {deposit.charge_amount} "
            f"{deposit.charge_currency}: wrong currency, not credited.",
        )
    if received is None or received <= 0:
        return _flag(deposit, f"{report.outcome} reported without an amount: not credited.")
    if deposit.ledger_entry_id is not None:
        return _already_credited(deposit, report)
    if Deposit.objects.filter(gateway=code, transaction_id=report.transaction_id).exclude(pk=deposit.pk).exists():
        return _flag(deposit, f"Transaction {report.transaction_id} was credited to another deposit: not credited.")

    asked = deposit.charge_amount
    if received == asked and report.outcome == Outcome.PAID:
        return _credit(deposit, report, amount=deposit.amount, bonus=deposit.bonus, status=Deposit.Status.PAID)
    if received > asked:
        # Overpaid: the gateway verified it received more, so credit what arrived (at the
        # recorded rate, the fee in proportion) and let staff look.
        amount = (deposit.amount * received / asked).quantize(settings.MONEY_PLACES, rounding=ROUND_DOWN)
        return _credit(
            deposit,
            report,
            amount=amount,
            bonus=deposit.bonus,
            status=Deposit.Status.PAID,
            review=f"Overpaid: received {received} {currency} of {asked}; credited {amount}.",
        )
    if report.outcome == Outcome.PARTIAL:
        amount = (deposit.amount * received / asked).quantize(settings.MONEY_PLACES, rounding=ROUND_DOWN)
        if amount <= 0:
            return _flag(deposit, f"Partly paid: received {received} {currency} of {asked}; too little to credit.")
        return _credit(
            deposit,
            report,
            amount=amount,
            bonus=Decimal("0"),
            status=Deposit.Status.PARTIAL,
            review=f"Partly paid: received {received} {currency} of {asked}; credited {amount}, no bonus.",
        )
    return _flag(deposit, f"{code} reported paid {received} {currency}, we asked {asked}: wrong amount, not credited.")


def _already_credited(deposit: Deposit, report: Report) -> tuple[str, bool]:
    if deposit.transaction_id == report.transaction_id:
        return "Already credited: nothing more.", False
    if not deposit.transaction_id:
        # Staff credited it by hand before the gateway's word arrived: remember the transaction
        # (unless another deposit has it), credit nothing more.
        try:
            with transaction.atomic():
                Deposit.objects.filter(pk=deposit.pk).update(transaction_id=report.transaction_id)
        except IntegrityError:
            return _flag(deposit, f"Transaction {report.transaction_id} belongs to another deposit.")
        if report.amount != deposit.charge_amount:
            return _flag(
                deposit, f"Credited by staff; the gateway reports {report.amount} {report.currency}: not credited."
            )
        return "Credited by staff before; the gateway confirms it. Nothing more credited.", False
    return _flag(
        deposit,
        f"Another transaction ({report.transaction_id}) reported for a credited deposit: not credited.",
    )


def deposit_credited_notify(*, user_id: int, entry_id: int, amount: Decimal, method: str) -> None:
    """Tell the customer their deposit was credited (notifications): once per ledger entry, from
    every path that credits one (a gateway's report, staff, a manual method's approval)."""
    emit(
        DomainEvent(
            kind="deposit.credited",
            key=f"ledger-entry:{entry_id}",
            user_id=user_id,
            data={"amount": amount, "currency": panel_currency(), "method": method},
        )
    )


def _credit(
    deposit: Deposit, report: Report, *, amount: Decimal, bonus: Decimal, status: str, review: str = ""
) -> tuple[str, bool]:
    code = deposit.gateway
    try:
        with transaction.atomic():
            Deposit.objects.filter(pk=deposit.pk).update(transaction_id=report.transaction_id)
    except IntegrityError:
        return _flag(deposit, f"Transaction {report.transaction_id} was credited to another deposit: not credited.")
    posting = ledger_credit(
        user_id=deposit.user_id,
        amount=amount,
        kind=LedgerEntry.Kind.DEPOSIT,
        memo=f"Deposit {deposit.pk} via {deposit.method.name}",
        idempotency_key=f"{code}:{report.transaction_id}",
    )
    if bonus > 0:
        ledger_credit(
            user_id=deposit.user_id,
            amount=bonus,
            kind=LedgerEntry.Kind.BONUS,
            memo=f"Bonus on deposit {deposit.pk}",
            idempotency_key=f"bonus:{deposit.pk}",
        )
    Deposit.objects.filter(pk=deposit.pk).update(
        status=status,
        ledger_entry_id=posting.entry.pk,
        credited=amount,
        bonus=bonus,
        received_amount=report.amount,
        paid_at=timezone.now(),
        needs_review=bool(review),
        note=review[:255],
        updated_at=timezone.now(),
    )
    commission_accrue(user_id=deposit.user_id, amount=amount, gateway_deposit_id=deposit.pk)
    if posting.created:
        deposit_credited_notify(
            user_id=deposit.user_id, entry_id=posting.entry.pk, amount=amount, method=deposit.method.name
        )
    if review:
        return review, True
    if not posting.created:
        return "Paid; the ledger already had this transaction's credit.", False
    return f"Paid: credited {amount} (ledger entry {posting.entry.pk}).", False


def _reversal(deposit: Deposit, report: Report, event: GatewayEvent) -> tuple[str, bool]:
    """One reversal per refund or dispute the gateway reports, whatever reports it again.

    A report that names its refund or dispute (``transaction_id``: Razorpay's rfnd_/disp_, PayPal's
    refund, reversal or dispute ID, Stripe's re_/dp_, Paystack's refund:/dispute:) is recorded once
    per ID, so two partial refunds of the same amount are two reversals. One exception: a dispute
    (chargeback) that the gateway later settles by reversing or refunding the capture reports the
    same money twice under two IDs (PayPal's dispute then its PAYMENT.CAPTURE.REVERSED or the
    refund that accepts the claim; Paystack's dispute then the refund that resolves it). A later
    reversal of exactly a disputed amount is taken as that dispute's settlement, once per dispute,
    unless staff dismissed the dispute (then the money has now really gone: it is recorded).
    A report without an ID falls back to one reversal per kind and amount."""
    kind = Reversal.Kind.CHARGEBACK if report.outcome == Outcome.CHARGEBACK else Reversal.Kind.REFUND
    if deposit.ledger_entry_id is None:
        return f"{kind} reported for a deposit we never credited: nothing to take back.", False
    received = deposit.received_amount or deposit.charge_amount
    gateway_amount = report.amount if report.amount is not None and report.amount > 0 else received
    given = deposit.credited + deposit.bonus
    share = min(Decimal("1"), gateway_amount / received) if received else Decimal("1")
    amount = min(given, (given * share).quantize(settings.MONEY_PLACES, rounding=ROUND_HALF_UP))
    reference = (report.transaction_id or "")[:255]
    earlier = Reversal.objects.filter(deposit=deposit)
    if reference:
        known = earlier.filter(Q(transaction_id=reference) | Q(settled_by=reference)).first()
        if known is not None:
            return f"{kind} {reference} already recorded (reversal {known.pk}).", False
        dispute = (
            earlier.filter(kind=Reversal.Kind.CHARGEBACK, gateway_amount=gateway_amount, settled_by="")
            .exclude(status=Reversal.Status.DISMISSED)
            .exclude(transaction_id="")
            .order_by("pk")
            .first()
        )
        if dispute is not None:
            Reversal.objects.filter(pk=dispute.pk).update(settled_by=reference)
            return (
                f"{kind} {reference} of {gateway_amount} settles dispute {dispute.transaction_id} "
                f"(reversal {dispute.pk}): the same money, not recorded twice.",
                False,
            )
    elif earlier.filter(kind=kind, gateway_amount=gateway_amount).exists():
        return f"{kind} of {gateway_amount} already recorded for this deposit.", False
    reversal = Reversal.objects.create(
        deposit=deposit,
        event=event,
        kind=kind,
        transaction_id=reference,
        gateway_amount=gateway_amount,
        gateway_currency=(report.currency or deposit.charge_currency).upper(),
        amount=amount,
    )
    flag = {"refunded": True} if kind == Reversal.Kind.REFUND else {"charged_back": True}
    # A stored note: in English whatever language the notification's request activated.
    with translation.override("en"):
        label = str(reversal.get_kind_display())
    what = f"{label} of {gateway_amount} {reversal.gateway_currency}"
    note = f"{what} reported: review reversal {reversal.pk}."
    Deposit.objects.filter(pk=deposit.pk).update(needs_review=True, note=note[:255], updated_at=timezone.now(), **flag)
    return note, True
