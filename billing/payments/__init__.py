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

from .deposits import (
    LOOKUP_APPLIED,
    LOOKUP_FAILED,
    LOOKUP_NO_ANSWER,
    LOOKUP_NOTHING,
    SWEEP_AFTER,
    SWEEP_FOR,
    Lookup,
    checkout_from_json,
    checkout_to_json,
    deposit_ask,
    deposit_create,
    deposit_lookup,
    deposit_start,
    deposits_sweep,
    notification_receive,
)
from .methods import (
    DepositError,
    Quote,
    bonus_for,
    charge_places,
    fee_for,
    gateway_for,
    limits_check,
    method_problem,
    methods_available,
    quote,
    rate_for,
)
from .reports import CLOSED_UNPAID, OPEN, report_apply
from .staff import (
    deposit_credit_manually,
    deposit_review_clear,
    method_test_connection,
    reversal_apply,
    reversal_dismiss,
)

__all__ = [
    "CLOSED_UNPAID",
    "LOOKUP_APPLIED",
    "LOOKUP_FAILED",
    "LOOKUP_NOTHING",
    "LOOKUP_NO_ANSWER",
    "OPEN",
    "SWEEP_AFTER",
    "SWEEP_FOR",
    "DepositError",
    "Lookup",
    "Quote",
    "bonus_for",
    "charge_places",
    "checkout_from_json",
    "checkout_to_json",
    "deposit_ask",
    "deposit_create",
    "deposit_credit_manually",
    "deposit_lookup",
    "deposit_review_clear",
    "deposit_start",
    "deposits_sweep",
    "fee_for",
    "gateway_for",
    "limits_check",
    "method_problem",
    "method_test_connection",
    "methods_available",
    "notification_receive",
    "quote",
    "rate_for",
    "report_apply",
    "reversal_apply",
    "reversal_dismiss",
]
