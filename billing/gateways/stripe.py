"""Stripe Checkout, through the official Stripe SDK, on the gateway interface (billing.gateways.base).

Settings: the method's ``secret_key`` and ``webhook_secret``; each falls back to the
STRIPE_SECRET_KEY / STRIPE_WEBHOOK_SECRET environment variables when the method leaves it empty.

- start: a one-line Checkout Session (mode=payment) for the charge amount; the customer is
  redirected to its URL. Our deposit ID travels as client_reference_id and metadata.deposit_id.
- verify: Stripe's signature header (t=..., v1=HMAC-SHA256 of "<t>.<body>", five minutes'
  tolerance) checked by ``stripe.Webhook.construct_event``; checkout.session.completed (when
  paid), async_payment_succeeded/failed and expired become reports; charge.refunded and
  charge.dispute.created become REFUNDED / CHARGEBACK reports after looking the Checkout Session
  up by its PaymentIntent (the charge does not carry our metadata).
- lookup: retrieves the Checkout Session.
- transaction_id: the Checkout Session ID (one session pays once), so the ledger key is
  ``stripe:<session id>``, the key earlier versions used. A refund's is the refund's ID (re_...,
  from the charge's ``refunds`` list; without it the charge ID and its new refunded total) with
  that refund's amount; a dispute's is the dispute's ID (dp_...).

The secret key is handed to a StripeClient per call (never to the SDK's global ``stripe.api_key``)
and never logged; errors are reported by their class and Stripe's user message, which carry no key.
"""

from __future__ import annotations

import json
from decimal import Decimal

import stripe
from django.conf import settings

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
)

# Currencies whose smallest unit is the unit itself, and those with three decimals
# (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL = {
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
}  # fmt: skip
THREE_DECIMAL = {"BHD", "JOD", "KWD", "OMR", "TND"}

SESSION_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}


def exponent(code: str) -> int:
    code = code.upper()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def minor_units(amount: Decimal, code: str) -> int:
    """The amount in the currency's smallest unit, as Stripe counts it (cents for USD)."""
    value = amount.scaleb(exponent(code))
    if value != value.to_integral_value():
        raise GatewayError(f"{amount} {code.upper()} has more decimals than the currency allows.")
    return int(value)


def major_units(value: int, code: str) -> Decimal:
    return Decimal(int(value)).scaleb(-exponent(code))


def amount_decimals(code: str) -> int:
    return 0 if code.upper() in ZERO_DECIMAL else 2


