"""Deposits through payment gateways: the one flow every gateway module shares.

    deposit_create  (our row: amount, fee, bonus, what the gateway charges at which rate; committed)
 -> deposit_start   (gateway.start OUTSIDE any transaction; stores the checkout)
 -> the customer pays at the gateway
 -> notification_receive (the notify view: gateway.verify, then report_apply per report)
    or deposit_lookup (return URL, sweep task: gateway.lookup, then report_apply)

report_apply is the one place a verified report changes anything. It stores the event (unique per
gateway), locks the deposit, and credits only when the amount and currency match what was asked;
the ledger key is <gateway>:<transaction id>, and the transaction ID is unique per gateway, so a
payment is credited once whatever arrives twice. Everything else changes nothing money-wise, is
logged on the event, and is flagged for staff where money may be involved.

Lock order: the event, then the deposit, then (inside the ledger) the user.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.ledger import ledger_credit, ledger_debit
from accounts.models import LedgerEntry, User
from accounts.services import audit_record

from .affiliates import commission_accrue
from .gateways import GATEWAYS, gateway_class
from .gateways.base import (
    BadNotification,
    Checkout,
    GatewayError,
    Incoming,
    LookupRequest,
    Outcome,
    Reply,
    Report,
    StartRequest,
)
from .gateways.manual import ManualGateway
from .models import MANUAL, BonusTier, Deposit, GatewayEvent, PaymentMethod, Reversal, plain_amount

logger = logging.getLogger(__name__)
HUNDRED = Decimal("100")
OPEN = (Deposit.Status.CREATED, Deposit.Status.PENDING)
CLOSED_UNPAID = (Deposit.Status.FAILED, Deposit.Status.EXPIRED)
# The Celery sweep asks the gateway about deposits left open this long, for this long.
SWEEP_AFTER = timedelta(minutes=5)
SWEEP_FOR = timedelta(days=2)
# Crypto currencies, for their decimal places when an amount is converted into them.
ZERO_DECIMAL = {
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "JPY",
    "KMF",
    "KRW",
    "MGA",
    "PYG",
    "RWF",
    "UGX",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
}
THREE_DECIMAL = {"BHD", "JOD", "KWD", "OMR", "TND"}


class DepositError(ValueError):
    """The deposit cannot be made as asked; the message is for the customer."""


# --- Methods and their gateways ------------------------------------------------------------------


def gateway_for(method: PaymentMethod):
    """The gateway object of a method, built from its settings (secrets decrypted).

    PAYMENT_GATEWAY_BASE_URLS (code -> URL) points a gateway at another API address: the tests and
    the demo point it at the local fakes. Unset in production.
    """
    if method.kind == MANUAL:
        return ManualGateway(method.config())
    base_url = (getattr(settings, "PAYMENT_GATEWAY_BASE_URLS", None) or {}).get(method.kind)
    return gateway_class(method.kind)(method.config(), base_url=base_url)


def method_problem(method: PaymentMethod) -> str:
    """Why customers cannot use this method now ('' when they can)."""
    if not method.enabled:
        return "disabled"
    if method.kind == MANUAL:
        return ""
    if method.kind not in GATEWAYS:
        return f"unknown gateway {method.kind!r}"
    try:
        cls = gateway_class(method.kind)
    except (ImportError, AttributeError):
        return f"the {method.kind} gateway is not installed"
    config = method.config()
    missing = [field.label for field in cls.fields if field.required and not config.get(field.name)]
    if missing:
        return "not configured: " + ", ".join(missing)
    if not getattr(gateway_for(method), "configured", True):
        return "not configured"
    currencies = tuple(code.upper() for code in getattr(cls, "currencies", ()) or ())
    if currencies and method.charge_currency() not in currencies:
        return f"{cls.label} does not charge in {method.charge_currency()}"
    return ""


def methods_available() -> list[PaymentMethod]:
    """The methods customers may use now, in their order."""
    return [method for method in PaymentMethod.objects.filter(enabled=True) if not method_problem(method)]


# --- What a deposit costs ------------------------------------------------------------------------


def rate_for(method: PaymentMethod) -> Decimal:
    """Units of the method's charge currency per one unit of the panel's currency. Staff fix it on
    the method for now; a rate feed replaces this one function."""
    if method.charge_currency() == settings.PANEL_CURRENCY.upper():
        return Decimal("1")
    return method.rate


def charge_places(currency: str) -> Decimal:
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return Decimal("1")
    if code in THREE_DECIMAL:
        return Decimal("0.001")
    if len(code) == 3 and code.isalpha() and code not in {"BTC", "ETH", "LTC", "TRX", "BNB", "SOL", "TON", "XMR"}:
        return Decimal("0.01")
    return Decimal("0.00000001")


def bonus_for(amount: Decimal) -> tuple[Decimal, Decimal]:
    """(percent, bonus) of the highest enabled tier `amount` reaches; (0, 0) below every tier."""
    tier = BonusTier.objects.filter(enabled=True, min_amount__lte=amount).order_by("-min_amount").first()
    if tier is None:
        return Decimal("0"), Decimal("0")
    return tier.percent, (amount * tier.percent / HUNDRED).quantize(settings.MONEY_PLACES, rounding=ROUND_DOWN)


def fee_for(method: PaymentMethod, amount: Decimal) -> Decimal:
    fee = amount * method.fee_percent / HUNDRED + method.fee_fixed
    return fee.quantize(Decimal("0.01"), rounding=ROUND_UP) if fee else Decimal("0")


@dataclass(frozen=True)
class Quote:
    """What the customer sees before paying."""

    amount: Decimal  # credited to the balance (panel currency)
    fee: Decimal  # paid on top (panel currency)
    bonus_percent: Decimal
    bonus: Decimal  # credited beside the amount (panel currency)
    total: Decimal  # amount + fee (panel currency)
    charge_amount: Decimal  # what the gateway charges, in charge_currency
    charge_currency: str
    rate: Decimal

    @property
    def charge_display(self) -> str:
        return f"{plain_amount(self.charge_amount)} {self.charge_currency}"


def quote(method: PaymentMethod, amount: Decimal) -> Quote:
    fee = fee_for(method, amount)
    percent, bonus = bonus_for(amount)
    rate = rate_for(method)
    currency = method.charge_currency()
    total = amount + fee
    charge = (total * rate).quantize(charge_places(currency), rounding=ROUND_UP)
    return Quote(amount, fee, percent, bonus, total, charge, currency, rate)


def limits_check(method: PaymentMethod, amount: Decimal) -> None:
    if amount <= 0:
        raise DepositError("Enter an amount above zero.")
    if amount < method.min_amount:
        raise DepositError(f"The minimum for this method is {method.min_amount.normalize():f}.")
    if method.max_amount is not None and amount > method.max_amount:
        raise DepositError(f"The maximum for this method is {method.max_amount.normalize():f}.")


# --- Creating and starting a deposit -------------------------------------------------------------


def deposit_create(*, user: User, method: PaymentMethod, amount: Decimal) -> Deposit:
    """Our record of a deposit the customer is about to pay (before the gateway is asked)."""
    if method.kind == MANUAL:
        raise DepositError("This method takes deposit requests, not online payments.")
    if method_problem(method):
        raise DepositError("This payment method is not available.")
    limits_check(method, amount)
    q = quote(method, amount)
    return Deposit.objects.create(
        user=user,
        method=method,
        gateway=method.kind,
        amount=q.amount,
        fee=q.fee,
        bonus=q.bonus,
        charge_amount=q.charge_amount,
        charge_currency=q.charge_currency,
        rate=q.rate,
    )


def checkout_to_json(checkout: Checkout) -> dict:
    data = dataclasses.asdict(checkout)
    data["form_fields"] = [list(pair) for pair in checkout.form_fields]
    data["pay_amount"] = None if checkout.pay_amount is None else str(checkout.pay_amount)
    return data


def checkout_from_json(data: dict) -> Checkout:
    known = {f.name for f in dataclasses.fields(Checkout)}
    values = {k: v for k, v in (data or {}).items() if k in known}
    values["form_fields"] = tuple(tuple(pair) for pair in values.get("form_fields") or ())
    if values.get("pay_amount") is not None:
        values["pay_amount"] = Decimal(values["pay_amount"])
    return Checkout(**values)


def _outside_transaction(what: str) -> None:
    """Refuse to call a gateway inside a transaction of ours (a test case's own wrapping
    transaction, which stands for autocommit, does not count)."""
    if any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
        raise RuntimeError(f"{what} calls the gateway and must not run inside a database transaction.")


def deposit_start(*, deposit: Deposit, return_url: str, cancel_url: str, notify_url: str) -> Checkout:
    """Ask the gateway to start the payment and remember where to send the customer.

    Runs outside any transaction: the call can take seconds, and the deposit row is committed
    already, so a notification that arrives early still finds it. GatewayError marks the deposit
    failed (with the gateway's message, which never holds a secret) and is raised again.
    """
    _outside_transaction("deposit_start")
    method = deposit.method
    user = deposit.user
    request = StartRequest(
        deposit_id=deposit.pk,
        amount=deposit.charge_amount,
        currency=deposit.charge_currency,
        description=f"{settings.PANEL_NAME} balance top-up #{deposit.pk}",
        customer_email=user.email or "",
        customer_name=user.get_full_name() or user.username,
        return_url=return_url,
        cancel_url=cancel_url,
        notify_url=notify_url,
    )
    try:
        checkout = gateway_for(method).start(request)
    except (GatewayError, ArithmeticError, ValueError) as error:
        message = str(error) if isinstance(error, GatewayError) else f"{type(error).__name__}"
        logger.warning("Deposit %s: %s start failed: %s", deposit.pk, deposit.gateway, message)
        Deposit.objects.filter(pk=deposit.pk, status=Deposit.Status.CREATED).update(
            status=Deposit.Status.FAILED, note=message[:255], updated_at=timezone.now()
        )
        raise GatewayError(message) from None
    changes = {
        "status": Deposit.Status.PENDING,
        "checkout": checkout_to_json(checkout),
        "checkout_url": checkout.redirect_url[:2000],
        "updated_at": timezone.now(),
    }
    if checkout.external_id:
        changes["external_id"] = checkout.external_id[:255]
    try:
        with transaction.atomic():
            Deposit.objects.filter(pk=deposit.pk, status=Deposit.Status.CREATED).update(**changes)
    except IntegrityError:
        # The gateway gave an ID another deposit has: never send the customer to pay it.
        Deposit.objects.filter(pk=deposit.pk).update(
            status=Deposit.Status.FAILED,
            needs_review=True,
            note=f"{deposit.gateway} answered with an order ID another deposit has."[:255],
        )
        raise GatewayError("The payment could not be started.") from None
    return checkout


# --- Notifications and lookups -------------------------------------------------------------------


def incoming_summary(incoming: Incoming) -> str:
    return f"{len(incoming.body)} bytes from {incoming.remote_addr or '?'}"


def notification_receive(*, method: PaymentMethod, incoming: Incoming) -> Reply:
    """Verify a notification and apply its reports; the answer the gateway expects. Never raises."""
    try:
        gateway = gateway_for(method)
    except (ImportError, AttributeError, KeyError):
        logger.error("Notification for method %s: gateway %r is not installed.", method.pk, method.kind)
        return Reply(status=404, body="unknown method\n")
    try:
        reports = gateway.verify(incoming)
    except BadNotification as error:
        # The reason only: a notification we could not trust is never logged whole.
        logger.warning(
            "Notification for method %s (%s) refused: %s [%s]",
            method.pk,
            method.kind,
            str(error)[:200],
            incoming_summary(incoming),
        )
        return gateway.reply(None, error)
    except GatewayError as error:
        logger.warning("Notification for method %s (%s): could not verify: %s", method.pk, method.kind, error)
        return Reply(status=503, body="try again later\n")
    try:
        for report in reports:
            report_apply(method=method, report=report)
    except Exception:
        # Not acknowledged, so the gateway delivers it again; nothing was half-written (each
        # report is applied in one transaction).
        logger.exception("Notification for method %s (%s): applying failed", method.pk, method.kind)
        return Reply(status=503, body="try again later\n")
    return gateway.reply(reports)


def deposit_lookup(*, deposit_id: int) -> str | None:
    """Ask the gateway about an open deposit (outside any transaction) and apply its answer.
    None when there is nothing to ask (closed deposit, or a gateway without lookups)."""
    _outside_transaction("deposit_lookup")
    deposit = Deposit.objects.select_related("method").filter(pk=deposit_id).first()
    if deposit is None or deposit.status not in OPEN or deposit.gateway == MANUAL:
        return None
    try:
        gateway = gateway_for(deposit.method)
    except (ImportError, AttributeError, KeyError):
        return None
    if not getattr(gateway, "can_lookup", False):
        return None
    request = LookupRequest(
        deposit_id=deposit.pk,
        external_id=deposit.external_id or "",
        transaction_id=deposit.transaction_id or "",
        amount=deposit.charge_amount,
        currency=deposit.charge_currency,
    )
    try:
        report = gateway.lookup(request)
    except GatewayError as error:
        logger.info("Deposit %s: lookup at %s failed: %s", deposit.pk, deposit.gateway, error)
        return None
    if report is None:
        return None
    return report_apply(method=deposit.method, report=report)


def deposits_sweep(*, now=None) -> int:
    """Look up every open deposit between SWEEP_AFTER and SWEEP_FOR old; safe to run twice and
    concurrently (report_apply credits once). Returns how many were asked about."""
    now = now or timezone.now()
    ids = list(
        Deposit.objects.filter(
            status__in=OPEN, created_at__lte=now - SWEEP_AFTER, created_at__gte=now - SWEEP_FOR
        ).values_list("pk", flat=True)[:500]
    )
    for deposit_id in ids:
        deposit_lookup(deposit_id=deposit_id)
    return len(ids)


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
    outcome, review = _apply(method, deposit, report, event)
    event.deposit = deposit
    event.outcome = outcome[:255]
    event.needs_review = review
    event.processed = True
    event.processed_at = timezone.now()
    event.save(update_fields=["deposit", "outcome", "needs_review", "processed", "processed_at"])
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
    if deposit.method_id != method.pk:
        return _flag(deposit, f"Reported through method {method.pk}, the deposit is of method {deposit.method_id}.")
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
    if review:
        return review, True
    if not posting.created:
        return "Paid; the ledger already had this transaction's credit.", False
    return f"Paid: credited {amount} (ledger entry {posting.entry.pk}).", False


def _reversal(deposit: Deposit, report: Report, event: GatewayEvent) -> tuple[str, bool]:
    kind = Reversal.Kind.CHARGEBACK if report.outcome == Outcome.CHARGEBACK else Reversal.Kind.REFUND
    if deposit.ledger_entry_id is None:
        return f"{kind} reported for a deposit we never credited: nothing to take back.", False
    received = deposit.received_amount or deposit.charge_amount
    gateway_amount = report.amount if report.amount is not None and report.amount > 0 else received
    given = deposit.credited + deposit.bonus
    share = min(Decimal("1"), gateway_amount / received) if received else Decimal("1")
    amount = min(given, (given * share).quantize(settings.MONEY_PLACES, rounding=ROUND_HALF_UP))
    if deposit.reversals.filter(kind=kind, gateway_amount=gateway_amount).exists():
        return f"{kind} of {gateway_amount} already recorded for this deposit.", False
    reversal = Reversal.objects.create(
        deposit=deposit,
        event=event,
        kind=kind,
        gateway_amount=gateway_amount,
        gateway_currency=(report.currency or deposit.charge_currency).upper(),
        amount=amount,
    )
    flag = {"refunded": True} if kind == Reversal.Kind.REFUND else {"charged_back": True}
    what = f"{reversal.get_kind_display()} of {gateway_amount} {reversal.gateway_currency}"
    note = f"{what} reported: review reversal {reversal.pk}."
    Deposit.objects.filter(pk=deposit.pk).update(needs_review=True, note=note[:255], updated_at=timezone.now(), **flag)
    return note, True


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
        posting = ledger_debit(
            user_id=reversal.deposit.user_id,
            amount=take,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            memo=f"{reversal.get_kind_display()} of deposit {reversal.deposit_id}",
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
