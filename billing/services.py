"""Money coming in: manual deposits, card payments through a gateway, referrals and commissions.

Money moves only through accounts.ledger, each credit with an idempotency key, and each deposit
decision is a compare-and-set on the request's status so that two staff clicks credit once; a
staff decision writes its audit row in the same transaction.
"""

import logging
import secrets
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.ledger import ledger_credit
from accounts.models import LedgerEntry, User
from accounts.services import audit_record

from .gateways import stripe as stripe_gateway
from .models import Affiliate, Commission, DepositRequest, GatewayEvent, GatewayPayment, PaymentMethod
from .selectors import card_limits, stripe_method

HUNDRED = Decimal("100")
logger = logging.getLogger(__name__)


class DepositError(ValueError):
    pass


def deposit_request_create(
    *, user: User, method: PaymentMethod, amount: Decimal, reference: str = ""
) -> DepositRequest:
    if not method.enabled or method.kind != PaymentMethod.Kind.MANUAL:
        raise DepositError("This payment method is not available.")
    if amount < method.min_amount or (method.max_amount is not None and amount > method.max_amount):
        raise DepositError("The amount is outside this method's limits.")
    return DepositRequest.objects.create(user=user, method=method, amount=amount, reference=reference[:255])


def _deposit_decided(deposit: DepositRequest, *, actor_id: int | None, note: str) -> None:
    audit_record(
        actor_id=actor_id,
        action="deposit.approve" if deposit.status == DepositRequest.Status.APPROVED else "deposit.reject",
        obj=deposit,
        before={"status": DepositRequest.Status.PENDING},
        after={"status": deposit.status, "amount": deposit.amount, "ledger_entry": deposit.ledger_entry_id},
        reason=note,
    )


@transaction.atomic
def deposit_approve(*, deposit_id: int, actor_id: int | None = None, note: str = "") -> bool:
    """Credit a pending deposit and its affiliate commission, audited. False if it was already decided."""
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
    DepositRequest.objects.filter(pk=deposit.pk).update(ledger_entry_id=posting.entry.pk)
    deposit.ledger_entry_id = posting.entry.pk
    _commission_for(deposit)
    _deposit_decided(deposit, actor_id=actor_id, note=note)
    return True


def _commission_for(source: DepositRequest | GatewayPayment) -> None:
    """Credit the referrer's commission on one deposit (a manual request or a gateway payment), once."""
    referrer_id = Affiliate.objects.filter(user_id=source.user_id).values_list("referred_by_id", flat=True).first()
    if not referrer_id:
        return
    percent = Affiliate.objects.filter(user_id=referrer_id).values_list("commission_percent", flat=True).first()
    if not percent:
        return
    amount = (source.amount * percent / HUNDRED).quantize(settings.MONEY_PLACES, rounding=ROUND_DOWN)
    if amount <= 0:
        return
    if isinstance(source, GatewayPayment):
        key, label, link = f"commission:payment:{source.pk}", f"card payment {source.pk}", {"gateway_payment": source}
    else:
        key, label, link = f"commission:deposit:{source.pk}", f"deposit {source.pk}", {"deposit": source}
    ledger_credit(
        user_id=referrer_id,
        amount=amount,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        memo=f"Affiliate commission ({percent}%) on {label}",
        idempotency_key=key,
    )
    Commission.objects.get_or_create(
        **link, defaults={"affiliate_id": referrer_id, "referred_id": source.user_id, "amount": amount}
    )


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


# --- Online payments (Stripe Checkout) ------------------------------------------------------------
#
# The flow: gateway_payment_create (our row) -> gateway_checkout_start (Stripe's session, outside
# any transaction) -> the customer pays on Stripe's page -> Stripe posts signed events to the
# webhook -> stripe_event_receive stores each one raw, then acts on it once.

SESSION_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}
OPEN_STATUSES = (GatewayPayment.Status.CREATED, GatewayPayment.Status.PENDING)


def gateway_payment_create(*, user: User, amount: Decimal) -> GatewayPayment:
    """Our record of a card payment the customer is about to make (before Stripe is asked)."""
    method = stripe_method()
    if method is None:
        raise DepositError("Card payments are not available.")
    low, high = card_limits(method)
    if amount < low or (high is not None and amount > high):
        raise DepositError("The amount is outside this method's limits.")
    return GatewayPayment.objects.create(
        user=user, amount=amount, currency=stripe_gateway.currency(), provider=GatewayPayment.Provider.STRIPE
    )


def gateway_checkout_start(*, payment: GatewayPayment, success_url: str, cancel_url: str) -> str:
    """Create the Checkout Session and return the URL to send the customer to.

    Runs outside any transaction: the call to Stripe can take seconds, and the row it updates is
    committed already, so a webhook that arrives early still finds it.
    """
    try:
        session = stripe_gateway.checkout_session_create(
            payment_id=payment.pk,
            amount=payment.amount,
            currency_code=payment.currency,
            description=f"{settings.PANEL_NAME} balance top-up #{payment.pk}",
            success_url=success_url,
            cancel_url=cancel_url,
            customer_email=payment.user.email,
        )
    except stripe_gateway.GatewayError as error:
        logger.warning("Stripe Checkout Session for payment %s failed: %s", payment.pk, error)
        GatewayPayment.objects.filter(pk=payment.pk, status=GatewayPayment.Status.CREATED).update(
            status=GatewayPayment.Status.FAILED, note=str(error)[:255], updated_at=timezone.now()
        )
        raise
    GatewayPayment.objects.filter(pk=payment.pk, status=GatewayPayment.Status.CREATED).update(
        status=GatewayPayment.Status.PENDING,
        external_id=session.id,
        checkout_url=session.url,
        updated_at=timezone.now(),
    )
    return session.url


