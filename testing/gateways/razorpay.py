"""A local fake of Razorpay: the parts of its API the panel calls, Hosted Checkout's page, and the
webhooks Razorpay sends, signed as Razorpay documents them. Never the real service.

API (https://razorpay.com/docs/api/orders/): Basic auth with key ID and key secret; wrong keys get
``{"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed"}}`` with status 400
as the Orders reference lists it.

- ``POST /v1/orders`` (JSON: amount in subunits, currency, receipt <= 40 characters, notes <= 15
  keys of <= 256 characters; at least INR 1.00) -> the Order entity;
- ``GET /v1/orders`` (count, skip) -> a collection; ``GET /v1/orders/{id}`` -> the Order;
  ``GET /v1/orders/{id}/payments`` -> the collection of its payments;
- ``GET /v1/checkout.js``: a stand-in for Standard Checkout's script (``CHECKOUT_JS`` below), whose
  frame (``/_fake/checkout/frame``) has Pay, Fail and Close buttons, for browser tests;
- ``POST /v1/checkout/embedded`` (Hosted Checkout's form) -> a page with Pay and Fail buttons,
  which end in the POST Razorpay makes to ``callback_url`` (``razorpay_payment_id``,
  ``razorpay_order_id``, ``razorpay_signature`` = hex HMAC-SHA256 of "order_id|payment_id" with the
  key secret) or the GET to ``cancel_url``.

Webhooks (https://razorpay.com/docs/webhooks/validate-test/): JSON events (``entity: "event"``,
``account_id``, ``event``, ``contains``, ``payload``, ``created_at``), ``X-Razorpay-Signature`` =
hex HMAC-SHA256 of the raw body with the webhook secret, ``X-Razorpay-Event-Id`` unique per event.
Payload shapes follow the samples in Razorpay's webhook reference (payments, orders, refunds,
disputes).

``hang_seconds`` > 0 makes every API answer wait that long (for timeout tests).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import string
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from billing.gateways.base import Checkout, Incoming
from billing.gateways.razorpay import EXPONENTS

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """A Razorpay-looking ID: prefix, underscore, 14 base62 characters."""
    return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(14))}"


def sign(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _error(description: str, *, field: str | None = None, code: str = "BAD_REQUEST_ERROR") -> dict:
    return {
        "error": {
            "code": code,
            "description": description,
            "source": "business" if field else "NA",
            "step": "payment_initiation" if field else "NA",
            "reason": "input_validation_failed" if field else "NA",
            "metadata": {},
            "field": field,
        }
    }


class FakeRazorpay:
    """Razorpay's API and webhooks for one merchant account, in memory, on 127.0.0.1."""

    def __init__(
        self,
        *,
        key_id: str = "rzp_test_FakeKeyId00001",
        key_secret: str | None = None,
        webhook_secret: str | None = None,
        account_id: str = "acc_FakeMerchant0001",
    ) -> None:
        self.key_id = key_id
        # Fresh secrets per fake, so a test that finds one in a message found a real leak.
        self.key_secret = key_secret or secrets.token_urlsafe(18)
        self.webhook_secret = webhook_secret or secrets.token_urlsafe(18)
        self.account_id = account_id
        self.orders: dict[str, dict] = {}
        self.payments: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self.hang_seconds = 0.0
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- server ----------------------------------------------------------------------------------

    def start(self) -> FakeRazorpay:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-razorpay", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeRazorpay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def checkout_js(self) -> str:
        """Where the stand-in for https://checkout.razorpay.com/v1/checkout.js is served."""
        return f"{self.url}/v1/checkout.js"

    # -- state -----------------------------------------------------------------------------------

    def create_order(self, data: Any) -> tuple[int, dict]:
        if not isinstance(data, dict):
            return 400, _error("The request body is not valid JSON.")
        amount, currency = data.get("amount"), data.get("currency")
        for name in ("amount", "currency"):
            if name not in data:
                return 400, _error(f"The {name} field is required.", field=name)
        if isinstance(amount, bool) or not isinstance(amount, int):
            return 400, _error("The amount must be an integer.", field="amount")
        if not isinstance(currency, str) or currency not in EXPONENTS:
            return 400, _error("Currency is not supported", field="currency")
        if currency == "INR" and amount < 100:
            return 400, _error("The amount must be at least INR 1.00", field="amount")
        if amount <= 0:
            return 400, _error("The amount must be greater than 0.", field="amount")
        if EXPONENTS[currency] == 3 and amount % 10:
            return 400, _error("The last digit of a three decimal currency amount must be 0.", field="amount")
        receipt = data.get("receipt")
        if receipt is not None and (not isinstance(receipt, str) or len(receipt) > 40):
            return 400, _error("The receipt may not be greater than 40 characters.", field="receipt")
        notes = data.get("notes", {})
        if not isinstance(notes, dict) or len(notes) > 15 or any(len(str(v)) > 256 for v in notes.values()):
            return 400, _error("The notes may hold 15 keys of 256 characters at most.", field="notes")
        order = {
            "id": new_id("order"),
            "entity": "order",
            "amount": amount,
            "amount_paid": 0,
            "amount_due": amount,
            "currency": currency,
            "receipt": receipt,
            "offer_id": None,
            "status": "created",
            "attempts": 0,
            "notes": notes or [],
            "created_at": int(time.time()),
        }
        with self.lock:
            self.orders[order["id"]] = order
        return 200, order

    def order_payments(self, order_id: str) -> list[dict]:
        with self.lock:
            return [dict(p) for p in self.payments.values() if p["order_id"] == order_id]

    def pay(
        self,
        order_id: str,
        *,
        amount: int | None = None,
        currency: str | None = None,
        status: str = "captured",
        method: str = "upi",
        notes: dict | None = None,
    ) -> dict:
        """A payment on the order, as if the customer paid at Checkout (``status`` captured,
        authorized or failed). ``amount``/``currency`` (subunits) default to the order's."""
        with self.lock:
            order = self.orders[order_id]
            paid = status == "captured"
            payment = {
                "id": new_id("pay"),
                "entity": "payment",
                "amount": order["amount"] if amount is None else amount,
                "currency": currency or order["currency"],
                "base_amount": order["amount"] if amount is None else amount,
                "status": status,
                "order_id": order_id,
                "invoice_id": None,
                "international": False,
                "method": method,
                "amount_refunded": 0,
                "amount_transferred": 0,
                "refund_status": None,
                "captured": paid,
                "description": None,
                "card_id": None,
                "bank": None,
                "wallet": None,
                "vpa": "success@razorpay" if paid else "failure@razorpay",
                "email": "void@razorpay.com",
                "contact": "+919999999999",
                "notes": notes if notes is not None else (order["notes"] or []),
                "fee": 2 if paid else None,
                "tax": 0 if paid else None,
                "error_code": None if status != "failed" else "BAD_REQUEST_ERROR",
                "error_description": None if status != "failed" else "Payment failed",
                "error_source": None if status != "failed" else "issuer",
                "error_step": None if status != "failed" else "payment_authorization",
                "error_reason": None if status != "failed" else "payment_failed",
                "acquirer_data": {"rrn": "0125836177" if paid else None},
                "created_at": int(time.time()),
                "upi": {"vpa": "success@razorpay" if paid else "failure@razorpay", "flow": "intent"},
            }
            self.payments[payment["id"]] = payment
            order["attempts"] += 1
            if order["status"] == "created":
                order["status"] = "attempted"
            if paid:
                order["amount_paid"] += payment["amount"]
                order["amount_due"] = max(order["amount"] - order["amount_paid"], 0)
                order["status"] = "paid"
            return dict(payment)

    def refund(self, payment_id: str, *, amount: int | None = None) -> dict:
        with self.lock:
            payment = self.payments[payment_id]
            value = payment["amount"] if amount is None else amount
            refund = {
                "id": new_id("rfnd"),
                "entity": "refund",
                "amount": value,
                "currency": payment["currency"],
                "payment_id": payment_id,
                "notes": [],
                "receipt": None,
                "acquirer_data": {"arn": None},
                "created_at": int(time.time()),
                "batch_id": None,
                "status": "processed",
                "speed_processed": "normal",
                "speed_requested": "normal",
            }
            payment["amount_refunded"] += value
            full = payment["amount_refunded"] >= payment["amount"]
            payment["refund_status"] = "full" if full else "partial"
            if full:
                payment["status"] = "refunded"
            return refund

    def dispute(self, payment_id: str, *, amount: int | None = None) -> dict:
        with self.lock:
            payment = self.payments[payment_id]
            value = payment["amount"] if amount is None else amount
            return {
                "id": new_id("disp"),
                "entity": "dispute",
                "payment_id": payment_id,
                "amount": value,
                "currency": payment["currency"],
                "amount_deducted": 0,
                "reason_code": "chargeback",
                "respond_by": int(time.time()) + 7 * 86400,
                "status": "open",
                "phase": "chargeback",
                "created_at": int(time.time()),
            }

    # -- webhooks --------------------------------------------------------------------------------

    def event(self, name: str, **entities: dict) -> tuple[bytes, dict[str, str]]:
        """The webhook body and headers Razorpay sends for ``name`` with these entities
        (payment=..., order=..., refund=..., dispute=...), signed with the webhook secret."""
        body = json.dumps(
            {
                "entity": "event",
                "account_id": self.account_id,
                "event": name,
                "contains": list(entities),
                "payload": {kind: {"entity": entity} for kind, entity in entities.items()},
                "created_at": int(time.time()),
            },
            separators=(",", ":"),
        ).encode()
        headers = {
            "content-type": "application/json",
            "x-razorpay-event-id": new_id("evt").removeprefix("evt_"),
            "x-razorpay-signature": sign(self.webhook_secret, body),
        }
        return body, headers

    def incoming(self, name: str, *, remote_addr: str = "127.0.0.1", **entities: dict) -> Incoming:
        body, headers = self.event(name, **entities)
        return Incoming(body=body, headers=headers, form={}, query={}, remote_addr=remote_addr)

    def callback_signature(self, order_id: str, payment_id: str) -> str:
        """razorpay_signature as Checkout posts it to callback_url."""
        return sign(self.key_secret, f"{order_id}|{payment_id}".encode())


