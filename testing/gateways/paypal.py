"""A local fake of PayPal's REST API (Orders v2, Payments v2 captures, OAuth 2.0, Webhooks), for
tests and the demo. It follows PayPal's public documentation and OpenAPI files
(github.com/paypal/paypal-rest-api-specifications):

- ``POST /v1/oauth2/token``: Basic client_id:secret, ``grant_type=client_credentials``; a wrong
  pair is ``401 {"error": "invalid_client", "error_description": "Client Authentication failed"}``;
- ``POST /v2/checkout/orders``, ``GET /v2/checkout/orders/{id}``,
  ``POST /v2/checkout/orders/{id}/capture`` with ``PayPal-Request-Id`` idempotency (a repeated
  key answers 200 with the first result), the documented 4xx shapes (AUTHENTICATION_FAILURE,
  RESOURCE_NOT_FOUND, UNPROCESSABLE_ENTITY with ORDER_NOT_APPROVED, ORDER_ALREADY_CAPTURED,
  DECIMAL_PRECISION, INSTRUMENT_DECLINED...);
- ``GET /v2/payments/captures/{id}`` and ``GET /v1/notifications/webhooks/{id}``;
- webhooks signed as PayPal signs them: headers PAYPAL-TRANSMISSION-ID, -TIME, -SIG, -CERT-URL
  and PAYPAL-AUTH-ALGO ``SHA256withRSA``; the signature is RSA-SHA256 (PKCS#1 v1.5) over
  ``<transmission id>|<transmission time>|<webhook id>|<CRC32 of the raw body, decimal>`` with
  the key of the certificate served at the cert URL;
- ``POST /v1/notifications/verify-webhook-signature``: checks that signature against the
  ``webhook_event`` exactly as the caller sent it (its raw JSON text), answering
  ``{"verification_status": "SUCCESS"}`` or ``"FAILURE"``, as PayPal does.

The payer's side is a small approval page (``GET /checkoutnow?token=<order id>``) and the
``approve()`` method; ``Driver`` (see testing.gateways) plays customer and PayPal for the flow
tests. State is in memory; nothing here reaches the internet.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import re
import secrets
import string
import threading
import time
import uuid
import zlib
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from billing.gateways.base import Checkout, Incoming
from billing.gateways.paypal import CURRENCIES, EVENTS, ZERO_DECIMAL

CLIENT_ID = "AbFakeClientId0123456789"
CLIENT_SECRET = "EFakeSecret-do-not-leak-9f8e7d6c5b4a"
WEBHOOK_ID = "8PT597110X687430L"
MERCHANT_ID = "FAKEMERCHANT01"
CERT_NAME = "CERT-360caa42-fca2a594-fake0001"
AUTH_ALGO = "SHA256withRSA"
TOKEN_SECONDS = 32400


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _paypal_id(length: int = 17) -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(length))


def raw_member(text: str, name: str) -> str:
    """The raw JSON text of the top-level member ``name`` of the object in ``text``, exactly as
    written (PayPal checks the CRC of the event as sent, not of a re-serialised copy)."""
    decoder = json.JSONDecoder()
    space = re.compile(r"[ \t\n\r]*")
    i = space.match(text, 0).end()
    if text[i : i + 1] != "{":
        raise ValueError("not an object")
    i = space.match(text, i + 1).end()
    while text[i : i + 1] != "}":
        key, i = decoder.raw_decode(text, i)
        i = space.match(text, i).end()
        if text[i : i + 1] != ":":
            raise ValueError("no colon")
        i = space.match(text, i + 1).end()
        _, end = decoder.raw_decode(text, i)
        if key == name:
            return text[i:end]
        i = space.match(text, end).end()
        if text[i : i + 1] == ",":
            i = space.match(text, i + 1).end()
    raise KeyError(name)


def signed_message(transmission_id: str, transmission_time: str, webhook_id: str, body: bytes) -> bytes:
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}".encode()


_keys: list = []
_keys_lock = threading.Lock()


def _signing_key():
    """PayPal's signing key, made once per process (2048-bit RSA takes a while to generate)."""
    with _keys_lock:
        if not _keys:
            _keys.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return _keys[0]


