"""PayPal Checkout through the Orders v2 REST API, with webhooks verified by PayPal itself.

The flow:

- ``start`` gets an OAuth 2.0 access token (client credentials, ``POST /v1/oauth2/token``,
  cached per app until shortly before ``expires_in``) and creates an order
  (``POST /v2/checkout/orders``, intent ``CAPTURE``) whose one purchase unit carries our deposit ID
  as ``reference_id``, ``custom_id`` and ``invoice_id`` (the latter behind the optional
  ``invoice_prefix``), the amount as a string with exactly the currency's decimals, and
  ``payment_source.paypal.experience_context`` with the return and cancel URLs. The customer is
  sent to the order's ``payer-action`` link (``approve`` on older answers).
- Money moves only when we capture: ``POST /v2/checkout/orders/{id}/capture`` with the header
  ``PayPal-Request-Id: capture-<order id>``, so every capture attempt (the return's lookup, the
  sweep, the ``CHECKOUT.ORDER.APPROVED`` webhook, and their retries) is the same request for
  PayPal, which answers repeats with the first result. A ``COMPLETED`` capture is ``PAID`` with
  the capture ID as ``transaction_id``.
- Webhooks are verified with PayPal's documented postback, ``POST
  /v1/notifications/verify-webhook-signature`` (auth_algo, cert_url, transmission_id,
  transmission_sig, transmission_time from the ``PAYPAL-*`` headers, our ``webhook_id``, and the
  event). PayPal checks its RSA signature over ``transmission_id|transmission_time|webhook_id|
  crc32(body)``, so the event is sent back byte for byte as it arrived (re-serialising it changes
  the CRC and fails verification). Because the signed string holds our webhook ID, an event sent
  to another webhook (another app, another panel) fails here too. ``verify()`` therefore makes
  remote calls; the notify view runs it outside any transaction. When PayPal cannot be reached
  it raises ``GatewayError`` (not ``BadNotification``): the view should answer 5xx so PayPal
  delivers again (it retries up to 25 times over 3 days).

Events and what they report (``event_id`` is always the webhook event's ``id``):

- ``CHECKOUT.ORDER.APPROVED``: we capture, then report the capture (PAID / PENDING / FAILED);
- ``PAYMENT.CAPTURE.COMPLETED`` → PAID, ``PAYMENT.CAPTURE.PENDING`` → PENDING,
  ``PAYMENT.CAPTURE.DENIED`` / ``DECLINED`` → FAILED (transaction_id: the capture ID);
- ``PAYMENT.CAPTURE.REFUNDED`` → REFUNDED and ``PAYMENT.CAPTURE.REVERSED`` → CHARGEBACK
  (transaction_id: the refund/reversal ID; amount: how much went back);
- ``CUSTOMER.DISPUTE.CREATED`` → CHARGEBACK (transaction_id: the dispute ID; amount: disputed);
- anything else that verifies → IGNORED.

For refunds, reversals and disputes the deposit ID comes from the resource's ``custom_id`` (or the
dispute's ``custom``); when PayPal leaves it out we read the original capture
(``GET /v2/payments/captures/{id}``). ``raw["capture_id"]`` then names the original capture.

Optional behaviour beyond billing.gateways.base (for the core and the tests):

- ``timeout`` (instance attribute, seconds; default base.TIMEOUT_SECONDS) bounds every call;
- ``configured`` (False while a setting is missing or invalid; ``problem`` says which) instead of
  raising from ``__init__``, so listing methods never fails on a bad setting;
- ``checkout_origins``: where the customer is redirected (www.paypal.com or
  www.sandbox.paypal.com), for the CSP ``form-action`` of the page whose form leads there;
- settings ``notify_ips`` (addresses/networks allowed to post notifications; empty: any, since
  PayPal does not promise fixed webhook addresses), ``invoice_prefix`` (so several panels can
  share one PayPal account without DUPLICATE_INVOICE_ID) and ``brand_name``;
- ``lookup`` reports EXPIRED when PayPal no longer knows our order (unapproved orders expire).

Why the panel's JSON client (billing.gateways.jsonhttp, over requests) and not PayPal's
``paypal-server-sdk`` (2.x, maintained): the SDK has no Webhooks API (no verify-webhook-signature,
no webhook lookup), so half of the calls would still need a second HTTP stack; its base address
comes from a fixed Environment table (pointing it at a local fake means overriding internals);
and it pulls in the apimatic runtime and python-dotenv for the two calls we would use it for.

Docs followed: https://developer.paypal.com/api/rest/authentication/,
https://developer.paypal.com/docs/api/orders/v2/ (create, get, capture; PayPal-Request-Id),
https://developer.paypal.com/api/rest/webhooks/rest/ (listener, postback verification),
https://developer.paypal.com/api/webhooks/v1/#verify-webhook-signature_post,
https://developer.paypal.com/api/rest/webhooks/event-names/,
https://developer.paypal.com/docs/api/payments/v2/#captures_get,
https://developer.paypal.com/api/rest/reference/currency-codes/ and the OpenAPI files in
github.com/paypal/paypal-rest-api-specifications.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import ClassVar
from urllib.parse import urlsplit

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import base
from .base import BadNotification, Checkout, Field, GatewayError, Incoming, Outcome, Reply, Report
from .jsonhttp import Answer, JsonClient, short
from .sources import origin_of, parse_sources, source_allowed

LIVE_URL = "https://api-m.paypal.com"
SANDBOX_URL = "https://api-m.sandbox.paypal.com"
# Where the order's payer-action (approve) link sends the customer, per mode.
CHECKOUT_ORIGINS = {"live": ("https://www.paypal.com",), "sandbox": ("https://www.sandbox.paypal.com",)}

# https://developer.paypal.com/api/rest/reference/currency-codes/ : the currencies REST payments
# accept; HUF, JPY and TWD "do not support decimals".
CURRENCIES = (
    "AUD", "BRL", "CAD", "CNY", "CZK", "DKK", "EUR", "HKD", "HUF", "ILS", "INR", "JPY", "MYR", "MXN",
    "TWD", "NZD", "NOK", "PHP", "PLN", "GBP", "SGD", "SEK", "CHF", "THB", "USD",
)  # fmt: skip
ZERO_DECIMAL = {"HUF", "JPY", "TWD"}

# The events the owner subscribes the webhook to (docs/payments/paypal.md).
EVENTS = (
    "CHECKOUT.ORDER.APPROVED",
    "PAYMENT.CAPTURE.COMPLETED",
    "PAYMENT.CAPTURE.PENDING",
    "PAYMENT.CAPTURE.DENIED",
    "PAYMENT.CAPTURE.DECLINED",
    "PAYMENT.CAPTURE.REFUNDED",
    "PAYMENT.CAPTURE.REVERSED",
    "CUSTOMER.DISPUTE.CREATED",
)
CAPTURE_OUTCOMES = {
    "COMPLETED": Outcome.PAID,
    "PARTIALLY_REFUNDED": Outcome.PAID,
    "PENDING": Outcome.PENDING,
    "DECLINED": Outcome.FAILED,
    "DENIED": Outcome.FAILED,
    "FAILED": Outcome.FAILED,
}
CAPTURE_EVENTS = {
    "PAYMENT.CAPTURE.COMPLETED": Outcome.PAID,
    "PAYMENT.CAPTURE.PENDING": Outcome.PENDING,
    "PAYMENT.CAPTURE.DENIED": Outcome.FAILED,
    "PAYMENT.CAPTURE.DECLINED": Outcome.FAILED,
}
REFUND_EVENTS = {"PAYMENT.CAPTURE.REFUNDED": Outcome.REFUNDED, "PAYMENT.CAPTURE.REVERSED": Outcome.CHARGEBACK}
SIGNATURE_HEADERS = {
    "auth_algo": "paypal-auth-algo",
    "cert_url": "paypal-cert-url",
    "transmission_id": "paypal-transmission-id",
    "transmission_sig": "paypal-transmission-sig",
    "transmission_time": "paypal-transmission-time",
}
# Capture refusals after which the same order can still be paid (the payer picks another funding
# source or PayPal is still finishing it): reported PENDING, not FAILED.
RETRYABLE_CAPTURE_ISSUES = {"ORDER_NOT_APPROVED", "ORDER_COMPLETION_IN_PROGRESS", "PAYER_ACTION_REQUIRED"}
TOKEN_MARGIN_SECONDS = 120

_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def wire_amount(amount: Decimal, currency: str) -> str:
    """The amount as PayPal's ``value`` string: exactly the currency's decimals ("10.50", "1000")."""
    currency = currency.upper()
    if currency not in CURRENCIES:
        raise GatewayError(_("PayPal does not charge in %(currency)s.") % {"currency": currency})
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise GatewayError(_("The amount must be a positive number."))
    places = 0 if currency in ZERO_DECIMAL else 2
    exact = amount.quantize(Decimal(1).scaleb(-places))
    if exact != amount:
        raise GatewayError(
            _("%(amount)s %(currency)s has more decimals than PayPal allows (%(places)s).")
            % {"amount": amount, "currency": currency, "places": places}
        )
    if exact.adjusted() >= 15:
        raise GatewayError(_("The amount is too large for PayPal."))
    return f"{exact:.{places}f}"


class Malformed(Exception):
    """A PayPal resource that does not read as documented. verify() turns it into
    BadNotification, lookup() into GatewayError."""


def _money(value: object, what: str = "amount") -> tuple[Decimal, str]:
    """A PayPal ``money`` object as (Decimal, currency)."""
    if not isinstance(value, dict):
        raise Malformed(f"PayPal's {what} is missing.")
    currency, text = value.get("currency_code"), value.get("value")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency) or not isinstance(text, str):
        raise Malformed(f"PayPal's {what} is unreadable.")
    if not re.fullmatch(r"\d{1,15}(\.\d{1,3})?", text):
        raise Malformed(f"PayPal's {what} is unreadable.")
    try:
        return Decimal(text), currency
    except InvalidOperation:
        raise Malformed(f"PayPal's {what} is unreadable.") from None


def _link(links: object, *rels: str) -> str:
    for rel in rels:
        for link in links if isinstance(links, list) else ():
            if isinstance(link, dict) and link.get("rel") == rel and isinstance(link.get("href"), str):
                return link["href"]
    return ""


def _text(value: object, limit: int = 200) -> str:
    return value[:limit] if isinstance(value, str) else ""


class PayPalGateway:
    code: ClassVar[str] = "paypal"
    label: ClassVar[str] = "PayPal"
    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "client_id",
            gettext_lazy("Client ID"),
            help=gettext_lazy("From the REST app in the PayPal Developer Dashboard (Apps & Credentials)."),
        ),
        Field("client_secret", gettext_lazy("Secret"), secret=True, help=gettext_lazy("The same app's secret key.")),
        Field(
            "webhook_id",
            gettext_lazy("Webhook ID"),
            help=gettext_lazy(
                "The ID PayPal shows for the webhook you added to that app with this method's notify URL."
            ),
        ),
        Field(
            "mode",
            gettext_lazy("Mode"),
            choices=(("sandbox", gettext_lazy("Sandbox (test money)")), ("live", gettext_lazy("Live"))),
            help=gettext_lazy("Which PayPal environment the app belongs to."),
        ),
        Field(
            "brand_name",
            gettext_lazy("Brand name"),
            required=False,
            help=gettext_lazy("Shown to the payer on PayPal's pages."),
        ),
        Field(
            "invoice_prefix",
            gettext_lazy("Invoice prefix"),
            required=False,
            help=gettext_lazy(
                "Put before our deposit ID in PayPal's invoice ID; needed when shops share one PayPal account."
            ),
        ),
        Field(
            "notify_ips",
            gettext_lazy("Allowed notification addresses"),
            required=False,
            help=gettext_lazy(
                "Comma-separated IPs or networks webhooks may come from; empty: any (PayPal verifies each)."
            ),
        ),
    )
    currencies: ClassVar[tuple[str, ...]] = CURRENCIES
    can_lookup: ClassVar[bool] = True
    can_test: ClassVar[bool] = True

    def __init__(self, config: dict[str, str], *, base_url: str | None = None) -> None:
        self.client_id = (config.get("client_id") or "").strip()
        self._secret = (config.get("client_secret") or "").strip()
        self.webhook_id = (config.get("webhook_id") or "").strip()
        self.mode = (config.get("mode") or "sandbox").strip().lower()
        # Settings problems are kept, not raised: the panel builds gateways to list methods too.
        # ``configured`` says whether the method can be used; every call raises the problem.
        self.problem = ""
        if self.mode not in ("sandbox", "live"):
            self.problem = _("PayPal mode must be 'sandbox' or 'live'.")
        self.brand_name = (config.get("brand_name") or "").strip()[:127]
        self.invoice_prefix = (config.get("invoice_prefix") or "").strip()
        try:
            # Empty: any sender (PayPal verifies every event); "*" says the same.
            self.notify_networks = parse_sources(config.get("notify_ips") or "", ()) or None
        except ValueError:
            self.notify_networks = None
            self.problem = self.problem or _("Allowed notification addresses: not an IP address or network.")
        self.base_url = (base_url or (LIVE_URL if self.mode == "live" else SANDBOX_URL)).rstrip("/")
        self.checkout_origins: tuple[str, ...] = (
            (origin_of(self.base_url),) if base_url else CHECKOUT_ORIGINS.get(self.mode, ())
        )
        # Every call is safe to send again (jsonhttp's safe=True): reads, the token, the
        # verification postback, and the order create/capture calls, which carry a
        # PayPal-Request-Id.
        self.timeout: float = base.TIMEOUT_SECONDS

    def __repr__(self) -> str:
        return f"<PayPalGateway {self.mode} {self.base_url}>"

    # HTTP

    def _token_key(self) -> tuple[str, str, str]:
        return (self.base_url, self.client_id, hashlib.sha256(self._secret.encode()).hexdigest())

    @property
    def configured(self) -> bool:
        return not self.problem and bool(self.client_id and self._secret and self.webhook_id)

    def _token(self, *, fresh: bool = False) -> str:
        if self.problem:
            raise GatewayError(self.problem)
        if not self.client_id or not self._secret:
            raise GatewayError(_("PayPal client ID and secret are not set."))
        key = self._token_key()
        with _tokens_lock:
            cached = _tokens.get(key)
            if cached and not fresh and cached[1] > time.monotonic():
                return cached[0]
        basic = base64.b64encode(f"{self.client_id}:{self._secret}".encode()).decode()
        answer = self._send(
            "POST",
            "/v1/oauth2/token",
            body=b"grant_type=client_credentials",
            headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        )
        if answer.status != 200:
            raise GatewayError(self._error_message(answer, _("getting an access token")))
        data = self._json(answer)
        token, expires_in = data.get("access_token"), data.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int):
            raise GatewayError("PayPal's token answer is not what its documentation describes.")
        with _tokens_lock:
            _tokens[key] = (token, time.monotonic() + max(expires_in - TOKEN_MARGIN_SECONDS, 0))
        return token

    def _send(self, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str]) -> Answer:
        return JsonClient("PayPal", self.base_url, timeout=self.timeout).call(
            method, path, body=body, headers=headers, safe=True
        )

    def _call(self, method: str, path: str, *, body: dict | str | None = None, request_id: str = "") -> Answer:
        """An authenticated API call. A 401 with a cached token (revoked or expired early) is
        repeated once with a new token; PayPal did nothing with the refused request."""
        headers = {"Content-Type": "application/json"}
        if request_id:
            headers["PayPal-Request-Id"] = request_id
        if method == "POST":
            headers["Prefer"] = "return=representation"
        data = body if isinstance(body, str) or body is None else json.dumps(body)
        for fresh in (False, True):
            headers["Authorization"] = f"Bearer {self._token(fresh=fresh)}"
            answer = self._send(method, path, body=data.encode() if data is not None else None, headers=headers)
            if answer.status != 401:
                break
        return answer

    @staticmethod
    def _json(answer: Answer) -> dict:
        if not isinstance(answer.data, dict):
            raise GatewayError(f"PayPal answered {answer.status} with something that is not JSON.")
        return answer.data

    @staticmethod
    def _issues(answer: Answer) -> list[str]:
        details = answer.data.get("details") if isinstance(answer.data, dict) else None
        details = details if isinstance(details, list) else []
        return [d["issue"] for d in details if isinstance(d, dict) and isinstance(d.get("issue"), str)]

    @classmethod
    def _error_message(cls, answer: Answer, doing: str) -> str:
        data = answer.data if isinstance(answer.data, dict) else {}
        name = short(data.get("name") or data.get("error") or "", 60)
        issues = ", ".join(short(i, 60) for i in cls._issues(answer)[:3])
        debug_id = short(data.get("debug_id") or "", 40)
        text = _("PayPal refused %(doing)s: HTTP %(status)s") % {"doing": doing, "status": answer.status}
        if name:
            text += f" {name}"
        if issues:
            text += f" ({issues})"
        if data.get("error") == "invalid_client":
            text += _(": check the client ID and secret and the mode (sandbox or live)")
        if debug_id:
            text += f", debug id {debug_id}"
        return text + "."

    # start

    def start(self, request: base.StartRequest) -> Checkout:
        value = wire_amount(request.amount, request.currency)
        deposit = str(request.deposit_id)
        experience = {
            "return_url": request.return_url,
            "cancel_url": request.cancel_url,
            "shipping_preference": "NO_SHIPPING",
            "user_action": "PAY_NOW",
            "landing_page": "NO_PREFERENCE",
        }
        if self.brand_name:
            experience["brand_name"] = self.brand_name
        unit = {
            "reference_id": deposit,
            "custom_id": deposit,
            "invoice_id": f"{self.invoice_prefix}{deposit}"[:127],
            "amount": {"currency_code": request.currency.upper(), "value": value},
        }
        if request.description.strip():
            unit["description"] = request.description.strip()[:127]
        body = {
            "intent": "CAPTURE",
            "purchase_units": [unit],
            "payment_source": {"paypal": {"experience_context": experience}},
        }
        # Repeating a start for the same deposit gets the same order back; another panel (its own
        # notify URL) with the same deposit ID on the same PayPal app does not.
        panel = hashlib.sha256(request.notify_url.encode()).hexdigest()[:16]
        request_id = f"{self.invoice_prefix}order-{deposit}-{value}-{panel}"[:100]
        answer = self._call("POST", "/v2/checkout/orders", body=body, request_id=request_id)
        if answer.status not in (200, 201):
            raise GatewayError(self._error_message(answer, _("creating the order")))
        order = self._json(answer)
        order_id = order.get("id")
        href = _link(order.get("links"), "payer-action", "approve")
        if not isinstance(order_id, str) or not order_id or not href.startswith(("https://", "http://")):
            raise GatewayError("PayPal's order has no approval link.")
        return Checkout(external_id=order_id, redirect_url=href)

    # capture and lookup

    def _capture(self, order_id: str) -> tuple[dict | None, list[str]]:
        """Capture an approved order: (the order as PayPal answers it, []), or (None, issues)
        when PayPal refuses; the capture request ID makes every attempt the same capture."""
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", order_id):
            raise Malformed("Not a PayPal order ID.")
        answer = self._call(
            "POST", f"/v2/checkout/orders/{order_id}/capture", body={}, request_id=f"capture-{order_id}"
        )
        if answer.status in (200, 201):
            return self._json(answer), []
        if answer.status == 422:
            return None, self._issues(answer) or ["UNPROCESSABLE_ENTITY"]
        raise GatewayError(self._error_message(answer, _("capturing the order")))

    def _order(self, order_id: str) -> dict | None:
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", order_id):
            raise Malformed("Not a PayPal order ID.")
        answer = self._call("GET", f"/v2/checkout/orders/{order_id}")
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise GatewayError(self._error_message(answer, _("showing the order")))
        return self._json(answer)

    def _capture_details(self, capture_id: str) -> dict:
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", capture_id):
            raise Malformed("The event names no valid capture.")
        answer = self._call("GET", f"/v2/payments/captures/{capture_id}")
        if answer.status == 404:
            raise Malformed("PayPal does not know the capture this event is about.")
        if answer.status != 200:
            raise GatewayError(self._error_message(answer, _("showing the capture")))
        return self._json(answer)

    def _foreign(self, invoice_id: object) -> bool:
        """An invoice ID without our prefix: another shop's payment on a shared PayPal account."""
        return (
            bool(self.invoice_prefix) and isinstance(invoice_id, str) and not invoice_id.startswith(self.invoice_prefix)
        )

    def _deposit_id(self, custom_id: object, invoice_id: object = None) -> int | None:
        if self._foreign(invoice_id):
            return None
        if isinstance(custom_id, str) and re.fullmatch(r"\d{1,18}", custom_id):
            return int(custom_id)
        if isinstance(invoice_id, str) and invoice_id.startswith(self.invoice_prefix):
            rest = invoice_id[len(self.invoice_prefix) :]
            if re.fullmatch(r"\d{1,18}", rest):
                return int(rest)
        return None

    def _unit(self, order: dict) -> tuple[dict, int | None]:
        """The order's purchase unit and the deposit ID it carries."""
        units = order.get("purchase_units")
        unit = units[0] if isinstance(units, list) and units and isinstance(units[0], dict) else {}
        if self._foreign(unit.get("invoice_id")):
            return unit, None
        deposit_id = self._deposit_id(unit.get("custom_id"), unit.get("invoice_id"))
        return unit, deposit_id if deposit_id is not None else self._deposit_id(unit.get("reference_id"))

    def _order_report(self, order: dict, *, event_id: str = "", raw: dict | None = None) -> Report:
        """What an order says: its last capture (or refund of it), or where it stands before one."""
        order_id = _text(order.get("id"), 64)
        raw = raw if raw is not None else order
        unit, deposit_id = self._unit(order)
        payments = unit.get("payments") if isinstance(unit.get("payments"), dict) else {}
        captures = [c for c in payments.get("captures") or () if isinstance(c, dict)]
        status = _text(order.get("status"), 40)
        if not captures:
            return Report(
                outcome=Outcome.FAILED if status == "VOIDED" else Outcome.PENDING,
                deposit_id=deposit_id,
                event_id=event_id or f"{order_id}:{status}",
                external_id=order_id,
                note=f"PayPal order {status or 'without status'}.",
                raw=raw,
            )
        capture = captures[-1]
        report = self._capture_report(capture, event_id=event_id, order_id=order_id, raw=raw)
        if report.deposit_id is None:
            report = replace(report, deposit_id=deposit_id)
        refunds = [r for r in payments.get("refunds") or () if isinstance(r, dict)]
        if capture.get("status") == "REFUNDED" and refunds and isinstance(refunds[-1].get("id"), str):
            amount, currency = _money(refunds[-1].get("amount"), "refund amount")
            report = replace(
                report,
                outcome=Outcome.REFUNDED,
                event_id=event_id or f"{refunds[-1]['id'][:64]}:refunded",
                transaction_id=refunds[-1]["id"][:64],
                amount=amount,
                currency=currency,
                note="PayPal capture refunded.",
            )
        return report

    def _capture_report(
        self, capture: dict, *, event_id: str, order_id: str, raw: dict, outcome: Outcome | None = None
    ) -> Report:
        capture_id = capture.get("id")
        if not isinstance(capture_id, str) or not re.fullmatch(r"[A-Za-z0-9-]{1,64}", capture_id):
            raise Malformed("PayPal's capture has no ID.")
        status = _text(capture.get("status"), 40)
        outcome = outcome or CAPTURE_OUTCOMES.get(status, Outcome.PENDING)
        amount, currency = _money(capture.get("amount"), "capture amount")
        supplementary = capture.get("supplementary_data")
        related = supplementary.get("related_ids") if isinstance(supplementary, dict) else None
        details = capture.get("status_details")
        reason = _text(details.get("reason"), 64) if isinstance(details, dict) else ""
        return Report(
            outcome=outcome,
            deposit_id=self._deposit_id(capture.get("custom_id"), capture.get("invoice_id")),
            event_id=event_id or f"{capture_id}:{status}",
            transaction_id=capture_id,
            external_id=order_id or (_text(related.get("order_id"), 64) if isinstance(related, dict) else ""),
            amount=amount,
            currency=currency,
            note=f"PayPal capture {status or 'without status'}" + (f" ({reason})" if reason else "") + ".",
            raw=raw,
        )

    def _capture_and_report(self, order: dict, *, event_id: str = "", raw: dict | None = None) -> Report:
        """Capture an approved order (``order``: what we know of it) and report the result."""
        order_id = _text(order.get("id"), 64)
        captured, issues = self._capture(order_id)
        if captured is not None:
            return self._order_report(captured, event_id=event_id, raw=raw)
        if "ORDER_ALREADY_CAPTURED" in issues or set(issues) & RETRYABLE_CAPTURE_ISSUES:
            current = self._order(order_id)
            if current is None:
                raise Malformed("PayPal does not know the order.")
            return self._order_report(current, event_id=event_id, raw=raw)
        return Report(
            outcome=Outcome.FAILED,
            deposit_id=self._unit(order)[1],
            event_id=event_id or f"{order_id}:capture-refused",
            external_id=order_id,
            note=f"PayPal refused the capture ({', '.join(i[:60] for i in issues[:3])}).",
            raw=raw if raw is not None else {"id": order_id, "issues": issues[:5]},
        )

    def lookup(self, request: base.LookupRequest) -> Report | None:
        """Where the order stands; an APPROVED order is captured now (the same capture however
        often this runs). EXPIRED when PayPal no longer knows the order."""
        if not request.external_id:
            return None
        try:
            order = self._order(request.external_id)
            if order is None:
                return Report(
                    outcome=Outcome.EXPIRED,
                    deposit_id=request.deposit_id,
                    event_id=f"{request.external_id}:not-found",
                    external_id=request.external_id,
                    note="PayPal no longer knows this order (not approved in time).",
                )
            found = self._unit(order)[1]
            if found is not None and found != request.deposit_id:
                raise GatewayError(_("This PayPal order belongs to another deposit."))
            approved = order.get("status") == "APPROVED"
            report = self._capture_and_report(order) if approved else self._order_report(order)
        except Malformed as error:
            raise GatewayError(str(error)) from None
        if report.deposit_id is None:
            report = replace(report, deposit_id=request.deposit_id)
        return report

    # notifications

    def _check_source(self, remote_addr: str) -> None:
        if not source_allowed(remote_addr, self.notify_networks):
            raise BadNotification(f"Notification from {remote_addr[:60] or 'an unknown address'}, not an allowed one.")

    def _trusted_cert_url(self, cert_url: str) -> bool:
        parts = urlsplit(cert_url)
        ours = urlsplit(self.base_url)
        if (parts.scheme, parts.netloc) == (ours.scheme, ours.netloc):
            return True
        host = (parts.hostname or "").lower()
        return parts.scheme == "https" and (host == "paypal.com" or host.endswith(".paypal.com"))

    def verify(self, incoming: Incoming) -> list[Report]:
        if self.problem:
            raise BadNotification(self.problem)
        self._check_source(incoming.remote_addr)
        headers = {k.lower(): v for k, v in incoming.headers.items()}
        signature = {field: (headers.get(name) or "").strip() for field, name in SIGNATURE_HEADERS.items()}
        missing = [name for field, name in SIGNATURE_HEADERS.items() if not signature[field]]
        if missing:
            raise BadNotification(f"Missing PayPal signature headers: {', '.join(missing)}.")
        if not re.fullmatch(r"[A-Za-z0-9]{1,100}", signature["auth_algo"]):
            raise BadNotification("Unreadable PAYPAL-AUTH-ALGO header.")
        if len(signature["cert_url"]) > 500 or not self._trusted_cert_url(signature["cert_url"]):
            raise BadNotification("PAYPAL-CERT-URL does not point at PayPal.")
        if len(signature["transmission_sig"]) > 500 or len(signature["transmission_id"]) > 50:
            raise BadNotification("Oversized PayPal signature headers.")
        try:
            text = incoming.body.decode("utf-8")
            event = json.loads(text)
        except (UnicodeDecodeError, ValueError):
            raise BadNotification("The body is not a JSON event.") from None
        if (
            not isinstance(event, dict)
            or not isinstance(event.get("id"), str)
            or not event["id"]
            or not isinstance(event.get("event_type"), str)
            or not isinstance(event.get("resource"), dict)
        ):
            raise BadNotification("The body is not a PayPal webhook event.")
        if not self.webhook_id:
            raise BadNotification("This PayPal method has no webhook ID configured.")
        self._postback(signature, text)
        try:
            return self._reports(event)
        except Malformed as error:
            raise BadNotification(str(error)) from None

    def _postback(self, signature: dict[str, str], event_text: str) -> None:
        """PayPal's own verification of the signature. The event goes back exactly as received:
        the JSON is assembled around the raw body instead of re-serialising a parsed copy."""
        head = json.dumps({**signature, "webhook_id": self.webhook_id})
        body = head[:-1] + ', "webhook_event": ' + event_text + "}"
        answer = self._call("POST", "/v1/notifications/verify-webhook-signature", body=body)
        if answer.status in (400, 422):
            raise BadNotification(self._error_message(answer, _("the notification's signature")))
        if answer.status != 200:
            raise GatewayError(self._error_message(answer, _("verifying the notification")))
        status = self._json(answer).get("verification_status")
        if not isinstance(status, str) or not base.same("SUCCESS", status):
            raise BadNotification("PayPal did not verify the notification's signature (verification_status FAILURE).")

    def _reports(self, event: dict) -> list[Report]:
        event_id = _text(event["id"], 100)
        kind = event["event_type"]
        resource = event["resource"]
        if kind == "CHECKOUT.ORDER.APPROVED":
            if not isinstance(resource.get("id"), str) or not resource["id"]:
                raise Malformed("The approved order has no ID.")
            unit, _ = self._unit(resource)
            if self._foreign(unit.get("invoice_id")):
                note = "Another shop's order on this PayPal account: not captured here."
                return [Report(outcome=Outcome.IGNORED, deposit_id=None, event_id=event_id, note=note, raw=event)]
            return [self._capture_and_report(resource, event_id=event_id, raw=event)]
        if kind in CAPTURE_EVENTS:
            report = self._capture_report(
                resource, event_id=event_id, order_id="", raw=event, outcome=CAPTURE_EVENTS[kind]
            )
            return [report]
        if kind in REFUND_EVENTS:
            return [self._refund_report(resource, event_id=event_id, raw=event, outcome=REFUND_EVENTS[kind])]
        if kind == "CUSTOMER.DISPUTE.CREATED":
            return self._dispute_reports(resource, event_id=event_id, raw=event)
        note = f"PayPal event {kind[:60]}, not one the panel acts on."
        return [Report(outcome=Outcome.IGNORED, deposit_id=None, event_id=event_id, note=note, raw=event)]

    def _original_capture(self, capture_id: str, custom: object, invoice: object) -> tuple[int | None, str]:
        """(deposit ID, order ID) of the capture a refund or dispute is about: from the event
        when it carries our custom ID, else from the capture itself."""
        deposit_id = self._deposit_id(custom, invoice)
        if deposit_id is not None or not capture_id:
            return deposit_id, ""
        capture = self._capture_details(capture_id)
        supplementary = capture.get("supplementary_data")
        related = supplementary.get("related_ids") if isinstance(supplementary, dict) else None
        order_id = _text(related.get("order_id"), 64) if isinstance(related, dict) else ""
        return self._deposit_id(capture.get("custom_id"), capture.get("invoice_id")), order_id

    def _refund_report(self, refund: dict, *, event_id: str, raw: dict, outcome: Outcome) -> Report:
        refund_id = refund.get("id")
        if not isinstance(refund_id, str) or not re.fullmatch(r"[A-Za-z0-9-]{1,64}", refund_id):
            raise Malformed("The refund has no ID.")
        amount, currency = _money(refund.get("amount"), "refund amount")
        match = re.search(r"/captures/([A-Za-z0-9-]{1,64})$", _link(refund.get("links"), "up"))
        capture_id = match.group(1) if match else ""
        deposit_id, order_id = self._original_capture(capture_id, refund.get("custom_id"), refund.get("invoice_id"))
        word = "refund" if outcome is Outcome.REFUNDED else "reversal"
        return Report(
            outcome=outcome,
            deposit_id=deposit_id,
            event_id=event_id,
            transaction_id=refund_id,
            external_id=order_id,
            amount=amount,
            currency=currency,
            note=f"PayPal {word} of capture {capture_id or 'unknown'}.",
            raw={**raw, "capture_id": capture_id},
        )

    def _dispute_reports(self, dispute: dict, *, event_id: str, raw: dict) -> list[Report]:
        dispute_id = dispute.get("dispute_id")
        transactions = [t for t in dispute.get("disputed_transactions") or () if isinstance(t, dict)]
        if not isinstance(dispute_id, str) or not dispute_id or not transactions:
            raise Malformed("The dispute has no ID or no disputed transaction.")
        single = len(transactions) == 1
        reports = []
        for index, transaction in enumerate(transactions):
            money = dispute.get("dispute_amount") if single else transaction.get("gross_amount")
            amount, currency = _money(money or transaction.get("gross_amount"), "disputed amount")
            capture_id = _text(transaction.get("seller_transaction_id"), 64)
            deposit_id, order_id = self._original_capture(
                capture_id, transaction.get("custom"), transaction.get("invoice_number")
            )
            reason = _text(dispute.get("reason"), 60) or "no reason given"
            reports.append(
                Report(
                    outcome=Outcome.CHARGEBACK,
                    deposit_id=deposit_id,
                    event_id=event_id if single else f"{event_id}:{index}",
                    transaction_id=dispute_id[:64] if single else f"{dispute_id[:64]}:{capture_id}",
                    external_id=order_id,
                    amount=amount,
                    currency=currency,
                    note=f"PayPal dispute ({reason}) on capture {capture_id or 'unknown'}.",
                    raw={**raw, "capture_id": capture_id},
                )
            )
        return reports

    def reply(self, reports: list[Report] | None, error: BadNotification | None = None) -> Reply:
        """PayPal only reads the status: any 2xx acknowledges; anything else is delivered again
        (up to 25 times over 3 days)."""
        if error is not None:
            return Reply(status=400, body="notification rejected")
        return Reply(status=200, body="")

    # staff

    def test_connection(self) -> str:
        """Gets a token (checks the client ID, secret and mode) and reads the configured webhook
        (checks the webhook ID belongs to this app), saying which needed events it lacks."""
        self._token(fresh=True)
        if not self.webhook_id:
            return _("PayPal %(mode)s: the client ID and secret work; the webhook ID is not set yet.") % {
                "mode": self.mode
            }
        if not re.fullmatch(r"[A-Za-z0-9]{1,50}", self.webhook_id):
            raise GatewayError(_("The webhook ID is not a PayPal webhook ID."))
        answer = self._call("GET", f"/v1/notifications/webhooks/{self.webhook_id}")
        if answer.status == 404:
            raise GatewayError(
                _("PayPal %(mode)s: this app has no webhook %(id)s.") % {"mode": self.mode, "id": self.webhook_id}
            )
        if answer.status != 200:
            raise GatewayError(self._error_message(answer, _("showing the webhook")))
        webhook = self._json(answer)
        names = {t.get("name") for t in webhook.get("event_types") or () if isinstance(t, dict)}
        missing = [] if "*" in names else [e for e in EVENTS if e not in names]
        url = _text(webhook.get("url"), 300)
        text = _("PayPal %(mode)s: credentials accepted; webhook %(id)s posts to %(url)s.") % {
            "mode": self.mode,
            "id": self.webhook_id,
            "url": url,
        }
        if missing:
            text += " " + _("Not subscribed: %(events)s.") % {"events": ", ".join(missing)}
        return text