# A stand-in for https://checkout.razorpay.com/v1/checkout.js, for browser tests: ``new
# Razorpay(options).open()`` shows a frame served by the fake (as the real one shows
# api.razorpay.com's); Pay calls ``options.handler`` with razorpay_payment_id, razorpay_order_id and
# razorpay_signature, Fail fires ``on("payment.failed")`` callbacks, Close calls
# ``options.modal.ondismiss``. The pay page's CSP must allow the fake's origin in script-src and
# frame-src.
CHECKOUT_JS = """(function () {
  var script = document.currentScript;
  var origin = script ? new URL(script.src).origin : "";
  function Razorpay(options) { this.options = options || {}; this.callbacks = {}; }
  Razorpay.prototype.on = function (name, callback) {
    (this.callbacks[name] = this.callbacks[name] || []).push(callback);
  };
  Razorpay.prototype.open = function () {
    var self = this, options = this.options;
    var frame = document.createElement("iframe");
    frame.id = "razorpay-checkout-frame";
    frame.title = "Razorpay Checkout";
    frame.src = origin + "/_fake/checkout/frame?key_id=" + encodeURIComponent(options.key || "") +
      "&order_id=" + encodeURIComponent(options.order_id || "");
    frame.style.cssText = "position:fixed;inset:0;width:100%;height:100%;border:0;z-index:2147483647;background:#fff";
    document.body.appendChild(frame);
    var listener = function (event) {
      if (event.origin !== origin || !event.data) return;
      var data = event.data;
      if (data.event === "payment.failed") {
        (self.callbacks["payment.failed"] || []).forEach(function (cb) { cb(data.response); });
        return;
      }
      window.removeEventListener("message", listener);
      frame.remove();
      if (data.event === "payment.success" && options.handler) options.handler(data.response);
      if (data.event === "dismiss" && options.modal && options.modal.ondismiss) options.modal.ondismiss();
    };
    window.addEventListener("message", listener);
  };
  window.Razorpay = Razorpay;
})();
"""

