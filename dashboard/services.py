"""Writes made from the dashboard that are not orders: deposits, commissions, tickets, referrals.

Money moves only through accounts.ledger, each credit with an idempotency key, and each deposit
decision is a compare-and-set on the request's status so that two staff clicks credit once.
"""

import secrets
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.ledger import ledger_credit
from accounts.models import LedgerEntry, User

from .models import Affiliate, Commission, DepositRequest, PaymentMethod, Ticket, TicketMessage

HUNDRED = Decimal("100")


class DepositError(ValueError):
    pass


def deposit_request_create(
    *, user: User, method: PaymentMethod, amount: Decimal, reference: str = ""
) -> DepositRequest:
    if not method.enabled:
        raise DepositError("This payment method is not available.")
    if amount < method.min_amount or (method.max_amount is not None and amount > method.max_amount):
        raise DepositError("The amount is outside this method's limits.")
    return DepositRequest.objects.create(user=user, method=method, amount=amount, reference=reference[:255])


@transaction.atomic
def deposit_approve(*, deposit_id: int, staff_id: int | None = None, note: str = "") -> bool:
    """Credit a pending deposit and its affiliate commission. False if it was already decided."""
    updated = DepositRequest.objects.filter(pk=deposit_id, status=DepositRequest.Status.PENDING).update(
        status=DepositRequest.Status.APPROVED, decided_by_id=staff_id, decided_at=timezone.now(), staff_note=note
    )
    if updated != 1:
        return False
    deposit = DepositRequest.objects.select_related("method").get(pk=deposit_id)
    posting = ledger_credit(
        user_id=deposit.user_id,
        amount=deposit.amount,
        kind=LedgerEntry.Kind.DEPOSIT,
        memo=f"Deposit {deposit.pk} via {deposit.method.name}",
        created_by_id=staff_id,
        idempotency_key=f"deposit:{deposit.pk}",
    )
    DepositRequest.objects.filter(pk=deposit.pk).update(ledger_entry_id=posting.entry.pk)
    _commission_for(deposit)
    return True


def _commission_for(deposit: DepositRequest) -> None:
    referrer_id = Affiliate.objects.filter(user_id=deposit.user_id).values_list("referred_by_id", flat=True).first()
    if not referrer_id:
        return
    percent = Affiliate.objects.filter(user_id=referrer_id).values_list("commission_percent", flat=True).first()
    if not percent:
        return
    amount = (deposit.amount * percent / HUNDRED).quantize(settings.MONEY_PLACES, rounding=ROUND_DOWN)
    if amount <= 0:
        return
    ledger_credit(
        user_id=referrer_id,
        amount=amount,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        memo=f"Affiliate commission ({percent}%) on deposit {deposit.pk}",
        idempotency_key=f"commission:deposit:{deposit.pk}",
    )
    Commission.objects.get_or_create(
        deposit=deposit, defaults={"affiliate_id": referrer_id, "referred_id": deposit.user_id, "amount": amount}
    )


def deposit_reject(*, deposit_id: int, staff_id: int | None = None, note: str = "") -> bool:
    updated = DepositRequest.objects.filter(pk=deposit_id, status=DepositRequest.Status.PENDING).update(
        status=DepositRequest.Status.REJECTED, decided_by_id=staff_id, decided_at=timezone.now(), staff_note=note
    )
    return updated == 1


def affiliate_get(*, user: User) -> Affiliate:
    """The customer's affiliate record, created with a fresh code on first use."""
    existing = Affiliate.objects.filter(user=user).first()
    if existing is not None:
        return existing
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Affiliate.objects.create(user=user, code=secrets.token_urlsafe(6)[:8])
        except IntegrityError:
            existing = Affiliate.objects.filter(user=user).first()
            if existing is not None:
                return existing
    raise RuntimeError("Could not allocate a referral code.")


def referral_record(*, user: User, code: str) -> bool:
    """Remember who referred a new customer (once; never themselves)."""
    referrer_id = Affiliate.objects.filter(code=code).values_list("user_id", flat=True).first()
    if referrer_id is None or referrer_id == user.pk:
        return False
    affiliate = affiliate_get(user=user)
    return Affiliate.objects.filter(pk=affiliate.pk, referred_by__isnull=True).update(referred_by_id=referrer_id) == 1


@transaction.atomic
def ticket_open(*, user: User, subject: str, body: str, topic: str, order_id: int | None = None) -> Ticket:
    ticket = Ticket.objects.create(user=user, subject=subject, topic=topic, order_id=order_id)
    TicketMessage.objects.create(ticket=ticket, author=user, body=body, is_staff=False)
    return ticket


@transaction.atomic
def ticket_reply(*, ticket: Ticket, author: User, body: str) -> TicketMessage:
    """A message on the thread; a staff reply marks the ticket answered, a customer's reopens it."""
    is_staff = author.is_staff and author.pk != ticket.user_id
    message = TicketMessage.objects.create(ticket=ticket, author=author, body=body, is_staff=is_staff)
    ticket.status = Ticket.Status.ANSWERED if is_staff else Ticket.Status.OPEN
    ticket.save(update_fields=["status", "updated_at"])
    return message


def ticket_close(*, ticket: Ticket) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.CLOSED, updated_at=timezone.now())
