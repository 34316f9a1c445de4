"""Paystack (Nigeria, Ghana, South Africa, Kenya): a redirect to Paystack Checkout and signed
webhooks.

Followed (paystack.com/docs and their OpenAPI description, github.com/PaystackOSS/openapi):

- API basics (/docs/api): https://api.paystack.co, ``Authorization: Bearer <secret key>``; answers
  ``{"status": true|false, "message": ..., "data": ...}``; a wrong key is 401 "Invalid key".
  Amounts are integers in the currency's subunit (kobo, pesewas, cents: hundredths for every
  currency Paystack lists: NGN, GHS, ZAR, KES, USD).
- Initialize Transaction (/docs/api/transaction#initialize): POST /transaction/initialize with
  email, amount, currency, reference (unique; only letters, digits, '-', '.', '='), callback_url,
  metadata (ours: deposit_id, and cancel_action, the URL of Checkout's cancel button), channels.
  Answer: authorization_url (Checkout.redirect_url), access_code, reference. A retry with the same
  reference is refused as a duplicate and a new reference makes a second transaction, so this call
  is not retried once it may have reached Paystack.
- Verify Transaction (/docs/api/transaction#verify): GET /transaction/verify/:reference, used by
  lookup(). Statuses: success, failed, abandoned (the customer has not finished), reversed, and
  ongoing/pending/processing/queued while a channel is still working.
- Webhooks (/docs/payments/webhooks): a POST of ``{"event": ..., "data": ...}`` signed in the
  ``x-paystack-signature`` header with HMAC-SHA512 of the raw body keyed with the secret key,
  compared in constant time; sent only from 52.31.139.75, 52.49.173.169 and 52.214.14.220 (the
  default of the ``webhook_ips`` setting; "any webhook from outside of these can safely be
  considered counterfeit"); Paystack wants a 200 and retries otherwise. One webhook URL per
  Paystack account and mode, set in the dashboard, receives every event of the account.
- Events: charge.success (PAID: transaction_id is the transaction's ``id``, the amount received is
  ``amount``, or ``requested_amount`` when the customer also paid Paystack's fees on top);
  refund.processed (REFUNDED: ``amount`` refunded, ``transaction_reference`` names the payment,
  transaction_id ``refund:<refund id>``); charge.dispute.create (CHARGEBACK: ``refund_amount``
  disputed of ``transaction``, transaction_id ``dispute:<dispute id>``). Every other
  event (transfers, subscriptions, refund.pending/processing/failed, other dispute updates) is
  acknowledged as IGNORED, and so is a charge whose reference we did not make (a payment page or
  another integration on the same account).

Our reference is ``dep-<deposit id>-<12 hex>``: the deposit ID is read back from it (and must agree
with metadata.deposit_id when that is present); the random part makes every checkout its own
transaction. Checkout.external_id and Report.external_id are that reference. Report.raw is the
event without the card authorization's reusable ``authorization_code`` and ``signature``.

There is no maintained official Python SDK (PaystackOSS/paystack-python is an unmaintained,
Python 2-era generated client that keeps one key for the whole process), so the calls go through
billing.gateways.jsonhttp with timeouts. Optional behaviour beyond base.Gateway: ``timeout``
(seconds, an instance attribute) bounds every HTTP call; ``checkout_origins`` names the origins
the customer is redirected to (for the CSP ``form-action`` of the page whose form leads there);
``configured`` is False while a setting
is missing or wrong, and ``problem`` says what.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .base import (
    TIMEOUT_SECONDS,
    BadNotification,
    Checkout,
    Field,
    GatewayError,
    Incoming,
    LookupRequest,
    Outcome,
    Reply,
    Report,
    StartRequest,
    same,
)
from .jsonhttp import JsonClient, short
from .sources import origin_of, parse_sources, source_allowed

logger = logging.getLogger(__name__)

API_URL = "https://api.paystack.co"
WEBHOOK_IPS = ("52.31.139.75", "52.49.173.169", "52.214.14.220")
CHECKOUT_ORIGINS = ("https://checkout.paystack.com",)  # authorization_url
# Every currency Paystack charges in counts hundredths (kobo, pesewas, cents).
CURRENCIES = ("NGN", "GHS", "ZAR", "KES", "USD")
SUBUNITS = 100
CHANNELS = ("card", "bank", "ussd", "qr", "eft", "mobile_money", "bank_transfer")
REFERENCE = re.compile(r"dep-(\d{1,18})-[0-9a-f]{12}")
SIGNATURE = re.compile(r"[0-9a-f]{128}")

VERIFY_OUTCOMES = {
    "success": Outcome.PAID,
    "failed": Outcome.FAILED,
    "abandoned": Outcome.PENDING,  # the customer left Checkout; the transaction can still be paid
    "ongoing": Outcome.PENDING,
    "pending": Outcome.PENDING,
    "processing": Outcome.PENDING,
    "queued": Outcome.PENDING,
    "reversed": Outcome.REFUNDED,
}


def subunits(amount: Decimal, currency: str) -> int:
    """``amount`` in the currency's subunit, as Paystack takes it; GatewayError for a currency
    Paystack does not charge in, an amount that is not positive or one finer than a subunit."""
    code = currency.upper()
    if code not in CURRENCIES:
        raise GatewayError(
            _("Paystack does not charge in %(currency)s (it charges in %(list)s).")
            % {"currency": currency, "list": ", ".join(CURRENCIES)}
        )
    if not amount.is_finite() or amount <= 0:
        raise GatewayError(_("The amount must be more than zero."))
    value = amount * SUBUNITS
    if value != value.to_integral_value():
        raise GatewayError(
            _("%(amount)s %(currency)s has more decimals than the currency allows.")
            % {"amount": amount, "currency": code}
        )
    return int(value)


def major(value: Any) -> Decimal:
    """A Paystack amount (an integer, or a string of digits in refunds) in major units."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise BadNotification("An amount in the event is not a whole number of subunits.")
    return Decimal(int(value)) / SUBUNITS


