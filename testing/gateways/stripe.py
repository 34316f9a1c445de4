"""A local fake of the parts of Stripe's API the panel uses, and the flow tests' Driver for Stripe.

The fake answers as https://docs.stripe.com/api documents, over real HTTP on 127.0.0.1:

- POST /v1/checkout/sessions (form-encoded, bracketed keys such as
  ``line_items[0][price_data][unit_amount]``; ``Idempotency-Key`` returns the same session);
- GET /v1/checkout/sessions/<id>, and GET /v1/checkout/sessions?payment_intent=<id> (a list);
- GET /v1/balance (the connection test);
- every call needs ``Authorization: Bearer <secret key>``, otherwise 401 with Stripe's error shape.

Events are signed as Stripe's webhooks are (https://docs.stripe.com/webhooks#verify-manually):
header ``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the endpoint's
whsec_ secret>``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from billing.gateways.base import Checkout, Incoming
from billing.gateways.stripe import major_units, minor_units

SECRET_KEY = "sk_test_fake_51NotARealKey"
WEBHOOK_SECRET = "whsec_fake_endpoint_secret"


def sign(body: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _nested(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding (a[b][0][c]=v) back into dicts; list indexes stay dict keys."""
    out: dict = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


class FakeStripe:
    def __init__(self, secret_key: str = SECRET_KEY) -> None:
        self.secret_key = secret_key
        self.sessions: dict[str, dict] = {}
        self.by_key: dict[str, str] = {}
        self.requests: list[dict] = []  # every call: method, path, headers (lower-case), form params
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                status, answer = fake.handle(self.command, self.path, dict(self.headers.items()), body)
                html = isinstance(answer, str)
                data = answer.encode() if html else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8" if html else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @staticmethod
    def error(status: int, kind: str, message: str) -> tuple[int, dict]:
        return status, {"error": {"type": kind, "message": message}}

    def handle(self, method: str, raw_path: str, headers: dict, body: str) -> tuple[int, dict | str]:
        headers = {k.lower(): v for k, v in headers.items()}
        split = urlsplit(raw_path)
        path, query = split.path, dict(parse_qsl(split.query))
        if method == "GET" and path.startswith("/c/pay/"):
            return self.hosted_page(path.rsplit("/", 1)[1])
        self.requests.append(
            {
                "method": method,
                "path": path,
                "headers": headers,
                "params": dict(parse_qsl(body, keep_blank_values=True)),
            }
        )
        if headers.get("authorization") != f"Bearer {self.secret_key}":
            return self.error(401, "invalid_request_error", "Invalid API Key provided.")
        with self.lock:
            if method == "POST" and path == "/v1/checkout/sessions":
                return self.session_create(_nested(parse_qsl(body, keep_blank_values=True)), headers)
            if method == "GET" and path == "/v1/checkout/sessions":
                found = [s for s in self.sessions.values() if s.get("payment_intent") == query.get("payment_intent")]
                return 200, {"object": "list", "data": found[:1], "has_more": False, "url": "/v1/checkout/sessions"}
            if method == "GET" and path.startswith("/v1/checkout/sessions/"):
                session = self.sessions.get(path.rsplit("/", 1)[1])
                if session is None:
                    return self.error(404, "invalid_request_error", "No such checkout.session")
                return 200, session
            if method == "GET" and path == "/v1/balance":
                return 200, {"object": "balance", "livemode": False, "available": [{"amount": 0, "currency": "usd"}]}
        return self.error(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")

    def hosted_page(self, session_id: str) -> tuple[int, str]:
        """The customer's side of Checkout (a stand-in page: the test pays through pay())."""
        session = self.sessions.get(session_id)
        if session is None:
            return 404, "<h1>No such session</h1>"
        amount = major_units(session["amount_total"], session["currency"])
        return 200, (
            "<!doctype html><title>Stripe Checkout (local fake)</title>"
            "<body style='font-family:sans-serif;padding:40px'><h1>Stripe Checkout (local fake)</h1>"
            f"<p>Pay <strong>{amount} {session['currency'].upper()}</strong> for session {session_id}.</p></body>"
        )

    def session_create(self, params: dict, headers: dict) -> tuple[int, dict]:
        key = headers.get("idempotency-key", "")
        if key and key in self.by_key:
            return 200, self.sessions[self.by_key[key]]
        line = (params.get("line_items") or {}).get("0") or {}
        price = line.get("price_data") or {}
        if params.get("mode") != "payment" or not str(price.get("unit_amount", "")).isdigit():
            return self.error(400, "invalid_request_error", "Missing required param: line_items[0][price_data].")
        session_id = f"cs_test_{next(self.ids):06d}"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "payment",
            "url": f"{self.url}/c/pay/{session_id}",
            "amount_total": int(price["unit_amount"]) * int(line.get("quantity") or 1),
            "currency": price.get("currency", ""),
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata") or {},
            "customer_email": params.get("customer_email"),
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "livemode": False,
        }
        self.sessions[session_id] = session
        if key:
            self.by_key[key] = session_id
        return 200, session

    def pay(self, session_id: str, *, amount: Decimal | None = None, currency: str | None = None) -> dict:
        with self.lock:
            session = self.sessions[session_id]
            if currency is not None:
                session["currency"] = currency.lower()
            if amount is not None:
                session["amount_total"] = minor_units(amount, session["currency"])
            session.update(payment_status="paid", status="complete", payment_intent=f"pi_{session_id[8:]}")
            return dict(session)

    def expire(self, session_id: str) -> dict:
        with self.lock:
            self.sessions[session_id].update(status="expired")
            return dict(self.sessions[session_id])