CHECKOUT_FRAME = """<!DOCTYPE html><html><head><title>Razorpay Checkout (fake)</title></head><body>
<h1>Razorpay (fake)</h1><p id="amount">{amount}</p>
<button id="pay">Pay</button> <button id="fail">Fail</button> <button id="close">Close</button>
<script>
function answer(outcome) {
  return fetch("/_fake/checkout/answer", {method: "POST",
    headers: {"Content-Type": "application/x-www-form-urlencoded"},
    body: "order_id={order_id}&outcome=" + outcome}).then(function (r) { return r.json(); });
}
document.getElementById("pay").onclick = function () {
  answer("paid").then(function (r) { parent.postMessage({event: "payment.success", response: r}, "*"); });
};
document.getElementById("fail").onclick = function () {
  answer("failed").then(function (r) { parent.postMessage({event: "payment.failed", response: r}, "*"); });
};
document.getElementById("close").onclick = function () { parent.postMessage({event: "dismiss"}, "*"); };
</script></body></html>
"""


class _Handler(BaseHTTPRequestHandler):
    fake: FakeRazorpay
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return False
        try:
            key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        fake = self.fake
        return hmac.compare_digest(key, fake.key_id) and hmac.compare_digest(secret, fake.key_secret)

    def _route(self, method: str) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        path, query = parts.path.rstrip("/"), dict(parse_qsl(parts.query))
        fake.requests.append((method, path))
        if path == "/v1/checkout.js" and method == "GET":
            self._send(200, CHECKOUT_JS.encode(), "application/javascript; charset=utf-8")
            return
        if path == "/_fake/checkout/frame" and method == "GET":
            self._checkout_frame(query)
            return
        if path == "/_fake/checkout/answer" and method == "POST":
            self._checkout_answer(dict(parse_qsl(raw.decode())))
            return
        if path.startswith("/_fake/checkout/"):
            self._checkout_step(path, dict(parse_qsl(raw.decode())))
            return
        if path == "/v1/checkout/embedded" and method == "POST":
            self._hosted_checkout(dict(parse_qsl(raw.decode())))
            return
        if fake.hang_seconds:
            time.sleep(fake.hang_seconds)
        if not self._authorised():
            self._send(400, _error("Authentication failed"))
            return
        segments = path.split("/")[1:]
        if segments[:2] != ["v1", "orders"]:
            self._send(400, _error("The requested URL was not found on the server."))
            return
        if method == "POST" and len(segments) == 2:
            try:
                data = json.loads(raw or b"null")
            except ValueError:
                data = None
            self._send(*fake.create_order(data))
            return
        if method == "GET" and len(segments) == 2:
            with fake.lock:
                items = sorted(fake.orders.values(), key=lambda o: o["created_at"], reverse=True)
            skip, count = int(query.get("skip", 0)), min(int(query.get("count", 10)), 100)
            page = items[skip : skip + count]
            self._send(200, {"entity": "collection", "count": len(page), "items": page})
            return
        order_id = segments[2] if len(segments) > 2 else ""
        with fake.lock:
            order = dict(fake.orders[order_id]) if order_id in fake.orders else None
        if method != "GET" or order is None or len(segments) > 4:
            self._send(400, _error("The id provided does not exist"))
            return
        if len(segments) == 3:
            self._send(200, order)
        elif segments[3] == "payments":
            items = fake.order_payments(order_id)
            self._send(200, {"entity": "collection", "count": len(items), "items": items})
        else:
            self._send(400, _error("The requested URL was not found on the server."))

    # Hosted Checkout: a page standing in for Razorpay's, then the form back to the merchant.

    def _hosted_checkout(self, form: dict[str, str]) -> None:
        fake = self.fake
        order = fake.orders.get(form.get("order_id", ""))
        if form.get("key_id") != fake.key_id or order is None or not form.get("callback_url"):
            self._send(400, b"<p>Invalid checkout request</p>", "text/html")
            return
        amount = Decimal(order["amount"]).scaleb(-EXPONENTS[order["currency"]])
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(form.get(k, ""))}">'
            for k in ("order_id", "callback_url", "cancel_url")
        )
        page = (
            f"<!DOCTYPE html><html><head><title>Razorpay (fake)</title></head><body>"
            f"<h1>{html.escape(form.get('name', ''))}</h1><p id='amount'>{amount} {order['currency']}</p>"
            f"<form method='post' action='/_fake/checkout/pay'>{hidden}<button id='pay'>Pay</button></form>"
            f"<form method='post' action='/_fake/checkout/fail'>{hidden}<button id='fail'>Fail</button></form>"
            f"<form method='post' action='/_fake/checkout/cancel'>{hidden}<button id='cancel'>Cancel</button></form>"
            f"</body></html>"
        )
        self._send(200, page.encode(), "text/html; charset=utf-8")

    # Standard Checkout: checkout.js opens a frame of ours, which answers the page by postMessage.

    def _checkout_frame(self, query: dict[str, str]) -> None:
        fake = self.fake
        order = fake.orders.get(query.get("order_id", ""))
        if query.get("key_id") != fake.key_id or order is None:
            self._send(400, b"<p>Invalid checkout options</p>", "text/html")
            return
        amount = Decimal(order["amount"]).scaleb(-EXPONENTS[order["currency"]])
        page = CHECKOUT_FRAME.replace("{order_id}", html.escape(order["id"])).replace(
            "{amount}", html.escape(f"{amount} {order['currency']}")
        )
        self._send(200, page.encode(), "text/html; charset=utf-8")

    def _checkout_answer(self, form: dict[str, str]) -> None:
        fake = self.fake
        order_id = form.get("order_id", "")
        if order_id not in fake.orders or form.get("outcome") not in {"paid", "failed"}:
            self._send(400, _error("The id provided does not exist"))
            return
        if form["outcome"] == "paid":
            payment = fake.pay(order_id)
            answer = {
                "razorpay_payment_id": payment["id"],
                "razorpay_order_id": order_id,
                "razorpay_signature": fake.callback_signature(order_id, payment["id"]),
            }
        else:
            payment = fake.pay(order_id, status="failed")
            answer = {
                "error": {
                    "code": "BAD_REQUEST_ERROR",
                    "description": "Payment failed",
                    "source": "issuer",
                    "step": "payment_authorization",
                    "reason": "payment_failed",
                    "metadata": {"payment_id": payment["id"], "order_id": order_id},
                }
            }
        self._send(200, answer)

    def _checkout_step(self, path: str, form: dict[str, str]) -> None:
        fake = self.fake
        order_id = form.get("order_id", "")
        if order_id not in fake.orders:
            self._send(400, b"<p>Unknown order</p>", "text/html")
            return
        step = path.rsplit("/", 1)[-1]
        if step == "cancel":
            self.send_response(303)
            self.send_header("Location", form.get("cancel_url") or form.get("callback_url", "/"))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if step == "pay":
            payment = fake.pay(order_id)
            fields = {
                "razorpay_payment_id": payment["id"],
                "razorpay_order_id": order_id,
                "razorpay_signature": fake.callback_signature(order_id, payment["id"]),
            }
        else:
            payment = fake.pay(order_id, status="failed")
            fields = {
                "error[code]": "BAD_REQUEST_ERROR",
                "error[description]": "Payment failed",
                "error[source]": "issuer",
                "error[step]": "payment_authorization",
                "error[reason]": "payment_failed",
                "error[metadata]": json.dumps({"payment_id": payment["id"], "order_id": order_id}),
            }
        inputs = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in fields.items()
        )
        # The real page posts back by script; this one waits for a click, so tests see each step.
        page = (
            "<!DOCTYPE html><html><body>"
            f"<form method='post' action='{html.escape(form.get('callback_url', ''))}'>{inputs}"
            "<button id='continue'>Continue</button></form></body></html>"
        )
        self._send(200, page.encode(), "text/html; charset=utf-8")