def safe_copy(event: dict[str, Any]) -> dict[str, Any]:
    """The event without what could charge the card again (authorization_code, signature)."""
    copy = json.loads(json.dumps(event))

    def scrub(node: Any) -> None:
        if isinstance(node, dict):
            authorization = node.get("authorization")
            if isinstance(authorization, dict):
                for name in ("authorization_code", "signature"):
                    authorization.pop(name, None)
            for value in node.values():
                scrub(value)
        elif isinstance(node, list):
            for value in node:
                scrub(value)

    scrub(copy)
    return copy


class PaystackGateway:
    code: ClassVar[str] = "paystack"
    label: ClassVar[str] = "Paystack"
    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "secret_key",
            gettext_lazy("Secret key"),
            secret=True,
            help=gettext_lazy("Paystack dashboard → Settings → API Keys & Webhooks: sk_live_… (sk_test_… to test)."),
        ),
        Field(
            "channels",
            gettext_lazy("Channels"),
            required=False,
            help=gettext_lazy("Optional, comma-separated: card, bank, ussd, qr, eft, mobile_money, bank_transfer."),
        ),
        Field(
            "webhook_ips",
            gettext_lazy("Webhook source addresses"),
            required=False,
            help=gettext_lazy(
                "Empty: Paystack's published 52.31.139.75, 52.49.173.169, 52.214.14.220. * turns it off."
            ),
        ),
    )
    currencies: ClassVar[tuple[str, ...]] = CURRENCIES
    can_lookup: ClassVar[bool] = True
    can_test: ClassVar[bool] = True

    def __init__(self, config: dict[str, str], *, base_url: str | None = None) -> None:
        self._secret = (config.get("secret_key") or "").strip()
        self.channels = [item.strip().lower() for item in (config.get("channels") or "").split(",") if item.strip()]
        self.webhook_ips = config.get("webhook_ips") or ""
        self.base_url = (base_url or API_URL).rstrip("/")
        self.timeout: float = TIMEOUT_SECONDS
        self.problem = self._settings_problem()
        # Where the customer is sent to pay: the add-funds form's answer redirects there, and
        # browsers check that redirect against the page's CSP form-action.
        self.checkout_origins: tuple[str, ...] = (origin_of(base_url),) if base_url else CHECKOUT_ORIGINS

    def _settings_problem(self) -> str:
        """What is wrong with the settings ('' when nothing is): the backoffice shows it and the
        method is not offered meanwhile (``configured``)."""
        if self._secret and not self._secret.startswith(("sk_test_", "sk_live_")):
            return _("The secret key starts with sk_test_ or sk_live_ (the public key, pk_…, is not it).")
        unknown = [channel for channel in self.channels if channel not in CHANNELS]
        if unknown:
            return _("Unknown Paystack channel: %(list)s.") % {"list": ", ".join(unknown)}
        try:
            parse_sources(self.webhook_ips, WEBHOOK_IPS)
        except ValueError:
            return _("The webhook source addresses must be IP addresses or networks (or *).")
        return ""

    @property
    def configured(self) -> bool:
        """Optional beyond base.Gateway: False while a setting is missing or wrong (see problem)."""
        return not self.problem and bool(self._secret)

    def __repr__(self) -> str:
        return "<PaystackGateway>"

    # ----------------------------------------------------------------------------- calls

    def _call(self, method: str, path: str, data: dict[str, Any] | None = None, *, safe: bool) -> tuple[int, Any]:
        if self.problem:
            raise GatewayError(self.problem)
        if not self._secret:
            raise GatewayError(_("Paystack is not configured: set the secret key."))
        body = json.dumps(data).encode() if data is not None else None
        answer = JsonClient("Paystack", self.base_url, timeout=self.timeout).call(
            method, path, body=body, headers={"Authorization": f"Bearer {self._secret}"}, safe=safe
        )
        return answer.status, answer.data

    @staticmethod
    def _error(status: int, data: Any) -> GatewayError:
        message = data.get("message") if isinstance(data, dict) else ""
        return GatewayError(
            _("Paystack refused (HTTP %(status)s): %(message)s")
            % {"status": status, "message": short(message) or _("no message")}
        )

    @staticmethod
    def _data(status: int, answer: Any) -> Any:
        if status == 200 and isinstance(answer, dict) and answer.get("status") is True and "data" in answer:
            return answer["data"]
        raise PaystackGateway._error(status, answer)

    # ----------------------------------------------------------------------------- start

    def start(self, request: StartRequest) -> Checkout:
        currency = request.currency.upper()
        amount = subunits(request.amount, currency)
        email = (request.customer_email or "").strip()
        if "@" not in email:
            raise GatewayError(_("Paystack needs the customer's email address."))
        if self.problem:
            raise GatewayError(self.problem)
        reference = f"dep-{request.deposit_id}-{secrets.token_hex(6)}"
        data: dict[str, Any] = {
            "email": email,
            "amount": amount,
            "currency": currency,
            "reference": reference,
            "callback_url": request.return_url,
            "metadata": {"deposit_id": str(request.deposit_id), "cancel_action": request.cancel_url},
        }
        if self.channels:
            data["channels"] = self.channels
        status, answer = self._call("POST", "/transaction/initialize", data, safe=False)
        result = self._data(status, answer)
        if not isinstance(result, dict):
            raise GatewayError(_("Paystack answered without a checkout."))
        url = result.get("authorization_url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise GatewayError(_("Paystack answered without a checkout address."))
        if result.get("reference") not in (None, reference):
            raise GatewayError(_("Paystack answered for another reference."))
        return Checkout(external_id=reference, redirect_url=url)

    # ----------------------------------------------------------------------------- notifications

    def verify(self, incoming: Incoming) -> list[Report]:
        if not self._secret:
            raise BadNotification("The method has no secret key.")
        try:
            networks = parse_sources(self.webhook_ips, WEBHOOK_IPS)
        except ValueError:
            raise BadNotification("The webhook source addresses setting is not a list of addresses.") from None
        if not source_allowed(incoming.remote_addr, networks):
            raise BadNotification(f"Event from {incoming.remote_addr or 'an unknown address'}, not Paystack's.")
        given = (incoming.headers.get("x-paystack-signature") or "").strip()
        if not given:
            raise BadNotification("The event has no x-paystack-signature.")
        expected = hmac.new(self._secret.encode(), incoming.body, hashlib.sha512).hexdigest()
        if not SIGNATURE.fullmatch(given.lower()) or not same(expected, given.lower()):
            raise BadNotification("The event's signature is wrong.")
        try:
            event = json.loads(incoming.body)
        except (ValueError, UnicodeDecodeError):
            raise BadNotification("The event is not JSON.") from None
        if (
            not isinstance(event, dict)
            or not isinstance(event.get("event"), str)
            or not isinstance(event.get("data"), dict)
        ):
            raise BadNotification("The event is not a Paystack event.")
        name, data = event["event"], event["data"]
        raw = safe_copy(event)
        if name == "charge.success":
            return [self._charge(data, raw)]
        if name == "refund.processed":
            return [self._refund(data, raw)]
        if name == "charge.dispute.create":
            return [self._dispute(data, raw)]
        reference = data.get("reference") if isinstance(data.get("reference"), str) else ""
        key = data.get("id") or reference or hashlib.sha256(incoming.body).hexdigest()[:24]
        return [
            Report(
                outcome=Outcome.IGNORED,
                deposit_id=self.deposit_of(reference),
                event_id=f"{name}:{key}",
                external_id=reference,
                note=short(f"Paystack {name}", 100),
                raw=raw,
            )
        ]

    def deposit_of(self, reference: Any, metadata: Any = None) -> int | None:
        """Our deposit ID from a reference we made (None for another one). metadata.deposit_id,
        when the event carries it, must say the same."""
        match = REFERENCE.fullmatch(reference) if isinstance(reference, str) else None
        if match is None:
            return None
        deposit_id = int(match.group(1))
        if isinstance(metadata, str) and metadata.strip().startswith("{"):
            try:
                metadata = json.loads(metadata)
            except ValueError:
                metadata = None
        if isinstance(metadata, dict) and "deposit_id" in metadata and str(metadata["deposit_id"]) != str(deposit_id):
            raise BadNotification("The reference and metadata.deposit_id name different deposits.")
        return deposit_id

    @staticmethod
    def _received(data: dict[str, Any]) -> Decimal:
        amount = major(data.get("amount"))
        requested = data.get("requested_amount")
        if requested is not None:
            # With fees passed on to the customer, amount holds the fee too; the goods cost requested_amount.
            amount = min(amount, major(requested))
        return amount

    def _charge(self, data: dict[str, Any], raw: dict[str, Any]) -> Report:
        transaction_id = data.get("id")
        reference = data.get("reference")
        currency = data.get("currency")
        if isinstance(transaction_id, bool) or not isinstance(transaction_id, int | str) or not str(transaction_id):
            raise BadNotification("The charge has no transaction id.")
        if not isinstance(reference, str) or not isinstance(currency, str):
            raise BadNotification("The charge has no reference or currency.")
        deposit_id = self.deposit_of(reference, data.get("metadata"))
        status = data.get("status")
        outcome = Outcome.PAID if status == "success" else Outcome.IGNORED
        if deposit_id is None:
            outcome = Outcome.IGNORED  # a charge of the account that is not one of our deposits
        return Report(
            outcome=outcome,
            deposit_id=deposit_id,
            event_id=f"charge.success:{transaction_id}",
            transaction_id=str(transaction_id),
            external_id=reference,
            amount=self._received(data),
            currency=currency.upper(),
            note=short(f"Paystack charge.success via {data.get('channel') or 'unknown channel'}", 200),
            raw=raw,
        )

    def _refund(self, data: dict[str, Any], raw: dict[str, Any]) -> Report:
        reference = data.get("transaction_reference")
        currency = data.get("currency")
        if not isinstance(reference, str) or not isinstance(currency, str):
            raise BadNotification("The refund has no transaction reference or currency.")
        amount = major(data.get("amount"))
        refund = data.get("refund_reference") or data.get("id") or f"{reference}:{data.get('amount')}"
        deposit_id = self.deposit_of(reference)
        return Report(
            outcome=Outcome.REFUNDED if deposit_id is not None else Outcome.IGNORED,
            deposit_id=deposit_id,
            event_id=f"refund.processed:{refund}",
            transaction_id=f"refund:{refund}",
            external_id=reference,
            amount=amount,
            currency=currency.upper(),
            note=short(f"Paystack refund {refund} processed", 200),
            raw=raw,
        )

    def _dispute(self, data: dict[str, Any], raw: dict[str, Any]) -> Report:
        transaction = data.get("transaction")
        dispute_id = data.get("id")
        if not isinstance(transaction, dict) or dispute_id is None:
            raise BadNotification("The dispute has no transaction or id.")
        reference = transaction.get("reference")
        currency = data.get("currency") or transaction.get("currency")
        if not isinstance(reference, str) or not isinstance(currency, str):
            raise BadNotification("The dispute's transaction has no reference or currency.")
        disputed = data.get("refund_amount")
        amount = major(disputed) if disputed is not None else self._received(transaction)
        deposit_id = self.deposit_of(reference, transaction.get("metadata"))
        return Report(
            outcome=Outcome.CHARGEBACK if deposit_id is not None else Outcome.IGNORED,
            deposit_id=deposit_id,
            event_id=f"charge.dispute.create:{dispute_id}",
            transaction_id=f"dispute:{dispute_id}",
            external_id=reference,
            amount=amount,
            currency=currency.upper(),
            note=short(f"Paystack dispute {dispute_id} ({data.get('category') or 'dispute'}) opened", 200),
            raw=raw,
        )

    def reply(self, reports: list[Report] | None, error: BadNotification | None = None) -> Reply:
        # Paystack wants a 200 OK and resends until it gets one.
        if error is not None:
            return Reply(status=400, body="invalid event")
        return Reply(status=200, body="ok")

    # ----------------------------------------------------------------------------- server to server

    def lookup(self, request: LookupRequest) -> Report | None:
        reference = request.external_id
        if not reference:
            return None  # every checkout has its own reference; without it there is nothing to ask
        status, answer = self._call("GET", f"/transaction/verify/{quote(reference, safe='')}", safe=True)
        message = str(answer.get("message") or "") if isinstance(answer, dict) else ""
        if status == 404 or (status == 400 and "not found" in message.lower()):
            return None
        data = self._data(status, answer)
        if not isinstance(data, dict):
            raise GatewayError(_("Paystack answered without the transaction."))
        state = str(data.get("status") or "")
        outcome = VERIFY_OUTCOMES.get(state, Outcome.IGNORED)
        transaction_id = str(data.get("id") or "")
        try:
            deposit_id = self.deposit_of(data.get("reference"), data.get("metadata"))
            amount = self._received(data)
        except BadNotification as error:
            raise GatewayError(_("Paystack's answer is inconsistent: %(error)s") % {"error": error}) from None
        return Report(
            outcome=outcome,
            deposit_id=deposit_id,
            # The same event ID as the charge.success webhook, so one payment is one event.
            event_id=f"charge.success:{transaction_id}"
            if outcome is Outcome.PAID
            else f"verify:{transaction_id}:{state}",
            transaction_id=transaction_id,
            external_id=str(data.get("reference") or reference),
            amount=amount,
            currency=str(data.get("currency") or "").upper(),
            note=short(f"Paystack transaction {state}: {data.get('gateway_response') or ''}".strip(), 200),
            raw=safe_copy(data),
        )

    def test_connection(self) -> str:
        status, answer = self._call("GET", "/balance", safe=True)
        balances = self._data(status, answer)
        try:
            parts = [f"{major(item['balance']):,.2f} {item['currency']}" for item in balances]
        except (TypeError, KeyError, BadNotification):
            raise GatewayError(_("Paystack answered the balance call in an unexpected shape.")) from None
        return str(_("Connected to Paystack. Balance: %(list)s.") % {"list": ", ".join(parts) or _("none")})
