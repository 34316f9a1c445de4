"""The one interface every payment gateway implements.

A gateway module knows one payment service's API: how to start a payment, how to verify what the
service reports, how to look a payment up server to server, and how to answer its notifications.
It never touches the database and never decides what a report means for a balance: billing's
services do that, the same way for every gateway (billing.payments).

The flow, identical for all gateways:

1. billing creates a Deposit row (our ID, the amount to credit, the amount and currency the
   gateway is to charge) and commits it;
2. outside any transaction it calls ``gateway.start(StartRequest)``; the answer (a ``Checkout``)
   tells the dashboard where to send the customer: a redirect, an auto-submitted form POSTed to the
   gateway, or an address/QR to pay to;
3. the gateway notifies us at ``notify_url``; the view hands the raw request to
   ``gateway.verify(Incoming)``, which returns the verified ``Report``s or raises
   ``BadNotification``; billing applies each report once;
4. where the gateway allows it, ``gateway.lookup(LookupRequest)`` asks the gateway about a payment
   server to server (the customer's return and a Celery sweep use it); what the browser brings back
   on the return URL is never trusted.

Amounts cross this interface as ``Decimal`` in major units of ``currency`` (10.50 USD), whatever
the gateway's own wire format is (cents, paise, kobo, strings); converting is the module's job.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Protocol

TIMEOUT_SECONDS = 20  # every HTTP call a gateway module makes uses a timeout; this is the default


class GatewayError(Exception):
    """The gateway refused or could not be reached. The message is safe to show to staff: it never
    holds a secret (no key, no signature, no full request)."""


class BadNotification(Exception):
    """A notification we cannot trust: no or wrong signature, wrong merchant, malformed body. The
    view answers it with 400 (or what the gateway expects) and logs the reason, never the body's
    secrets."""


class Outcome(StrEnum):
    """What a verified report says happened to a payment."""

    PAID = "paid"  # money received in full (or more: see Report.amount)
    PARTIAL = "partial"  # some money received, less than asked (crypto underpayment)
    PENDING = "pending"  # the gateway knows the payment, no money yet (waiting, confirming)
    FAILED = "failed"  # declined, cancelled by the customer, or failed for good
    EXPIRED = "expired"  # the payment window closed without payment
    REFUNDED = "refunded"  # money given back to the payer after it was paid (Report.amount: how much)
    CHARGEBACK = "chargeback"  # the payer disputed a paid payment (Report.amount: how much)
    IGNORED = "ignored"  # a verified event we do not act on (logged and acknowledged)


@dataclass(frozen=True)
class Field:
    """One setting a gateway needs, edited by staff in the backoffice. Secret fields are stored
    encrypted and never shown back (only a hint of the last characters)."""

    name: str
    label: str
    secret: bool = False
    required: bool = True
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class StartRequest:
    deposit_id: int  # our ID; every gateway echoes it back in its reports (order id, reference, metadata)
    amount: Decimal  # what the gateway must charge, major units of `currency`
    currency: str  # ISO 4217 (or the crypto processor's code), upper case
    description: str
    customer_email: str
    customer_name: str
    return_url: str  # where the customer comes back to (success or not: we look it up)
    cancel_url: str
    notify_url: str  # the webhook/IPN/callback URL for this method


@dataclass(frozen=True)
class Checkout:
    """Where to send the customer: at least one of ``redirect_url``; ``form_action`` with
    ``form_fields`` (the dashboard renders an auto-submitting POST form, CSP-safe);
    ``pay_address`` with ``pay_amount``/``pay_currency`` (and optionally ``qr_payload``); or
    ``client_options`` (the gateway's own script opens its checkout on the pay page).

    A gateway may fill several (Cryptomus answers its invoice page *and* the address to pay to).
    The pay page uses the first one set, in that order: a redirect wins over a form, a form over
    an address, an address over client options; the others are kept on the deposit (staff see
    them) but not shown. A ``redirect_url`` or ``form_action`` that is not an http(s) address is
    dropped first, so the next one set is used."""

    external_id: str = ""  # the gateway's ID for this payment/order/invoice, if it gave one now
    redirect_url: str = ""
    form_action: str = ""
    form_fields: tuple[tuple[str, str], ...] = ()
    pay_address: str = ""
    pay_amount: Decimal | None = None
    pay_currency: str = ""
    qr_payload: str = ""
    expires_at: str = ""  # ISO 8601, when the gateway says so
    client_options: dict = field(default_factory=dict)  # e.g. Razorpay Checkout's key/order_id for its JS


@dataclass(frozen=True)
class Incoming:
    """A notification as it reached us: the raw body, headers (lower-case names) and parsed form or
    query fields. Modules verify from the raw body when the gateway signs the body."""

    body: bytes
    headers: dict[str, str]
    form: dict[str, str]
    query: dict[str, str]
    remote_addr: str = ""


@dataclass(frozen=True)
class Report:
    """One verified fact from the gateway about one payment.

    ``transaction_id`` is the gateway's unique ID for the money movement that is credited or
    reversed (payment ID, capture ID, batch number, invoice UUID): billing stores it unique per
    gateway, so one payment is credited once however many times it is reported.
    ``event_id`` identifies this notification (for de-duplicating and logging); when the gateway
    has none, the module derives a stable one (for example transaction_id + outcome).
    """

    outcome: Outcome
    deposit_id: int | None  # ours, as the gateway echoed it; None when it carries none
    event_id: str
    transaction_id: str = ""
    external_id: str = ""  # the gateway's order/invoice ID (as in Checkout.external_id)
    amount: Decimal | None = None  # received (or refunded), major units of `currency`
    currency: str = ""
    note: str = ""  # short, human, no secrets
    raw: dict = field(default_factory=dict)  # the notification's fields, secrets removed


@dataclass(frozen=True)
class LookupRequest:
    deposit_id: int
    external_id: str
    transaction_id: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Reply:
    """What the notification view answers the gateway with (some gateways demand exact text)."""

    status: int = 200
    body: str = "ok"
    content_type: str = "text/plain"


class Gateway(Protocol):
    """What billing needs from every gateway module's class."""

    code: ClassVar[str]  # stable slug stored on PaymentMethod.kind, e.g. "paypal"
    label: ClassVar[str]  # default display name, e.g. "PayPal"
    fields: ClassVar[tuple[Field, ...]]  # settings staff fill in for this gateway
    currencies: ClassVar[tuple[str, ...]]  # currencies it can charge in; () means any ISO code
    can_lookup: ClassVar[bool]  # lookup() asks the gateway server to server
    can_test: ClassVar[bool]  # test_connection() exists

    def __init__(self, config: dict[str, str], *, base_url: str | None = None) -> None:
        """``config``: the method's settings by Field.name (secrets decrypted). ``base_url``
        overrides the gateway's API address (tests point it at the local fake)."""

    def start(self, request: StartRequest) -> Checkout: ...

    def verify(self, incoming: Incoming) -> list[Report]: ...

    def reply(self, reports: list[Report] | None, error: BadNotification | None = None) -> Reply: ...

    def lookup(self, request: LookupRequest) -> Report | None: ...

    def test_connection(self) -> str: ...


def same(expected: str | bytes, given: str | bytes) -> bool:
    """Constant-time comparison of two signatures (or tokens), for every gateway."""
    if isinstance(expected, str):
        expected = expected.encode()
    if isinstance(given, str):
        given = given.encode()
    return hmac.compare_digest(expected, given)