class StripeGateway:
    code = "stripe"
    label = "Stripe"
    fields = (
        Field("secret_key", "Secret key", secret=True, required=False, help="sk_live_… (empty: STRIPE_SECRET_KEY)"),
        Field(
            "webhook_secret",
            "Webhook signing secret",
            secret=True,
            required=False,
            help="whsec_… of the endpoint registered at this method's notify URL (empty: STRIPE_WEBHOOK_SECRET)",
        ),
    )
    currencies: tuple[str, ...] = ()
    can_lookup = True
    can_test = True

    def __init__(self, config: dict[str, str], *, base_url: str | None = None) -> None:
        self.secret_key = config.get("secret_key") or getattr(settings, "STRIPE_SECRET_KEY", "") or ""
        self.webhook_secret = config.get("webhook_secret") or getattr(settings, "STRIPE_WEBHOOK_SECRET", "") or ""
        self.base_url = base_url

    @property
    def configured(self) -> bool:
        return bool(self.secret_key and self.webhook_secret)

    def _client(self) -> stripe.StripeClient:
        if not self.secret_key:
            raise GatewayError("Stripe is not configured: no secret key.")
        extra = {"base_addresses": {"api": self.base_url}} if self.base_url else {}
        return stripe.StripeClient(
            self.secret_key,
            http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
            max_network_retries=2,
            **extra,
        )

    @staticmethod
    def _error(error: stripe.StripeError) -> GatewayError:
        return GatewayError(f"{type(error).__name__}: {error.user_message or 'Stripe refused the request.'}")

    # --- Starting a payment --------------------------------------------------------------------

    def start(self, request: StartRequest) -> Checkout:
        """A Checkout Session for the charge amount; the idempotency key is our deposit ID, so the
        SDK's retries (and ours) reuse one session."""
        params: dict = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": minor_units(request.amount, request.currency),
                        "product_data": {"name": request.description},
                    },
                }
            ],
            "client_reference_id": str(request.deposit_id),
            "metadata": {"deposit_id": str(request.deposit_id)},
            "payment_intent_data": {"metadata": {"deposit_id": str(request.deposit_id)}},
            "success_url": request.return_url,
            "cancel_url": request.cancel_url,
        }
        if request.customer_email:
            params["customer_email"] = request.customer_email
        try:
            session = self._client().v1.checkout.sessions.create(
                params=params, options={"idempotency_key": f"checkout-session:{request.deposit_id}"}
            )
        except stripe.StripeError as error:
            raise self._error(error) from None
        return Checkout(external_id=session.id, redirect_url=session.url or "")

    # --- Notifications -------------------------------------------------------------------------

    def verify(self, incoming: Incoming) -> list[Report]:
        if not self.webhook_secret:
            raise BadNotification("Stripe webhook secret is not configured.")
        try:
            stripe.Webhook.construct_event(
                incoming.body, incoming.headers.get("stripe-signature", ""), self.webhook_secret
            )
            event = json.loads(incoming.body)
        except (stripe.SignatureVerificationError, ValueError) as error:
            raise BadNotification(f"Stripe signature refused: {type(error).__name__}") from None
        if (
            not isinstance(event, dict)
            or not isinstance(event.get("id"), str)
            or not isinstance(event.get("type"), str)
        ):
            raise BadNotification("Not a Stripe event.")
        obj = (event.get("data") or {}).get("object") or {}
        kind = event["type"]
        if kind in SESSION_EVENTS and obj.get("object") == "checkout.session" and obj.get("id"):
            return [self._session_report(obj, event_id=event["id"], event_type=kind, raw=event)]
        if kind == "charge.refunded" and obj.get("object") == "charge":
            reference, minor = self._refund_of(obj, event)
            return [self._reversal_report(obj, Outcome.REFUNDED, event, minor, reference)]
        if kind == "charge.dispute.created" and obj.get("object") == "dispute":
            return [self._reversal_report(obj, Outcome.CHARGEBACK, event, obj.get("amount"), str(obj.get("id") or ""))]
        return [Report(outcome=Outcome.IGNORED, deposit_id=None, event_id=event["id"], note=kind[:100], raw=event)]

    def _session_report(self, session: dict, *, event_id: str, event_type: str, raw: dict) -> Report:
        reference = (session.get("metadata") or {}).get("deposit_id") or session.get("client_reference_id") or ""
        # Sessions created before the gateway interface carried metadata.payment_id.
        reference = reference or (session.get("metadata") or {}).get("payment_id") or ""
        deposit_id = int(reference) if str(reference).isdigit() else None
        currency = str(session.get("currency") or "").upper()
        total = session.get("amount_total")
        amount = major_units(total, currency) if isinstance(total, int) and currency else None
        paid = session.get("payment_status") in ("paid", "no_payment_required")
        if event_type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
            outcome = Outcome.PAID if paid else Outcome.PENDING
        elif event_type == "checkout.session.expired":
            outcome = Outcome.EXPIRED
        elif event_type == "checkout.session.async_payment_failed":
            outcome = Outcome.FAILED
        else:  # a lookup: the session's state as it is now
            outcome = (
                Outcome.PAID
                if paid and session.get("status") == "complete"
                else Outcome.EXPIRED
                if session.get("status") == "expired"
                else Outcome.PENDING
            )
        return Report(
            outcome=outcome,
            deposit_id=deposit_id,
            event_id=event_id,
            transaction_id=session["id"] if outcome == Outcome.PAID else "",
            external_id=session["id"],
            amount=amount,
            currency=currency,
            note=f"{event_type} ({session.get('payment_status')})"[:200],
            raw=raw,
        )

    @staticmethod
    def _refund_of(charge: dict, event: dict) -> tuple[str, object]:
        """(refund ID, amount in minor units) of the refund this charge.refunded event announces.

        The charge's ``amount_refunded`` is the total of every refund so far, so it is not this
        refund's amount once there were two. The charge's ``refunds`` list (newest first, when the
        API version includes it) names the refund and its amount; without it, the event's
        ``previous_attributes.amount_refunded`` gives the total before, and the reference is the
        charge with its new total (one per refund)."""
        refunds = charge.get("refunds")
        latest = (refunds.get("data") or [None])[0] if isinstance(refunds, dict) else None
        if isinstance(latest, dict) and isinstance(latest.get("id"), str) and isinstance(latest.get("amount"), int):
            return latest["id"], latest["amount"]
        total = charge.get("amount_refunded")
        before = ((event.get("data") or {}).get("previous_attributes") or {}).get("amount_refunded")
        minor = total - before if isinstance(total, int) and isinstance(before, int) and total > before else total
        return f"{charge.get('id')}:refunded:{total}", minor

    def _reversal_report(self, obj: dict, outcome: Outcome, event: dict, minor: object, money_id: str) -> Report:
        currency = str(obj.get("currency") or "").upper()
        amount = major_units(minor, currency) if isinstance(minor, int) and currency else None
        session = self._session_for_intent(str(obj.get("payment_intent") or ""))
        deposit_id, session_id = None, ""
        if session is not None:
            session_id = session.get("id") or ""
            reference = (session.get("metadata") or {}).get("deposit_id") or session.get("client_reference_id") or ""
            deposit_id = int(reference) if str(reference).isdigit() else None
        return Report(
            outcome=outcome,
            deposit_id=deposit_id,
            event_id=event["id"],
            transaction_id=money_id[:255],
            external_id=session_id,
            amount=amount,
            currency=currency,
            note=f"{event['type']} on {obj.get('id')}"[:200],
            raw=event,
        )

    def _session_for_intent(self, payment_intent: str) -> dict | None:
        """The Checkout Session that created this PaymentIntent (GET /v1/checkout/sessions?payment_intent=)."""
        if not payment_intent:
            return None
        try:
            found = self._client().v1.checkout.sessions.list(params={"payment_intent": payment_intent, "limit": 1})
        except stripe.StripeError as error:
            raise BadNotification(f"Stripe lookup failed: {type(error).__name__}") from None
        sessions = [s.to_dict() if hasattr(s, "to_dict") else dict(s) for s in found.data]
        return sessions[0] if sessions else None

    def reply(self, reports: list[Report] | None, error: BadNotification | None = None) -> Reply:
        if error is not None:
            return Reply(status=400, body="bad signature\n")
        return Reply(status=200, body="ok\n")

    # --- Server to server ----------------------------------------------------------------------

    def lookup(self, request: LookupRequest) -> Report | None:
        if not request.external_id:
            return None
        try:
            session = self._client().v1.checkout.sessions.retrieve(request.external_id)
        except stripe.StripeError as error:
            raise self._error(error) from None
        data = session.to_dict() if hasattr(session, "to_dict") else dict(session)
        state = f"{data.get('status')}/{data.get('payment_status')}"
        return self._session_report(
            data, event_id=f"lookup:{data.get('id')}:{state}", event_type="lookup", raw={"session": data}
        )

    def test_connection(self) -> str:
        try:
            balance = self._client().v1.balance.retrieve()
        except stripe.StripeError as error:
            raise self._error(error) from None
        mode = "live" if getattr(balance, "livemode", False) else "test"
        return f"Connected to Stripe ({mode} mode)."
