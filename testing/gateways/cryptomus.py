"""A local fake of Cryptomus' merchant API (doc.cryptomus.com, business API), for tests and the demo.

What it speaks, as the documentation describes it:

- every call is a POST with the headers ``merchant`` and ``sign`` = md5(base64(raw body) . payment
  API key); a call without parameters signs the empty string. A wrong merchant or signature is
  answered 401 ``{"message": "Invalid Sign."}``; invalid parameters 422
  ``{"state": 1, "message": ..., "errors": {field: [...]}}``; success ``{"state": 0, "result": ...}``.
- POST /v1/payment: creates an invoice (amount, currency, order_id 1-128 of [A-Za-z0-9_-], unique per
  merchant: the same order_id returns the existing invoice; url_* 6-255 characters; lifetime
  300-43200; to_currency/network quote the invoice in a coin and give an address).
- POST /v1/payment/info: the invoice by uuid or order_id (404 when there is none).
- POST /v1/balance: the merchant's and user's balances per coin.
- GET /pay/<uuid>: a minimal hosted page; POST /pay/<uuid> pays it in full and redirects to
  url_success (for browser tests and the demo).

The customer's side and the webhooks are played from Python: ``pay()`` records a payment (exact,
short or over, in the coin), ``webhook()`` builds the notification Cryptomus posts to url_callback:
the fields of their webhook page in their order, ``sign`` = md5(base64(json_encode(fields,
JSON_UNESCAPED_UNICODE)) . key) appended last, the body encoded the same PHP way (``/`` escaped).
This encoder is written here on its own (not imported from the module under test), so the two
must agree for the tests to pass.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import threading
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from billing.gateways.base import Checkout, Incoming

from .jsonfake import Answer, Call, JsonFakeServer, ServedFake

# The example merchant and payment key of their PHP SDK's README.
MERCHANT = "c26b80a8-9549-4a66-bb53-774f12809249"
API_KEY = (
    "uQ4LFWCBE3dT84uQnt7ycL7p9WcSwjkSPQaZbik3ChoWO0egw51f4EAaZQKmefhPP0F1cX8OpRcl2c3HexNedoR7FGEY"
    "GA1mTgMPI8lzKl7Ct2I43R6SSC3gVDS3rkGX"
)
WEBHOOK_IP = "91.227.144.54"

EIGHT = Decimal("0.00000001")
# Coin units per one unit of the invoice currency, for quoting invoices in a coin.
RATES: dict[tuple[str, str], Decimal] = {
    ("USD", "USDT"): Decimal("1"),
    ("USD", "BTC"): Decimal("0.0000125"),
    ("USD", "TRX"): Decimal("8"),
    ("EUR", "USDT"): Decimal("1.08"),
}
FINAL = {"paid", "paid_over", "wrong_amount", "fail", "cancel", "system_fail", "refund_paid", "refund_fail"}


def php_encode(data: Any) -> str:
    """PHP's json_encode($data, JSON_UNESCAPED_UNICODE) for the shapes webhooks have."""
    out = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for plain, escaped in (("/", "\\/"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        out = out.replace(plain, escaped)
    return out


def md5_sign(body: bytes, key: str) -> str:
    return hashlib.md5(base64.b64encode(body) + key.encode(), usedforsecurity=False).hexdigest()


def eight(value: Decimal) -> str:
    return str(value.quantize(EIGHT, rounding=ROUND_DOWN))


@dataclass
class Invoice:
    uuid: str
    order_id: str
    amount: Decimal
    currency: str
    url_callback: str | None
    url_return: str | None
    url_success: str | None
    lifetime: int
    to_currency: str | None
    network: str | None
    created: float = field(default_factory=time.time)
    status: str = "check"
    payer_currency: str | None = None
    payer_amount: Decimal | None = None
    payment_amount: Decimal | None = None
    txid: str | None = None
    address: str | None = None
    notified_currency: str | None = None  # set by pay(currency=...): the webhook reports this currency

    @property
    def is_final(self) -> bool:
        return self.status in FINAL


class FakeCryptomus(ServedFake):
    def __init__(self, *, merchant: str = MERCHANT, api_key: str = API_KEY) -> None:
        self.merchant = merchant
        self.api_key = api_key
        self.invoices: dict[str, Invoice] = {}
        self.balances: dict[str, Decimal] = {"USDT": Decimal("5.00000000"), "BTC": Decimal("0.57000000")}
        self.lock = threading.Lock()
        self.server = JsonFakeServer(self.handle, name="fake-cryptomus")

    def handle(self, call: Call) -> Answer:
        page = re.fullmatch(r"/pay/([0-9a-f-]{36})", call.path)
        if page:
            return self._page(call, page.group(1))
        if call.method != "POST":
            return _json(405, {"state": 1, "message": "Method not allowed"})
        if call.headers.get("merchant") != self.merchant or call.headers.get("sign") != md5_sign(
            call.body, self.api_key
        ):
            return _json(401, {"message": "Invalid Sign."})
        try:
            params = json.loads(call.body) if call.body else {}
        except ValueError:
            return _json(422, {"state": 1, "message": "Invalid JSON"})
        if not isinstance(params, dict):
            params = {}
        routes = {"/v1/payment": self._create, "/v1/payment/info": self._info, "/v1/balance": self._balance}
        route = routes.get(call.path)
        if route is None:
            return _json(404, {"state": 1, "message": "Not found"})
        with self.lock:
            return route(params)

    def _create(self, params: dict[str, Any]) -> Answer:
        errors: dict[str, list[str]] = {}
        amount = params.get("amount")
        if not isinstance(amount, str) or not re.fullmatch(r"\d+(\.\d+)?", amount) or Decimal(amount) <= 0:
            errors["amount"] = ["The amount must be a number."]
        currency = params.get("currency")
        if not isinstance(currency, str) or not currency:
            errors["currency"] = ["The currency field is required."]
        order_id = params.get("order_id")
        if not isinstance(order_id, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", order_id):
            errors["order_id"] = ["The order id may only contain letters, numbers, dashes and underscores."]
        for name in ("url_callback", "url_return", "url_success"):
            value = params.get(name)
            if value is not None and (not isinstance(value, str) or not 6 <= len(value) <= 255):
                errors[name] = [f"The {name} must be 6 to 255 characters."]
        lifetime = params.get("lifetime", 3600)
        if isinstance(lifetime, bool) or not isinstance(lifetime, int) or not 300 <= lifetime <= 43200:
            errors["lifetime"] = ["The lifetime must be between 300 and 43200."]
        if errors:
            return _json(422, {"state": 1, "message": "Validation error", "errors": errors})
        for invoice in self.invoices.values():
            if invoice.order_id == order_id:  # unique per merchant: the existing invoice comes back
                return _json(200, {"state": 0, "result": self.as_json(invoice)})
        invoice = Invoice(
            uuid=str(uuidlib.uuid4()),
            order_id=order_id,
            amount=Decimal(amount),
            currency=currency.upper(),
            url_callback=params.get("url_callback"),
            url_return=params.get("url_return"),
            url_success=params.get("url_success"),
            lifetime=lifetime,
            to_currency=(params.get("to_currency") or None),
            network=(params.get("network") or None),
        )
        if invoice.to_currency:
            coin = invoice.to_currency.upper()
            invoice.payer_currency = coin
            invoice.payer_amount = (invoice.amount * RATES.get((invoice.currency, coin), Decimal(1))).quantize(EIGHT)
            invoice.address = "T" + secrets.token_hex(16)
        self.invoices[invoice.uuid] = invoice
        return _json(200, {"state": 0, "result": self.as_json(invoice)})

    def _info(self, params: dict[str, Any]) -> Answer:
        wanted_uuid, order_id = params.get("uuid"), params.get("order_id")
        if not wanted_uuid and not order_id:
            return _json(422, {"state": 1, "message": "Validation error", "errors": {"uuid": ["uuid or order_id"]}})
        for invoice in self.invoices.values():
            if (wanted_uuid and invoice.uuid == wanted_uuid) or (not wanted_uuid and invoice.order_id == order_id):
                return _json(200, {"state": 0, "result": self.as_json(invoice)})
        return _json(404, {"state": 1, "message": "Payment not found"})

    def _balance(self, params: dict[str, Any]) -> Answer:
        merchant = [
            {"uuid": str(uuidlib.uuid5(uuidlib.NAMESPACE_DNS, code)), "balance": eight(value), "currency_code": code}
            for code, value in sorted(self.balances.items())
        ]
        return _json(200, {"state": 0, "result": [{"balance": {"merchant": merchant, "user": []}}]})

    def _page(self, call: Call, invoice_uuid: str) -> Answer:
        invoice = self.invoices.get(invoice_uuid)
        if invoice is None:
            return Answer(404, b"Invoice not found", "text/plain")
        if call.method == "POST":
            self.pay(invoice_uuid)
            target = invoice.url_success or "/"
            return Answer(303, b"", "text/plain", {"Location": target})
        text = (
            "<!doctype html><title>Cryptomus (local fake)</title>"
            f"<h1>Pay {html.escape(str(invoice.amount))} {html.escape(invoice.currency)}</h1>"
            f"<p>Status: {html.escape(invoice.status)}</p>"
            f"<form method=post><button type=submit>Pay</button></form>"
        )
        return Answer(200, text.encode(), "text/html; charset=utf-8")

    # ------------------------------------------------------------------ documents

    def as_json(self, invoice: Invoice) -> dict[str, Any]:
        """An invoice as /v1/payment and /v1/payment/info answer it."""
        return {
            "uuid": invoice.uuid,
            "order_id": invoice.order_id,
            "amount": eight(invoice.amount),
            "payment_amount": eight(invoice.payment_amount) if invoice.payment_amount is not None else None,
            "payer_amount": eight(invoice.payer_amount) if invoice.payer_amount is not None else None,
            "discount_percent": None,
            "discount": "0.00000000",
            "payer_currency": invoice.payer_currency,
            "currency": invoice.currency,
            "merchant_amount": None,
            "network": invoice.network,
            "address": invoice.address,
            "from": None,
            "txid": invoice.txid,
            "payment_status": invoice.status,
            "url": f"{self.url}/pay/{invoice.uuid}",
            "expired_at": int(invoice.created + invoice.lifetime),
            "status": invoice.status,
            "is_final": invoice.is_final,
            "additional_data": None,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(invoice.created)),
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        }

    # ------------------------------------------------------------------ the customer's side

    def pay(
        self,
        invoice_uuid: str,
        *,
        amount: Decimal | None = None,
        coin: str | None = None,
        currency: str | None = None,
    ) -> Invoice:
        """The customer pays ``amount`` (invoice currency; default the whole invoice) in ``coin``
        (default the quoted coin, else USDT). The status follows: paid, paid_over or wrong_amount.
        ``currency`` makes the webhook report the invoice in another currency (a wrong-currency case)."""
        invoice = self.invoices[invoice_uuid]
        amount = invoice.amount if amount is None else Decimal(amount)
        coin = (coin or invoice.payer_currency or "USDT").upper()
        rate = RATES.get((invoice.currency, coin), Decimal(1))
        if invoice.payer_currency != coin or invoice.payer_amount is None:
            invoice.payer_currency = coin
            invoice.payer_amount = (invoice.amount * rate).quantize(EIGHT)
        invoice.payment_amount = (amount * rate).quantize(EIGHT, rounding=ROUND_DOWN)
        invoice.status = (
            "paid" if amount == invoice.amount else "paid_over" if amount > invoice.amount else "wrong_amount"
        )
        invoice.txid = secrets.token_hex(32)
        invoice.address = invoice.address or "T" + secrets.token_hex(16)
        invoice.notified_currency = currency.upper() if currency else None
        self.balances[coin] = self.balances.get(coin, Decimal(0)) + invoice.payment_amount
        return invoice

    def set_status(self, invoice_uuid: str, status: str) -> Invoice:
        invoice = self.invoices[invoice_uuid]
        invoice.status = status
        return invoice

    # ------------------------------------------------------------------ webhooks

    def webhook_fields(self, invoice: Invoice, status: str | None = None) -> dict[str, Any]:
        """The webhook's fields in the order of Cryptomus' webhook page, without ``sign``."""
        paid = invoice.payment_amount
        fields: dict[str, Any] = {
            "type": "payment",
            "uuid": invoice.uuid,
            "order_id": invoice.order_id,
            "amount": eight(invoice.amount),
            "payment_amount": eight(paid) if paid is not None else "0.00000000",
            "payment_amount_usd": eight(paid) if paid is not None else "0.00",
            "merchant_amount": eight(paid * Decimal("0.98")) if paid is not None else "0.00000000",
            "commission": eight(paid * Decimal("0.02")) if paid is not None else "0.00000000",
            "is_final": (status or invoice.status) in FINAL,
            "status": status or invoice.status,
            "from": "THgEWubVc8tPKXLJ4VZ5zbiiAK7AgqSeGH" if paid is not None else None,
            "wallet_address_uuid": None,
            "network": invoice.network or "tron",
            "currency": invoice.notified_currency or invoice.currency,
            "payer_currency": invoice.payer_currency,
            "payer_amount": eight(invoice.payer_amount) if invoice.payer_amount is not None else None,
            "additional_data": None,
            "convert": {
                "to_currency": "USDT",
                "commission": None,
                "rate": "1.00000000",
                "amount": eight(paid or Decimal(0)),
            },
            "txid": invoice.txid,
        }
        return fields

    def signed_body(self, fields: dict[str, Any], *, key: str | None = None) -> bytes:
        payload = dict(fields)
        payload.pop("sign", None)
        payload["sign"] = md5_sign(php_encode(payload).encode(), key or self.api_key)
        return php_encode(payload).encode()

    def webhook(self, invoice_uuid: str, *, status: str | None = None, key: str | None = None) -> Incoming:
        invoice = self.invoices[invoice_uuid]
        body = self.signed_body(self.webhook_fields(invoice, status), key=key)
        return Incoming(
            body=body,
            headers={"content-type": "application/json"},
            form={},
            query={},
            remote_addr=WEBHOOK_IP,
        )


def _json(status: int, data: Any) -> Answer:
    return Answer(status, json.dumps(data, ensure_ascii=False).encode())


class Driver:
    """The flow tests' player of the customer and of Cryptomus (see testing.gateways)."""

    code = "cryptomus"
    currency = "USD"
    # Outcomes notification() can send: Cryptomus has no chargebacks (crypto transfers are final).
    outcomes = ("paid", "partial", "pending", "failed", "expired", "refunded")
    STATUSES = {"failed": "fail", "expired": "cancel", "refunded": "refund_paid", "pending": "confirm_check"}

    def __init__(self) -> None:
        self.fake = FakeCryptomus()
        self.base_url = ""

    def __enter__(self) -> Driver:
        self.fake.start()
        self.base_url = self.fake.url
        return self

    def __exit__(self, *exc: object) -> None:
        self.fake.stop()

    def config(self) -> dict[str, str]:
        # The notify view sees the test client's address; the published one stays allowed too.
        return {"merchant": MERCHANT, "api_key": API_KEY, "webhook_ips": f"127.0.0.1, {WEBHOOK_IP}"}

    def pay(self, checkout: Checkout, *, amount: Decimal | None = None, currency: str | None = None) -> None:
        self.fake.pay(checkout.external_id, amount=amount, currency=currency)

    def notification(self, checkout: Checkout, *, outcome: str = "paid") -> Incoming:
        if outcome not in self.outcomes:
            raise NotImplementedError(f"Cryptomus sends no {outcome!r} notification.")
        status = None if outcome in ("paid", "partial") else self.STATUSES[outcome]
        return self.fake.webhook(checkout.external_id, status=status)

    def tamper(self, incoming: Incoming) -> Incoming:
        fields = json.loads(incoming.body)
        for name in ("amount", "payment_amount", "payer_amount"):
            if fields.get(name) is not None:
                fields[name] = eight(Decimal(fields[name]) * 2)
        return Incoming(
            body=php_encode(fields).encode(),
            headers=dict(incoming.headers),
            form=dict(incoming.form),
            query=dict(incoming.query),
            remote_addr=incoming.remote_addr,
        )