class FakePayPal:
    """PayPal's REST API on 127.0.0.1, one merchant app (more with ``add_app``)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.apps: dict[str, str] = {CLIENT_ID: CLIENT_SECRET}
        self.tokens: dict[str, tuple[str, float]] = {}
        self.webhooks: dict[str, dict] = {
            WEBHOOK_ID: {
                "client_id": CLIENT_ID,
                "url": "https://panel.example/payments/notify/1/",
                "event_types": [{"name": name, "description": name} for name in EVENTS],
            }
        }
        self.orders: dict[str, dict] = {}
        self.captures: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.plans: dict[str, dict] = {}  # order id -> what the payer approved
        self.idempotent: dict[tuple, tuple[int, dict]] = {}
        self.calls: list[tuple[str, str]] = []
        self.faults: list[tuple[str, str, int]] = []  # (method, path prefix, status), used once each
        self.request_ids: list[tuple[str, str]] = []  # (path, PayPal-Request-Id) of every POST
        self.verifications: list[bytes] = []  # the verify-webhook-signature request bodies, as sent
        self.key = _signing_key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.fake.paypal")])
        today = datetime.datetime.now(datetime.UTC)
        self.cert_pem = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(today - datetime.timedelta(days=1))
            .not_valid_after(today + datetime.timedelta(days=30))
            .sign(self.key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
        )
        self.server: ThreadingHTTPServer | None = None
        self.base_url = ""

    # lifecycle

    def start(self) -> FakePayPal:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def cert_url(self) -> str:
        return f"{self.base_url}/v1/notifications/certs/{CERT_NAME}"

    def add_app(self, client_id: str, secret: str, webhook_id: str) -> None:
        with self.lock:
            self.apps[client_id] = secret
            self.webhooks[webhook_id] = {**self.webhooks[WEBHOOK_ID], "client_id": client_id}

    def fail(self, method: str, path_prefix: str, status: int = 503, times: int = 1) -> None:
        """The next ``times`` calls to ``method path_prefix...`` answer ``status`` (an outage)."""
        with self.lock:
            self.faults.extend([(method, path_prefix, status)] * times)

    # the payer and PayPal's back office

    def approve(
        self,
        order_id: str,
        *,
        amount: Decimal | None = None,
        currency: str | None = None,
        capture_status: str = "COMPLETED",
        refuse_with: str = "",
    ) -> None:
        """The payer approves the order. ``amount``/``currency``: what the capture will take instead
        of the order's amount; ``capture_status``: COMPLETED, PENDING or DECLINED; ``refuse_with``:
        a 422 issue the capture call answers instead (e.g. INSTRUMENT_DECLINED)."""
        with self.lock:
            order = self.orders[order_id]
            unit = order["purchase_units"][0]
            currency = (currency or unit["amount"]["currency_code"]).upper()
            value = unit["amount"]["value"] if amount is None else self.format(amount, currency)
            self.plans[order_id] = {
                "amount": {"currency_code": currency, "value": value},
                "status": capture_status,
                "refuse_with": refuse_with,
            }
            order["status"] = "APPROVED"
            order["payer"] = {
                "name": {"given_name": "Pat", "surname": "Payer"},
                "email_address": "payer@example.com",
                "payer_id": "FAKEPAYER0001",
            }
            order["update_time"] = _now()

    @staticmethod
    def format(amount: Decimal, currency: str) -> str:
        places = 0 if currency in ZERO_DECIMAL else 2
        return f"{Decimal(amount):.{places}f}"

    def capture_now(self, order_id: str) -> dict:
        """Capture as the merchant would (used when a test skips the merchant's own call)."""
        with self.lock:
            order = self.orders[order_id]
            if order["status"] != "COMPLETED":
                if order["status"] != "APPROVED":
                    self.approve(order_id)
                status, answer = self._capture(order_id)
                if status >= 400:
                    raise ValueError(f"capture refused: {answer}")
            return self.captures[self.orders[order_id]["purchase_units"][0]["payments"]["captures"][-1]["id"]]

    def refund(self, capture_id: str, *, amount: Decimal | None = None) -> dict:
        with self.lock:
            capture = self.captures[capture_id]
            money = dict(capture["amount"])
            if amount is not None:
                money["value"] = self.format(amount, money["currency_code"])
            refund_id = _paypal_id()
            refund = {
                "id": refund_id,
                "amount": money,
                "seller_payable_breakdown": {
                    "gross_amount": money,
                    "paypal_fee": {"currency_code": money["currency_code"], "value": "0.00"},
                    "net_amount": money,
                    "total_refunded_amount": money,
                },
                "status": "COMPLETED",
                "create_time": _now(),
                "update_time": _now(),
                "links": [
                    {"href": f"{self.base_url}/v2/payments/refunds/{refund_id}", "rel": "self", "method": "GET"},
                    {"href": f"{self.base_url}/v2/payments/captures/{capture_id}", "rel": "up", "method": "GET"},
                ],
            }
            self.refunds[refund_id] = refund
            full = Decimal(money["value"]) >= Decimal(capture["amount"]["value"])
            capture["status"] = "REFUNDED" if full else "PARTIALLY_REFUNDED"
            order = self.orders[capture["supplementary_data"]["related_ids"]["order_id"]]
            payments = order["purchase_units"][0]["payments"]
            payments["captures"][-1]["status"] = capture["status"]
            payments.setdefault("refunds", []).append({k: v for k, v in refund.items() if k != "links"})
            return refund

    def dispute(self, capture_id: str) -> dict:
        with self.lock:
            capture = self.captures[capture_id]
            return {
                "dispute_id": f"PP-D-{secrets.randbelow(10**5):05d}",
                "create_time": _now(),
                "update_time": _now(),
                "disputed_transactions": [
                    {
                        "seller_transaction_id": capture_id,
                        "seller": {"merchant_id": MERCHANT_ID},
                        "items": [],
                        "seller_protection_eligible": True,
                    }
                ],
                "reason": "UNAUTHORISED",
                "status": "OPEN",
                "dispute_amount": dict(capture["amount"]),
                "dispute_life_cycle_stage": "CHARGEBACK",
                "dispute_channel": "EXTERNAL",
                "links": [],
            }

    # webhooks

    def event(self, event_type: str, resource: dict, *, resource_type: str = "", summary: str = "") -> dict:
        event_id = f"WH-{_paypal_id()}-{_paypal_id()}"
        return {
            "id": event_id,
            "event_version": "1.0",
            "create_time": _now(),
            "resource_type": resource_type or event_type.split(".")[1].lower(),
            "resource_version": "2.0",
            "event_type": event_type,
            "summary": summary or event_type,
            "resource": resource,
            "links": [
                {"href": f"{self.base_url}/v1/notifications/webhooks-events/{event_id}", "rel": "self", "method": "GET"}
            ],
        }

    def sign(self, event: dict | bytes, *, webhook_id: str = WEBHOOK_ID) -> Incoming:
        """The POST PayPal makes to the webhook's URL: compact JSON and the signature headers."""
        body = event if isinstance(event, bytes) else json.dumps(event, separators=(",", ":")).encode()
        transmission_id = str(uuid.uuid1())
        transmission_time = _now()
        signature = self.key.sign(
            signed_message(transmission_id, transmission_time, webhook_id, body), padding.PKCS1v15(), hashes.SHA256()
        )
        headers = {
            "content-type": "application/json",
            "user-agent": "PayPal/AUHD-214.0-58843248",
            "paypal-auth-algo": AUTH_ALGO,
            "paypal-cert-url": self.cert_url,
            "paypal-transmission-id": transmission_id,
            "paypal-transmission-sig": base64.b64encode(signature).decode(),
            "paypal-transmission-time": transmission_time,
        }
        return Incoming(body=body, headers=headers, form={}, query={}, remote_addr="127.0.0.1")

    def order_approved_event(self, order_id: str) -> dict:
        with self.lock:
            order = json.loads(json.dumps(self.orders[order_id]))
        order.pop("client_id", None)
        return self.event("CHECKOUT.ORDER.APPROVED", order, resource_type="checkout-order")

    def capture_event(self, capture_id: str, event_type: str = "PAYMENT.CAPTURE.COMPLETED") -> dict:
        with self.lock:
            capture = json.loads(json.dumps(self.captures[capture_id]))
        return self.event(event_type, capture, resource_type="capture")

    # HTTP side

    def _capture(self, order_id: str) -> tuple[int, dict]:
        order = self.orders[order_id]
        if order["status"] == "COMPLETED":
            return 422, _error422("ORDER_ALREADY_CAPTURED", "Order already captured.")
        if order["status"] != "APPROVED":
            return 422, _error422("ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment.")
        plan = self.plans[order_id]
        if plan["refuse_with"]:
            return 422, _error422(
                plan["refuse_with"], "The instrument presented was either declined or cannot be used."
            )
        unit = order["purchase_units"][0]
        capture_id = _paypal_id()
        money = plan["amount"]
        fee = (Decimal(money["value"]) * Decimal("0.0349") + Decimal("0.49")).quantize(Decimal("0.01"))
        places = 0 if money["currency_code"] in ZERO_DECIMAL else 2
        capture = {
            "id": capture_id,
            "status": plan["status"],
            "amount": dict(money),
            "final_capture": True,
            "seller_protection": {"status": "ELIGIBLE", "dispute_categories": ["ITEM_NOT_RECEIVED"]},
            "seller_receivable_breakdown": {
                "gross_amount": dict(money),
                "paypal_fee": {"currency_code": money["currency_code"], "value": f"{fee:.{places}f}"},
                "net_amount": {
                    "currency_code": money["currency_code"],
                    "value": f"{Decimal(money['value']) - fee:.{places}f}",
                },
            },
            "custom_id": unit.get("custom_id"),
            "invoice_id": unit.get("invoice_id"),
            "links": [
                {"href": f"{self.base_url}/v2/payments/captures/{capture_id}", "rel": "self", "method": "GET"},
                {
                    "href": f"{self.base_url}/v2/payments/captures/{capture_id}/refund",
                    "rel": "refund",
                    "method": "POST",
                },
                {"href": f"{self.base_url}/v2/checkout/orders/{order_id}", "rel": "up", "method": "GET"},
            ],
            "create_time": _now(),
            "update_time": _now(),
            "supplementary_data": {"related_ids": {"order_id": order_id}},
        }
        capture = {k: v for k, v in capture.items() if v is not None}
        if plan["status"] == "PENDING":
            capture["status_details"] = {"reason": "PENDING_REVIEW"}
        self.captures[capture_id] = capture
        unit["payments"] = {"captures": [{k: v for k, v in capture.items() if k != "supplementary_data"}]}
        order["status"] = "COMPLETED"
        order["update_time"] = _now()
        return 201, self.public_order(order)

    @staticmethod
    def public_order(order: dict) -> dict:
        return {k: v for k, v in json.loads(json.dumps(order)).items() if k != "client_id"}

    def create_order(self, client_id: str, body: object) -> tuple[int, dict]:
        if not isinstance(body, dict):
            return 400, _error400("MALFORMED_REQUEST_JSON", "", "The request JSON is not well formed.")
        if body.get("intent") not in ("CAPTURE", "AUTHORIZE"):
            return 400, _error400("INVALID_PARAMETER_VALUE", "/intent", "A parameter value is not valid.")
        units = body.get("purchase_units")
        if not isinstance(units, list) or not units or not isinstance(units[0], dict):
            return 400, _error400("MISSING_REQUIRED_PARAMETER", "/purchase_units", "A required field is missing.")
        unit = units[0]
        amount = unit.get("amount")
        if not isinstance(amount, dict) or not isinstance(amount.get("value"), str):
            return 400, _error400(
                "MISSING_REQUIRED_PARAMETER",
                "/purchase_units/@reference_id=='default'/amount/value",
                "A required field is missing.",
            )
        value, currency = amount["value"], amount.get("currency_code")
        if currency not in CURRENCIES:
            return 422, _error422("INVALID_CURRENCY_CODE", "Currency code is invalid or is not currently supported.")
        if not re.fullmatch(r"(-?[0-9]+)|(-?([0-9]+)?[.][0-9]+)", value):
            return 400, _error400(
                "INVALID_PARAMETER_VALUE", "/purchase_units/0/amount/value", "A parameter value is not valid."
            )
        decimals = len(value.partition(".")[2])
        if decimals > (0 if currency in ZERO_DECIMAL else 2):
            return 422, _error422(
                "DECIMAL_PRECISION", "If the currency supports decimals, only two decimal place precision is supported."
            )
        if Decimal(value) <= 0:
            return 422, _error422("CANNOT_BE_ZERO_OR_NEGATIVE", "Must be greater than zero.")
        for field, limit in (("reference_id", 256), ("custom_id", 127), ("invoice_id", 127), ("description", 127)):
            if field in unit and (not isinstance(unit[field], str) or not 1 <= len(unit[field]) <= limit):
                return 400, _error400(
                    "INVALID_STRING_LENGTH",
                    f"/purchase_units/0/{field}",
                    "The value of a field is either too short or too long.",
                )
        invoice_id = unit.get("invoice_id")
        if invoice_id and any(o["purchase_units"][0].get("invoice_id") == invoice_id for o in self.orders.values()):
            # Accounts block repeated invoice IDs by default.
            return 422, _error422("DUPLICATE_INVOICE_ID", "Duplicate Invoice ID detected.")
        context = ((body.get("payment_source") or {}).get("paypal") or {}).get("experience_context") or body.get(
            "application_context"
        ) or {}  # fmt: skip
        order_id = _paypal_id()
        order = {
            "id": order_id,
            "client_id": client_id,
            "intent": body["intent"],
            "status": "PAYER_ACTION_REQUIRED" if "payment_source" in body else "CREATED",
            "payment_source": {"paypal": {}},
            "purchase_units": [
                {
                    "reference_id": unit.get("reference_id", "default"),
                    "amount": {"currency_code": currency, "value": value},
                    "payee": {"email_address": "merchant@example.com", "merchant_id": MERCHANT_ID},
                    **{k: unit[k] for k in ("custom_id", "invoice_id", "description") if k in unit},
                }
            ],
            "create_time": _now(),
            "links": [
                {"href": f"{self.base_url}/v2/checkout/orders/{order_id}", "rel": "self", "method": "GET"},
                {
                    "href": f"{self.base_url}/checkoutnow?token={order_id}",
                    "rel": "payer-action" if "payment_source" in body else "approve",
                    "method": "GET",
                },
            ],
            "return_url": context.get("return_url", ""),
            "cancel_url": context.get("cancel_url", ""),
        }
        self.orders[order_id] = order
        public = self.public_order(order)
        public.pop("return_url")
        public.pop("cancel_url")
        return 201, public


def _error(name: str, message: str, details: list[dict]) -> dict:
    debug_id = secrets.token_hex(6)
    return {
        "name": name,
        "message": message,
        "details": details,
        "debug_id": debug_id,
        "links": [
            {"href": "https://developer.paypal.com/docs/api/orders/v2/#error-" + name, "rel": "information_link"}
        ],
    }


def _error400(issue: str, field: str, description: str) -> dict:
    detail = {"issue": issue, "description": description, "location": "body"}
    if field:
        detail["field"] = field
    return _error(
        "INVALID_REQUEST", "Request is not well-formed, syntactically incorrect, or violates schema.", [detail]
    )


def _error422(issue: str, description: str) -> dict:
    return _error(
        "UNPROCESSABLE_ENTITY",
        "The requested action could not be performed, semantically incorrect, or failed business validation.",
        [{"issue": issue, "description": description}],
    )


UNAUTHORIZED = {
    "name": "AUTHENTICATION_FAILURE",
    "message": "Authentication failed due to missing authorization header, or invalid authentication credentials.",
    "details": [],
    "links": [],
}
NOT_FOUND = _error(
    "RESOURCE_NOT_FOUND",
    "The specified resource does not exist.",
    [{"issue": "INVALID_RESOURCE_ID", "description": "Specified resource ID does not exist."}],
)


class _Handler(BaseHTTPRequestHandler):
    fake: FakePayPal
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _answer(
        self, status: int, body: dict | bytes | str, content_type: str = "application/json", headers=()
    ) -> None:
        data = (
            body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(body).encode()
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Paypal-Debug-Id", secrets.token_hex(6))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _client(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return None
        with self.fake.lock:
            found = self.fake.tokens.get(auth[7:])
        return found[0] if found and found[1] > time.time() else None

    def _fault(self, method: str, path: str) -> bool:
        with self.fake.lock:
            self.fake.calls.append((method, path))
            if method == "POST":
                self.fake.request_ids.append((path, self.headers.get("PayPal-Request-Id") or ""))
            for index, (m, prefix, status) in enumerate(self.fake.faults):
                if m == method and path.startswith(prefix):
                    del self.fake.faults[index]
                    self._body()
                    self._answer(
                        status, {"name": "INTERNAL_SERVER_ERROR", "message": "An internal server error occurred."}
                    )
                    return True
        return False

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if self._fault("GET", path):
            return
        fake = self.fake
        if path == f"/v1/notifications/certs/{CERT_NAME}":
            return self._answer(200, fake.cert_pem, "application/x-pem-file")
        if path == "/checkoutnow":
            return self._checkout_page(parse_qs(query).get("token", [""])[0])
        if path == "/checkoutnow/cancel":
            order = fake.orders.get(parse_qs(query).get("token", [""])[0])
            if order:
                return self._answer(
                    303, "", "text/plain", [("Location", _with_token(order["cancel_url"], order["id"]))]
                )
            return self._answer(404, "no such order", "text/plain")
        client = self._client()
        if client is None:
            return self._answer(401, UNAUTHORIZED)
        with fake.lock:
            if m := re.fullmatch(r"/v2/checkout/orders/([A-Z0-9]+)", path):
                order = fake.orders.get(m.group(1))
                if order and order["client_id"] == client:
                    public = fake.public_order(order)
                    public.pop("return_url")
                    public.pop("cancel_url")
                    return self._answer(200, public)
                return self._answer(404, NOT_FOUND)
            if m := re.fullmatch(r"/v2/payments/captures/([A-Z0-9]+)", path):
                capture = fake.captures.get(m.group(1))
                order_id = capture["supplementary_data"]["related_ids"]["order_id"] if capture else ""
                if capture and fake.orders[order_id]["client_id"] == client:
                    return self._answer(200, capture)
                return self._answer(404, NOT_FOUND)
            if m := re.fullmatch(r"/v1/notifications/webhooks/([A-Za-z0-9]+)", path):
                webhook = fake.webhooks.get(m.group(1))
                if webhook and webhook["client_id"] == client:
                    body = {"id": m.group(1), "url": webhook["url"], "event_types": webhook["event_types"]}
                    return self._answer(200, body)
                return self._answer(
                    404, {"name": "INVALID_RESOURCE_ID", "message": "Webhook ID not found.", "details": [], "links": []}
                )
        return self._answer(404, NOT_FOUND)

    def do_POST(self) -> None:
        path = self.path.partition("?")[0]
        if self._fault("POST", path):
            return
        fake = self.fake
        body = self._body()
        if path == "/v1/oauth2/token":
            return self._token(body)
        if path == "/checkoutnow/approve":
            order_id = parse_qs(body.decode()).get("token", [""])[0]
            with fake.lock:
                order = fake.orders.get(order_id)
                if not order or order["status"] not in ("CREATED", "PAYER_ACTION_REQUIRED"):
                    return self._answer(404, "no such order", "text/plain")
                fake.approve(order_id)
            target = _with_token(order["return_url"], order_id, PayerID="FAKEPAYER0001")
            return self._answer(303, "", "text/plain", [("Location", target)])
        client = self._client()
        if client is None:
            return self._answer(401, UNAUTHORIZED)
        request_id = self.headers.get("PayPal-Request-Id") or ""
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return self._answer(400, _error400("MALFORMED_REQUEST_JSON", "", "The request JSON is not well formed."))
        with fake.lock:
            key = (client, path, request_id)
            if request_id and key in fake.idempotent:
                status, answer = fake.idempotent[key]
                return self._answer(200 if status == 201 else status, answer)
            if path == "/v2/checkout/orders":
                status, answer = fake.create_order(client, data)
            elif m := re.fullmatch(r"/v2/checkout/orders/([A-Z0-9]+)/capture", path):
                order = fake.orders.get(m.group(1))
                if not order or order["client_id"] != client:
                    return self._answer(404, NOT_FOUND)
                status, answer = fake._capture(order["id"])
            elif path == "/v1/notifications/verify-webhook-signature":
                return self._verify(client, body)
            else:
                return self._answer(404, NOT_FOUND)
            if request_id and status < 300:
                fake.idempotent[key] = (status, answer)
        return self._answer(status, answer)

    def _token(self, body: bytes) -> None:
        auth = self.headers.get("Authorization") or ""
        try:
            client_id, _, secret = base64.b64decode(auth.removeprefix("Basic "), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            client_id = secret = ""
        form = parse_qs(body.decode(errors="replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return self._answer(400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"})
        with self.fake.lock:
            known = self.fake.apps.get(client_id)
            if not auth.startswith("Basic ") or known is None or not secrets.compare_digest(known, secret):
                return self._answer(
                    401, {"error": "invalid_client", "error_description": "Client Authentication failed"}
                )
            token = "A21AA" + secrets.token_urlsafe(60)
            self.fake.tokens[token] = (client_id, time.time() + TOKEN_SECONDS)
        self._answer(
            200,
            {
                "scope": "https://uri.paypal.com/services/payments/payment/authcapture "
                "https://uri.paypal.com/services/applications/webhooks",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": TOKEN_SECONDS,
                "nonce": _now() + secrets.token_urlsafe(16),
            },
        )

    def _verify(self, client: str, body: bytes) -> None:
        """verify-webhook-signature: the signature must match the event as the caller sent it."""
        fake = self.fake
        fake.verifications.append(body)
        try:
            text = body.decode()
            data = json.loads(text)
            event_text = raw_member(text, "webhook_event")
        except (UnicodeDecodeError, ValueError, KeyError):
            return self._answer(400, _error400("MALFORMED_REQUEST_JSON", "", "The request JSON is not well formed."))
        required = ("auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time", "webhook_id")
        for field in required:
            if not isinstance(data.get(field), str) or not data[field]:
                return self._answer(
                    400, _error400("MISSING_REQUIRED_PARAMETER", f"/{field}", "A required field is missing.")
                )
        webhook = fake.webhooks.get(data["webhook_id"])
        ok = webhook is not None and webhook["client_id"] == client and data["cert_url"] == fake.cert_url
        ok = ok and data["auth_algo"] == AUTH_ALGO
        if ok:
            message = signed_message(
                data["transmission_id"], data["transmission_time"], data["webhook_id"], event_text.encode()
            )
            try:
                signature = base64.b64decode(data["transmission_sig"], validate=True)
                fake.key.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            except Exception:  # a bad base64 or a bad signature: both are FAILURE
                ok = False
        self._answer(200, {"verification_status": "SUCCESS" if ok else "FAILURE"})

    def _checkout_page(self, order_id: str) -> None:
        order = self.fake.orders.get(order_id)
        if not order:
            return self._answer(404, "no such order", "text/plain")
        amount = order["purchase_units"][0]["amount"]
        page = f"""<!doctype html><html><head><meta charset="utf-8"><title>PayPal (fake)</title></head>
<body><h1>PayPal (local fake)</h1><p>Pay {html.escape(amount["value"])} {html.escape(amount["currency_code"])}</p>
<form method="post" action="/checkoutnow/approve"><input type="hidden" name="token" value="{html.escape(order_id)}">
<button type="submit">Pay Now</button></form>
<p><a href="/checkoutnow/cancel?{urlencode({"token": order_id})}">Cancel and return</a></p></body></html>"""
        self._answer(200, page, "text/html; charset=utf-8")


def _with_token(url: str, order_id: str, **extra: str) -> str:
    joiner = "&" if urlsplit(url).query else "?"
    return url + joiner + urlencode({"token": order_id, **extra})


class Driver:
    """Plays the customer and PayPal for billing/tests/test_gateway_flows.py (see testing.gateways)."""

    code = "paypal"
    currency = "USD"
    outcomes = ("paid", "pending", "failed", "refunded", "chargeback", "reversed")

    def __init__(self) -> None:
        self.fake = FakePayPal()
        self.base_url = ""

    def __enter__(self) -> Driver:
        self.fake.start()
        self.base_url = self.fake.base_url
        return self

    def __exit__(self, *exc) -> None:
        self.fake.stop()

    def config(self) -> dict[str, str]:
        return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "webhook_id": WEBHOOK_ID, "mode": "sandbox"}

    def pay(self, checkout: Checkout, *, amount: Decimal | None = None, currency: str | None = None) -> None:
        """The payer approves the order on PayPal; the capture will take ``amount``/``currency``
        when given (PayPal itself never changes them; this plays a payment that went wrong)."""
        self.fake.approve(checkout.external_id, amount=amount, currency=currency)

    def notification(self, checkout: Checkout, *, outcome: str = "paid") -> Incoming:
        """The webhook PayPal posts next. "paid": CHECKOUT.ORDER.APPROVED while the order waits for
        its capture (verify() captures it), PAYMENT.CAPTURE.COMPLETED once captured; "pending",
        "failed": the capture PENDING / DECLINED; "refunded": PAYMENT.CAPTURE.REFUNDED;
        "chargeback": CUSTOMER.DISPUTE.CREATED; "reversed": PAYMENT.CAPTURE.REVERSED."""
        fake = self.fake
        order_id = checkout.external_id
        with fake.lock:
            order = fake.orders[order_id]
            if outcome == "paid":
                if order["status"] == "APPROVED":
                    return fake.sign(fake.order_approved_event(order_id))
                capture = fake.capture_now(order_id)
                return fake.sign(fake.capture_event(capture["id"]))
            if outcome in ("pending", "failed"):
                captures = order["purchase_units"][0].get("payments", {}).get("captures", [])
                if captures and captures[-1]["status"] != ("PENDING" if outcome == "pending" else "DECLINED"):
                    # A capture is final once made: PayPal sends no decline for a completed one.
                    raise ValueError(f"the capture is {captures[-1]['status']}: PayPal sends no {outcome} now")
                if order["status"] != "COMPLETED":
                    plan = fake.plans.get(order_id, {}).get("amount")
                    amount = Decimal(plan["value"]) if plan else None
                    currency = plan["currency_code"] if plan else None
                    status = "PENDING" if outcome == "pending" else "DECLINED"
                    fake.approve(order_id, amount=amount, currency=currency, capture_status=status)
                capture = fake.capture_now(order_id)
                kind = "PAYMENT.CAPTURE.PENDING" if outcome == "pending" else "PAYMENT.CAPTURE.DECLINED"
                return fake.sign(fake.capture_event(capture["id"], kind))
            capture = fake.capture_now(order_id)
            if outcome == "refunded":
                refund = fake.refund(capture["id"])
                return fake.sign(fake.event("PAYMENT.CAPTURE.REFUNDED", refund, resource_type="refund"))
            if outcome == "reversed":
                refund = fake.refund(capture["id"])
                return fake.sign(fake.event("PAYMENT.CAPTURE.REVERSED", refund, resource_type="refund"))
            if outcome == "chargeback":
                return fake.sign(
                    fake.event("CUSTOMER.DISPUTE.CREATED", fake.dispute(capture["id"]), resource_type="dispute")
                )
        raise ValueError(f"PayPal has no {outcome!r} notification.")

    def tamper(self, incoming: Incoming) -> Incoming:
        """The same notification with its amount changed; the signature headers stay as they were."""
        event = json.loads(incoming.body)
        resource = event["resource"]
        if "purchase_units" in resource:
            money = resource["purchase_units"][0]["amount"]
        else:
            money = resource.get("amount") or resource["dispute_amount"]
        money["value"] = FakePayPal.format(Decimal(money["value"]) * 10, money["currency_code"])
        body = json.dumps(event, separators=(",", ":")).encode()
        return Incoming(
            body=body,
            headers=dict(incoming.headers),
            form=dict(incoming.form),
            query=dict(incoming.query),
            remote_addr=incoming.remote_addr,
        )
