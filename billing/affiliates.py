"""Referrals, commissions and payouts.

A referred customer's deposit (an approved manual request or a credited gateway deposit) earns
their referrer a commission. Commissions accrue: they are the referrer's earnings, not balance.
Once the unpaid earnings reach the threshold staff set (AffiliateSettings.payout_threshold), the
referrer asks for a payout; the request takes every unpaid commission with it (one open request
per referrer, enforced by the database). Staff credit it to the balance through the ledger (key
payout:<id>), mark it paid outside the panel (a bank transfer), or reject it, which leaves its
commissions unpaid again. Every decision is a compare-and-set on the request's status and writes
an audit row in the same transaction, so two clicks never pay twice.
"""

from __future__ import annotations

import secrets
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext

from accounts.ledger import ledger_credit
from accounts.models import LedgerEntry, User
from accounts.services import audit_record

from .models import Affiliate, AffiliateSettings, Commission, PayoutRequest

HUNDRED = Decimal("100")


class PayoutError(ValueError):
    """The payout cannot be requested; the message is for the customer, in the active language."""


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


def commission_accrue(
    *, user_id: int, amount: Decimal, deposit_id: int | None = None, gateway_deposit_id: int | None = None
) -> Commission | None:
    """The referrer's commission on one deposit of `user_id` (a manual request or a gateway
    deposit), once per deposit. Call it in the transaction that credits the deposit."""
    referrer_id = Affiliate.objects.filter(user_id=user_id).values_list("referred_by_id", flat=True).first()
    if not referrer_id:
        return None
    percent = Affiliate.objects.filter(user_id=referrer_id).values_list("commission_percent", flat=True).first()
    if not percent:
        return None
    commission = (amount * percent / HUNDRED).quantize(settings.MONEY_PLACES, rounding=ROUND_DOWN)
    if commission <= 0:
        return None
    link = {"deposit_id": deposit_id} if deposit_id is not None else {"gateway_deposit_id": gateway_deposit_id}
    row, _created = Commission.objects.get_or_create(
        **link, defaults={"affiliate_id": referrer_id, "referred_id": user_id, "amount": commission}
    )
    return row


def unpaid_commissions(user_id: int):
    return Commission.objects.filter(affiliate_id=user_id, payout__isnull=True, credited_at_deposit=False)


def earnings(user_id: int) -> dict:
    """What a referrer earned: unpaid (available for a payout), requested, paid, and the threshold."""
    rows = Commission.objects.filter(affiliate_id=user_id)
    unpaid = unpaid_commissions(user_id).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    pending = rows.filter(payout__status=PayoutRequest.Status.PENDING).aggregate(total=Sum("amount"))["total"]
    paid_out = rows.filter(
        payout__status__in=[PayoutRequest.Status.CREDITED, PayoutRequest.Status.PAID_OUTSIDE]
    ).aggregate(total=Sum("amount"))["total"]
    credited_before = rows.filter(credited_at_deposit=True).aggregate(total=Sum("amount"))["total"]
    return {
        "unpaid": unpaid,
        "requested": pending or Decimal("0"),
        "paid": (paid_out or Decimal("0")) + (credited_before or Decimal("0")),
        "total": rows.aggregate(total=Sum("amount"))["total"] or Decimal("0"),
        "threshold": AffiliateSettings.load().payout_threshold,
        "open_request": PayoutRequest.objects.filter(user_id=user_id, status=PayoutRequest.Status.PENDING).first(),
    }


@transaction.atomic
def payout_request_create(*, user: User) -> PayoutRequest:
    """Ask for every unpaid commission to be paid out. Refused below the threshold or while a
    request is open. The referrer's affiliate row is locked, so two clicks make one request."""
    affiliate = Affiliate.objects.select_for_update().filter(user=user).first()
    if affiliate is None:
        raise PayoutError(gettext("You have no commissions yet."))
    if PayoutRequest.objects.filter(user=user, status=PayoutRequest.Status.PENDING).exists():
        raise PayoutError(gettext("You already have a payout request waiting for review."))
    rows = list(unpaid_commissions(user.pk).select_for_update())
    total = sum((row.amount for row in rows), Decimal("0"))
    threshold = AffiliateSettings.load().payout_threshold
    if total <= 0 or total < threshold:
        raise PayoutError(
            gettext("Payouts start at %(threshold)s; you have %(unpaid)s unpaid.")
            % {"threshold": f"{threshold.normalize():f}", "unpaid": f"{total.normalize():f}"}
        )
    request = PayoutRequest.objects.create(user=user, amount=total)
    Commission.objects.filter(pk__in=[row.pk for row in rows]).update(payout=request)
    return request


def _decided(request: PayoutRequest, *, actor_id: int | None, note: str) -> None:
    audit_record(
        actor_id=actor_id,
        action=f"payout.{request.status}",
        obj=request,
        before={"status": PayoutRequest.Status.PENDING},
        after={"status": request.status, "amount": request.amount, "ledger_entry": request.ledger_entry_id},
        reason=note,
    )


def _decide(payout_id: int, status: str, actor_id: int | None, note: str) -> PayoutRequest | None:
    updated = PayoutRequest.objects.filter(pk=payout_id, status=PayoutRequest.Status.PENDING).update(
        status=status, actor_id=actor_id, decided_at=timezone.now(), staff_note=note[:255]
    )
    return PayoutRequest.objects.get(pk=payout_id) if updated == 1 else None


@transaction.atomic
def payout_credit(*, payout_id: int, actor_id: int | None, note: str = "") -> bool:
    """Approve a payout by crediting it to the referrer's balance, once. False if already decided."""
    request = _decide(payout_id, PayoutRequest.Status.CREDITED, actor_id, note)
    if request is None:
        return False
    posting = ledger_credit(
        user_id=request.user_id,
        amount=request.amount,
        kind=LedgerEntry.Kind.COMMISSION,
        memo=f"Affiliate payout {request.pk}",
        actor_id=actor_id,
        idempotency_key=f"payout:{request.pk}",
    )
    PayoutRequest.objects.filter(pk=request.pk).update(ledger_entry_id=posting.entry.pk)
    request.ledger_entry_id = posting.entry.pk
    _decided(request, actor_id=actor_id, note=note)
    return True


@transaction.atomic
def payout_mark_paid(*, payout_id: int, actor_id: int | None, note: str = "") -> bool:
    """Approve a payout paid outside the panel (bank, wallet): nothing moves on the balance."""
    request = _decide(payout_id, PayoutRequest.Status.PAID_OUTSIDE, actor_id, note)
    if request is None:
        return False
    _decided(request, actor_id=actor_id, note=note)
    return True


@transaction.atomic
def payout_reject(*, payout_id: int, actor_id: int | None, note: str = "") -> bool:
    """Reject a payout: its commissions are unpaid again (the referrer may ask later)."""
    request = _decide(payout_id, PayoutRequest.Status.REJECTED, actor_id, note)
    if request is None:
        return False
    Commission.objects.filter(payout=request).update(payout=None)
    _decided(request, actor_id=actor_id, note=note)
    return True