def event(type_: str, obj: dict, event_id: str | None = None) -> str:
    return json.dumps(
        {
            "id": event_id
            or f"evt_{hashlib.sha256((type_ + json.dumps(obj, sort_keys=True)).encode()).hexdigest()[:24]}",
            "object": "event",
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()),
            "livemode": False,
            "type": type_,
            "data": {"object": obj},
        }
    )


def incoming(body: str, *, secret: str = WEBHOOK_SECRET, signature: str | None = None) -> Incoming:
    return Incoming(
        body=body.encode(),
        headers={"content-type": "application/json", "stripe-signature": signature or sign(body, secret)},
        form={},
        query={},
        remote_addr="127.0.0.1",
    )


class Driver:
    """The flow tests' customer and gateway for Stripe (testing.gateways contract)."""

    code = "stripe"
    currency = "USD"
    outcomes = ("paid", "pending", "failed", "expired", "refunded", "chargeback")

    def __init__(self) -> None:
        self.fake = FakeStripe()

    def __enter__(self) -> Driver:
        self.fake.start()
        return self

    def __exit__(self, *exc) -> None:
        self.fake.stop()

    @property
    def base_url(self) -> str:
        return self.fake.url

    def config(self) -> dict[str, str]:
        return {"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}

    def pay(self, checkout: Checkout, *, amount: Decimal | None = None, currency: str | None = None) -> None:
        self.fake.pay(checkout.external_id, amount=amount, currency=currency)

    def notification(self, checkout: Checkout, *, outcome: str = "paid") -> Incoming:
        session = dict(self.fake.sessions[checkout.external_id])
        if outcome == "paid":
            return incoming(event("checkout.session.completed", session))
        if outcome == "pending":  # a delayed method (bank debit): completed, not yet paid
            return incoming(event("checkout.session.completed", {**session, "payment_status": "unpaid"}))
        if outcome == "failed":
            return incoming(event("checkout.session.async_payment_failed", {**session, "payment_status": "unpaid"}))
        if outcome == "expired":
            return incoming(event("checkout.session.expired", self.fake.expire(checkout.external_id)))
        if outcome == "refunded":
            charge = {
                "id": f"ch_{session['id'][8:]}",
                "object": "charge",
                "amount": session["amount_total"],
                "amount_refunded": session["amount_total"],
                "currency": session["currency"],
                "payment_intent": session["payment_intent"],
                "refunded": True,
                "refunds": {
                    "object": "list",
                    "data": [
                        {
                            "id": f"re_{session['id'][8:]}",
                            "object": "refund",
                            "amount": session["amount_total"],
                            "currency": session["currency"],
                            "status": "succeeded",
                        }
                    ],
                },
            }
            return incoming(event("charge.refunded", charge))
        if outcome == "chargeback":
            dispute = {
                "id": f"dp_{session['id'][8:]}",
                "object": "dispute",
                "amount": session["amount_total"],
                "currency": session["currency"],
                "charge": f"ch_{session['id'][8:]}",
                "payment_intent": session["payment_intent"],
                "status": "needs_response",
            }
            return incoming(event("charge.dispute.created", dispute))
        raise ValueError(f"Stripe sends no {outcome!r} notification in this driver.")

    def tamper(self, incoming_: Incoming) -> Incoming:
        data = json.loads(incoming_.body)
        obj = data["data"]["object"]
        for key in ("amount_total", "amount_refunded", "amount"):
            if isinstance(obj.get(key), int):
                obj[key] = obj[key] * 10
        for refund in (obj.get("refunds") or {}).get("data") or ():
            refund["amount"] = refund["amount"] * 10
        body = json.dumps(data)
        return Incoming(
            body=body.encode(), headers=dict(incoming_.headers), form={}, query={}, remote_addr=incoming_.remote_addr
        )


__all__ = ["Driver", "FakeStripe", "event", "incoming", "major_units", "sign"]
