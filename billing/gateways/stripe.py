"""A thin wrapper over the official Stripe SDK: configuration, Checkout Session creation, and
webhook verification. No database here; billing.services decides what the answers mean.

The secret key is handed to a StripeClient per call (never to the SDK's global `stripe.api_key`)
and never logged; errors are reported by their class and Stripe's message, which carry no key.
"""

import json
from dataclasses import dataclass
from decimal import Decimal

import stripe
from django.conf import settings

# Currencies whose smallest unit is the unit itself, and those with three decimals
# (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL = {
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
}  # fmt: skip
THREE_DECIMAL = {"BHD", "JOD", "KWD", "OMR", "TND"}
TIMEOUT_SECONDS = 20


class GatewayError(Exception):
    """Stripe refused or could not be reached; the message is safe to show to staff."""


def secret_key() -> str:
    return getattr(settings, "STRIPE_SECRET_KEY", "") or ""


def webhook_secret() -> str:
    return getattr(settings, "STRIPE_WEBHOOK_SECRET", "") or ""


def configured() -> bool:
    return bool(secret_key() and webhook_secret())


def min_amount() -> Decimal:
    """The floor for every card payment, whatever the method row says."""
    return Decimal(str(getattr(settings, "STRIPE_MIN_AMOUNT", "1") or "1"))


def currency() -> str:
    return settings.PANEL_CURRENCY.upper()


def minor_units(amount: Decimal, code: str) -> int:
    """The amount in the currency's smallest unit, as Stripe counts it (cents for USD)."""
    code = code.upper()
    exponent = 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2
    value = amount.scaleb(exponent)
    if value != value.to_integral_value():
        raise GatewayError(f"{amount} {code} has more decimals than the currency allows.")
    return int(value)


def amount_decimals(code: str) -> int:
    return 0 if code.upper() in ZERO_DECIMAL else 2


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


def _client() -> stripe.StripeClient:
    return stripe.StripeClient(
        secret_key(),
        http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
        max_network_retries=2,
    )


def checkout_session_create(
    *,
    payment_id: int,
    amount: Decimal,
    currency_code: str,
    description: str,
    success_url: str,
    cancel_url: str,
    customer_email: str = "",
) -> CheckoutSession:
    """Create a one-line Checkout Session for `amount`. Call it outside any database transaction.

    The idempotency key is our payment ID, so the SDK's retries (and ours) reuse one session.
    """
    params: dict = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency_code.lower(),
                    "unit_amount": minor_units(amount, currency_code),
                    "product_data": {"name": description},
                },
            }
        ],
        "client_reference_id": str(payment_id),
        "metadata": {"payment_id": str(payment_id)},
        "payment_intent_data": {"metadata": {"payment_id": str(payment_id)}},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    if customer_email:
        params["customer_email"] = customer_email
    try:
        session = _client().v1.checkout.sessions.create(
            params=params, options={"idempotency_key": f"checkout-session:{payment_id}"}
        )
    except stripe.StripeError as error:
        raise GatewayError(f"{type(error).__name__}: {error.user_message or 'Stripe refused the request.'}") from None
    return CheckoutSession(id=session.id, url=session.url)


class BadSignature(Exception):
    pass


def event_verify(*, payload: bytes, signature: str) -> dict:
    """The event, as a plain dict, if Stripe signed this exact body with our webhook secret.

    Raises BadSignature for a missing or wrong signature, a stale timestamp, or a body that is
    not a JSON event.
    """
    try:
        stripe.Webhook.construct_event(payload, signature, webhook_secret())
        # Stored and read as the raw JSON Stripe sent, not the SDK's object.
        data = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError) as error:
        raise BadSignature(str(error)) from None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not isinstance(data.get("type"), str):
        raise BadSignature("Not an event.")
    return data
