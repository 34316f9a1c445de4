"""What staff do to gateway deposits in the backoffice: credit one by hand, clear its review flag,
apply or dismiss a reversal, test a method's connection. Each writes its audit row."""

from __future__ import annotations

from decimal import ROUND_DOWN

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from accounts.ledger import ledger_credit, ledger_debit
from accounts.models import LedgerEntry, User
from accounts.services import audit_record

from ..affiliates import commission_accrue
from ..gateways.base import (
    GatewayError,
)
from ..models import Deposit, PaymentMethod, Reversal
from .deposits import _outside_transaction
from .methods import gateway_for
from .reports import deposit_credited_notify

# --- Staff actions -------------------------------------------------------------------------------


@transaction.atomic
def deposit_credit_manually(*, deposit_id: int, actor_id: int | None, note: str = "") -> bool:
    """Staff credit an open or failed gateway deposit the customer proved they paid (key
    deposit-staff:<id>); a late notification for it then credits nothing. False if it was credited."""
    deposit = Deposit.objects.select_for_update().select_related("method").get(pk=deposit_id)
    if deposit.ledger_entry_id is not None or deposit.status in (Deposit.Status.PAID, Deposit.Status.PARTIAL):
        return False
    before = {"status": deposit.status}
    posting = ledger_credit(
        user_id=deposit.user_id,
        amount=deposit.amount,
        kind=LedgerEntry.Kind.DEPOSIT,
        memo=f"Deposit {deposit.pk} via {deposit.method.name} (credited by staff)",
        actor_id=actor_id,
        idempotency_key=f"deposit-staff:{deposit.pk}",
    )
    if deposit.bonus > 0:
        ledger_credit(
            user_id=deposit.user_id,
            amount=deposit.bonus,
            kind=LedgerEntry.Kind.BONUS,
            memo=f"Bonus on deposit {deposit.pk}",
            actor_id=actor_id,
            idempotency_key=f"bonus:{deposit.pk}",
        )
    Deposit.objects.filter(pk=deposit.pk).update(
        status=Deposit.Status.PAID,
        ledger_entry_id=posting.entry.pk,
        credited=deposit.amount,
        paid_at=timezone.now(),
        needs_review=False,
        note=(note or "Credited by staff.")[:255],
        updated_at=timezone.now(),
    )
    commission_accrue(user_id=deposit.user_id, amount=deposit.amount, gateway_deposit_id=deposit.pk)
    deposit_credited_notify(
        user_id=deposit.user_id, entry_id=posting.entry.pk, amount=deposit.amount, method=deposit.method.name
    )
    audit_record(
        actor_id=actor_id,
        action="deposit.credit",
        obj=deposit,
        before=before,
        after={"status": "paid", "amount": deposit.amount, "bonus": deposit.bonus, "ledger_entry": posting.entry.pk},
        reason=note,
    )
    return True


@transaction.atomic
def deposit_review_clear(*, deposit_id: int, actor_id: int | None, note: str = "") -> bool:
    updated = Deposit.objects.filter(pk=deposit_id, needs_review=True).update(needs_review=False)
    if updated:
        deposit = Deposit.objects.get(pk=deposit_id)
        audit_record(
            actor_id=actor_id,
            action="deposit.review_clear",
            obj=deposit,
            before={"needs_review": True, "note": deposit.note},
            after={"needs_review": False},
            reason=note,
        )
    return bool(updated)


@transaction.atomic
def reversal_apply(*, reversal_id: int, actor_id: int | None, note: str = "") -> bool:
    """Take a reported refund or chargeback back from the balance: as much as the balance allows
    (never below zero), the rest recorded as not recovered. Audited; False if already decided."""
    reversal = Reversal.objects.select_for_update().select_related("deposit").get(pk=reversal_id)
    if reversal.status != Reversal.Status.OPEN:
        return False
    balance = User.objects.select_for_update().values_list("balance", flat=True).get(pk=reversal.deposit.user_id)
    take = min(balance, reversal.amount).quantize(settings.MONEY_PLACES, rounding=ROUND_DOWN)
    entry_id = None
    if take > 0:
        # A stored memo: in English, whichever language the staff member who applied it reads.
        with translation.override("en"):
            kind = reversal.get_kind_display()
        posting = ledger_debit(
            user_id=reversal.deposit.user_id,
            amount=take,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            memo=f"{kind} of deposit {reversal.deposit_id}",
            actor_id=actor_id,
            idempotency_key=f"reversal:{reversal.pk}",
        )
        entry_id = posting.entry.pk
    reversal.status = Reversal.Status.APPLIED
    reversal.recovered = take
    reversal.not_recovered = reversal.amount - take
    reversal.ledger_entry_id = entry_id
    reversal.actor_id = actor_id
    reversal.decided_at = timezone.now()
    reversal.note = note[:255]
    reversal.save(
        update_fields=["status", "recovered", "not_recovered", "ledger_entry_id", "actor", "decided_at", "note"]
    )
    audit_record(
        actor_id=actor_id,
        action="reversal.apply",
        obj=reversal,
        before={"status": "open"},
        after={
            "status": "applied",
            "amount": reversal.amount,
            "recovered": take,
            "not_recovered": reversal.not_recovered,
            "ledger_entry": entry_id,
        },
        reason=note,
    )
    return True


@transaction.atomic
def reversal_dismiss(*, reversal_id: int, actor_id: int | None, note: str = "") -> bool:
    updated = Reversal.objects.filter(pk=reversal_id, status=Reversal.Status.OPEN).update(
        status=Reversal.Status.DISMISSED, actor_id=actor_id, decided_at=timezone.now(), note=note[:255]
    )
    if updated:
        reversal = Reversal.objects.get(pk=reversal_id)
        audit_record(
            actor_id=actor_id,
            action="reversal.dismiss",
            obj=reversal,
            before={"status": "open"},
            after={"status": "dismissed", "amount": reversal.amount},
            reason=note,
        )
    return bool(updated)


def method_test_connection(*, method: PaymentMethod) -> str:
    """Ask the gateway whether the method's settings work (outside any transaction). The answer
    or the GatewayError's message: neither holds a secret."""
    _outside_transaction("method_test_connection")
    gateway = gateway_for(method)
    if not getattr(gateway, "can_test", False):
        raise GatewayError(f"{method.kind} offers no connection test.")
    return gateway.test_connection()
