"""Manual deposits (the "manual" gateway: staff approve what the customer says they paid), and the
names other apps import from billing's services.

Money moves only through accounts.ledger, each credit with an idempotency key, and each deposit
decision is a compare-and-set on the request's status so that two staff clicks credit once; a
staff decision writes its audit row in the same transaction. Gateway deposits live in
billing.payments; referrals, commissions and payouts in billing.affiliates.
"""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.ledger import ledger_credit
from accounts.models import LedgerEntry, User
from accounts.services import audit_record
from panel.events import DomainEvent, emit
from panel.tenancy import panel_currency

from .affiliates import affiliate_get, commission_accrue, referral_record
from .models import MANUAL, DepositRequest, PaymentMethod
from .payments import DepositError, bonus_for, fee_for, limits_check
from .payments.reports import deposit_credited_notify

__all__ = [
    "DepositError",
    "affiliate_get",
    "deposit_approve",
    "deposit_reject",
    "deposit_request_create",
    "referral_record",
]


def deposit_request_create(
    *, user: User, method: PaymentMethod, amount: Decimal, reference: str = ""
) -> DepositRequest:
    """The customer says they paid `amount` (plus the method's fee) by a manual method. The bonus
    their amount earns is fixed now, as it was shown, and credited on approval."""
    if not method.enabled or method.kind != MANUAL:
        raise DepositError(gettext("This payment method is not available."))
    limits_check(method, amount)
    _percent, bonus = bonus_for(amount)
    request = DepositRequest.objects.create(
        user=user, method=method, amount=amount, fee=fee_for(method, amount), bonus=bonus, reference=reference[:255]
    )
    # Staff alert (notifications): a manual deposit waits for their approval.
    message = f"Deposit request {request.pk} from {user.username}: {amount} {panel_currency()} by {method.name}"
    emit(DomainEvent(kind="deposit.pending", key=f"deposit-request:{request.pk}:pending", data={"message": message}))
    return request


def _deposit_decided(deposit: DepositRequest, *, actor_id: int | None, note: str) -> None:
    after = {"status": deposit.status, "amount": deposit.amount, "ledger_entry": deposit.ledger_entry_id}
    if deposit.bonus:
        after["bonus"] = deposit.bonus
    audit_record(
        actor_id=actor_id,
        action="deposit.approve" if deposit.status == DepositRequest.Status.APPROVED else "deposit.reject",
        obj=deposit,
        before={"status": DepositRequest.Status.PENDING},
        after=after,
        reason=note,
    )


@transaction.atomic
def deposit_approve(*, deposit_id: int, actor_id: int | None = None, note: str = "") -> bool:
    """The manual method's report: credit a pending request, its bonus and the referrer's
    commission, audited. False if it was already decided."""
    updated = DepositRequest.objects.filter(pk=deposit_id, status=DepositRequest.Status.PENDING).update(
        status=DepositRequest.Status.APPROVED, actor_id=actor_id, decided_at=timezone.now(), staff_note=note
    )
    if updated != 1:
        return False
    deposit = DepositRequest.objects.select_related("method").get(pk=deposit_id)
    posting = ledger_credit(
        user_id=deposit.user_id,
        amount=deposit.amount,
        kind=LedgerEntry.Kind.DEPOSIT,
        memo=f"Deposit {deposit.pk} via {deposit.method.name}",
        actor_id=actor_id,
        idempotency_key=f"deposit:{deposit.pk}",
    )
    if deposit.bonus > 0:
        ledger_credit(
            user_id=deposit.user_id,
            amount=deposit.bonus,
            kind=LedgerEntry.Kind.BONUS,
            memo=f"Bonus on deposit request {deposit.pk}",
            actor_id=actor_id,
            idempotency_key=f"bonus:request:{deposit.pk}",
        )
    DepositRequest.objects.filter(pk=deposit.pk).update(ledger_entry_id=posting.entry.pk)
    deposit.ledger_entry_id = posting.entry.pk
    commission_accrue(user_id=deposit.user_id, amount=deposit.amount, deposit_id=deposit.pk)
    deposit_credited_notify(
        user_id=deposit.user_id, entry_id=posting.entry.pk, amount=deposit.amount, method=deposit.method.name
    )
    _deposit_decided(deposit, actor_id=actor_id, note=note)
    return True


@transaction.atomic
def deposit_reject(*, deposit_id: int, actor_id: int | None = None, note: str = "") -> bool:
    """Reject a pending deposit, audited. False if it was already decided."""
    updated = DepositRequest.objects.filter(pk=deposit_id, status=DepositRequest.Status.PENDING).update(
        status=DepositRequest.Status.REJECTED, actor_id=actor_id, decided_at=timezone.now(), staff_note=note
    )
    if updated != 1:
        return False
    _deposit_decided(DepositRequest.objects.get(pk=deposit_id), actor_id=actor_id, note=note)
    return True