class Driver:
    """Plays the customer and Razorpay for billing/tests/test_gateway_flows.py."""

    code = "razorpay"
    currency = "INR"
    outcomes = ("paid", "pending", "failed", "refunded", "chargeback")

    def __init__(self) -> None:
        self.fake = FakeRazorpay()

    def __enter__(self) -> Driver:
        self.fake.start()
        self.base_url = self.fake.url
        # For browser tests of the pay page: load this instead of Razorpay's checkout.js (and let
        # CSP allow base_url in script-src and frame-src).
        self.checkout_js = self.fake.checkout_js
        return self

    def __exit__(self, *exc: object) -> None:
        self.fake.stop()

    def config(self) -> dict[str, str]:
        return {
            "key_id": self.fake.key_id,
            "key_secret": self.fake.key_secret,
            "webhook_secret": self.fake.webhook_secret,
            "business_name": "Test panel",
            "account_id": self.fake.account_id,
            # The fake's notifications come from loopback, not Razorpay's published addresses.
            "webhook_ips": "127.0.0.1,::1",
        }

    def _order(self, checkout: Checkout) -> dict:
        order = self.fake.orders.get(checkout.external_id)
        if order is None:
            raise LookupError(f"the fake has no order {checkout.external_id!r}")
        return order

    def pay(self, checkout: Checkout, *, amount: Decimal | None = None, currency: str | None = None) -> None:
        order = self._order(checkout)
        code = (currency or order["currency"]).upper()
        minor = None if amount is None else int(Decimal(amount).scaleb(EXPONENTS.get(code, 2)))
        self.fake.pay(order["id"], amount=minor, currency=code)

    def _captured(self, order: dict) -> dict:
        captured = [p for p in self.fake.order_payments(order["id"]) if p["status"] in {"captured", "refunded"}]
        if not captured:
            self.fake.pay(order["id"])
            captured = [p for p in self.fake.order_payments(order["id"]) if p["status"] == "captured"]
        return captured[-1]

    def notification(self, checkout: Checkout, *, outcome: str = "paid") -> Incoming:
        order = self._order(checkout)
        if outcome == "paid":
            payment = self._captured(order)
            return self.fake.incoming("order.paid", payment=payment, order=dict(self.fake.orders[order["id"]]))
        if outcome == "failed":
            payment = self.fake.pay(order["id"], status="failed")
            return self.fake.incoming("payment.failed", payment=payment)
        if outcome == "pending":
            payment = self.fake.pay(order["id"], status="authorized")
            return self.fake.incoming("payment.authorized", payment=payment)
        if outcome == "refunded":
            payment = self._captured(order)
            refund = self.fake.refund(payment["id"])
            return self.fake.incoming(
                "refund.processed", refund=refund, payment=dict(self.fake.payments[payment["id"]])
            )
        if outcome == "chargeback":
            payment = self._captured(order)
            dispute = self.fake.dispute(payment["id"])
            return self.fake.incoming("payment.dispute.created", payment=payment, dispute=dispute)
        raise ValueError(f"Razorpay sends no {outcome!r} notification")

    def tamper(self, incoming: Incoming) -> Incoming:
        event = json.loads(incoming.body)
        entity = event["payload"]["payment"]["entity"]
        entity["amount"] += 100
        body = json.dumps(event, separators=(",", ":")).encode()
        return Incoming(body=body, headers=dict(incoming.headers), form={}, query={}, remote_addr=incoming.remote_addr)