def stripe_event_receive(*, event: dict) -> GatewayEvent:
    """Store a verified Stripe event raw, then act on it unless that was done before.

    The event ID is unique: a redelivery finds the stored row already processed and does nothing.
    An event whose processing failed half-way (processed still false) is processed again.
    """
    record, _created = GatewayEvent.objects.get_or_create(
        event_id=event["id"],
        defaults={"type": event["type"][:100], "payload": event, "provider": GatewayPayment.Provider.STRIPE},
    )
    if not record.processed:
        _stripe_event_process(record.pk)
        record.refresh_from_db()
    return record


@transaction.atomic
def _stripe_event_process(record_id: int) -> None:
    # Lock order: the event, then the payment, then (inside the ledger) the user.
    record = GatewayEvent.objects.select_for_update().get(pk=record_id)
    if record.processed:
        return
    payment, outcome = _stripe_event_apply(record)
    record.payment = payment
    record.outcome = outcome[:255]
    record.processed = True
    record.processed_at = timezone.now()
    record.save(update_fields=["payment", "outcome", "processed", "processed_at"])
    logger.info("Stripe event %s (%s): %s", record.event_id, record.type, outcome)


def _stripe_event_apply(record: GatewayEvent) -> tuple[GatewayPayment | None, str]:
    if record.type not in SESSION_EVENTS:
        return None, "Ignored: not an event we act on."
    session = (record.payload.get("data") or {}).get("object") or {}
    if session.get("object") != "checkout.session" or not session.get("id"):
        return None, "Ignored: no Checkout Session in the event."
    payment = _payment_for_session(session)
    if payment is None:
        return None, "No payment of ours matches this session."
    if payment.external_id and payment.external_id != session["id"]:
        return payment, _flag(payment, f"Event for session {session['id']}, ours is {payment.external_id}; ignored.")

    if record.type == "checkout.session.completed":
        if session.get("payment_status") == "paid":
            return payment, _credit(payment, session)
        # Delayed methods (bank debits) complete unpaid; async_payment_succeeded follows.
        return payment, f"Completed with payment_status {session.get('payment_status')!r}: waiting."
    if record.type == "checkout.session.async_payment_succeeded":
        return payment, _credit(payment, session)
    new_status = (
        GatewayPayment.Status.EXPIRED if record.type == "checkout.session.expired" else GatewayPayment.Status.FAILED
    )
    changed = GatewayPayment.objects.filter(pk=payment.pk, status__in=OPEN_STATUSES).update(
        status=new_status, updated_at=timezone.now()
    )
    return payment, f"Marked {new_status}." if changed else f"Left {payment.status}."


def _payment_for_session(session: dict) -> GatewayPayment | None:
    reference = (session.get("metadata") or {}).get("payment_id") or session.get("client_reference_id") or ""
    if not str(reference).isdigit():
        return None
    return (
        GatewayPayment.objects.select_for_update()
        .filter(pk=int(reference), provider=GatewayPayment.Provider.STRIPE)
        .first()
    )


def _flag(payment: GatewayPayment, note: str) -> str:
    """Leave the payment for staff: something about it does not add up, and nothing is credited."""
    GatewayPayment.objects.filter(pk=payment.pk).update(needs_review=True, note=note[:255], updated_at=timezone.now())
    logger.warning("Stripe payment %s needs review: %s", payment.pk, note)
    return note


def _credit(payment: GatewayPayment, session: dict) -> str:
    """Credit our amount once (key stripe:<session id>) if Stripe charged exactly that amount."""
    expected = stripe_gateway.minor_units(payment.amount, payment.currency)
    charged, charged_currency = session.get("amount_total"), str(session.get("currency") or "").upper()
    if charged != expected or charged_currency != payment.currency:
        return _flag(
            payment,
            f"Stripe charged {charged} {charged_currency or '?'} (minor units), we expected {expected} "
            f"{payment.currency}: not credited.",
        )
    if payment.status == GatewayPayment.Status.PAID:
        return "Already paid: nothing more credited."
    posting = ledger_credit(
        user_id=payment.user_id,
        amount=payment.amount,
        kind=LedgerEntry.Kind.DEPOSIT,
        memo=f"Card payment {payment.pk} via Stripe",
        idempotency_key=f"stripe:{session['id']}",
    )
    GatewayPayment.objects.filter(pk=payment.pk).update(
        status=GatewayPayment.Status.PAID,
        external_id=session["id"],
        ledger_entry_id=posting.entry.pk,
        paid_at=timezone.now(),
        updated_at=timezone.now(),
    )
    _commission_for(payment)
    if not posting.created:
        return "Paid; the ledger already had this session's credit."
    return f"Paid: credited {payment.amount} {payment.currency} (ledger entry {posting.entry.pk})."
