"""Creating and starting a deposit, receiving notifications, and asking the gateway (return page
and sweep). Every call to a gateway runs outside any transaction of ours."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from panel.tenancy import panel_name

from ..gateways.base import (
    BadNotification,
    Checkout,
    GatewayError,
    Incoming,
    LookupRequest,
    Reply,
    StartRequest,
)
from ..models import MANUAL, Deposit, PaymentMethod
from .methods import DepositError, gateway_for, limits_check, method_problem, quote
from .reports import OPEN, report_apply

logger = logging.getLogger(__name__)
# The Celery sweep asks the gateway about deposits left open this long, for this long.
SWEEP_AFTER = timedelta(minutes=5)
SWEEP_FOR = timedelta(days=2)


# --- Creating and starting a deposit -------------------------------------------------------------


def deposit_create(*, user: User, method: PaymentMethod, amount: Decimal) -> Deposit:
    """Our record of a deposit the customer is about to pay (before the gateway is asked)."""
    if method.kind == MANUAL:
        raise DepositError(gettext("This method takes deposit requests, not online payments."))
    if method_problem(method):
        raise DepositError(gettext("This payment method is not available."))
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
        description=f"{panel_name()} balance top-up #{deposit.pk}",
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


# What asking the gateway about a deposit came to (Lookup.kind); a page says it in its reader's
# language (billing.admin.deposits), while the English text is what is stored and logged.
LOOKUP_NOTHING = "nothing"  # closed, a manual method, or a gateway without lookups: not asked
LOOKUP_FAILED = "failed"  # the gateway could not be asked (logged)
LOOKUP_NO_ANSWER = "no_answer"  # the gateway knows nothing of it yet
LOOKUP_APPLIED = "applied"  # its answer was applied (report_apply): see the deposit's state


@dataclasses.dataclass(frozen=True)
class Lookup:
    kind: str
    text: str | None = None  # report_apply's outcome, in English, as stored on the gateway event
    status: str = ""  # the deposit's status afterwards (LOOKUP_APPLIED only)
    needs_review: bool = False  # the answer left the deposit for staff (LOOKUP_APPLIED only)


def deposit_ask(*, deposit_id: int) -> Lookup:
    """Ask the gateway about an open deposit (outside any transaction), apply its answer, and
    say what it came to."""
    _outside_transaction("deposit_lookup")
    deposit = Deposit.objects.select_related("method").filter(pk=deposit_id).first()
    if deposit is None or deposit.status not in OPEN or deposit.gateway == MANUAL:
        return Lookup(LOOKUP_NOTHING)
    try:
        gateway = gateway_for(deposit.method)
    except (ImportError, AttributeError, KeyError):
        return Lookup(LOOKUP_NOTHING)
    if not getattr(gateway, "can_lookup", False):
        return Lookup(LOOKUP_NOTHING)
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
        return Lookup(LOOKUP_FAILED)
    if report is None:
        return Lookup(LOOKUP_NO_ANSWER)
    text = report_apply(method=deposit.method, report=report)
    status, needs_review = Deposit.objects.filter(pk=deposit.pk).values_list("status", "needs_review").get()
    return Lookup(LOOKUP_APPLIED, text, status, needs_review)


def deposit_lookup(*, deposit_id: int) -> str | None:
    """deposit_ask's English outcome (the sweep task's result). None when there was nothing to
    ask (closed deposit, or a gateway without lookups) or no answer to apply."""
    return deposit_ask(deposit_id=deposit_id).text


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
