"""A local fake of Paystack's API (paystack.com/docs/api, github.com/PaystackOSS/openapi), for tests
and the demo.

What it speaks, as the documentation describes it:

- ``Authorization: Bearer <secret key>`` on every call; otherwise 401 ``{"status": false, "message":
  "Invalid key"}``. Answers are ``{"status": true, "message": ..., "data": ...}``.
- POST /transaction/initialize: email and amount (an integer in subunits) required; currency one
  the merchant's account takes (NGN unless told otherwise; otherwise 400 "Currency not supported by
  merchant", their documented message); reference unique (a second use is 400 "Duplicate
  Transaction Reference") of letters, digits, '-', '.', '='; answers authorization_url, access_code,
  reference. The transaction starts "abandoned", as Paystack shows a checkout nobody finished.
- GET /transaction/verify/:reference: the transaction (the fields of their example answer), or 400
  ``{"status": false, "message": "Transaction reference not found", ...}``.
- GET /balance: the balances per currency, in subunits.
- GET /checkout/<access_code>: a minimal Checkout page; POST pays it and redirects to callback_url
  with ``?trxref=<reference>&reference=<reference>`` appended, as Paystack does.

Events (charge.success, refund.processed, charge.dispute.create: the shapes of their webhook page)
are built from Python and signed as Paystack signs them: ``x-paystack-signature`` = HMAC-SHA512 of
the raw body keyed with the secret key, hex.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from billing.gateways.base import Checkout, Incoming

from .jsonfake import Answer, Call, JsonFakeServer, ServedFake

SECRET_KEY = "sk_test_" + "4f1c" * 10  # the shape of a test secret key
WEBHOOK_IPS = ("52.31.139.75", "52.49.173.169", "52.214.14.220")
REFERENCE = re.compile(r"[A-Za-z0-9.=-]+")


def hmac_sha512(body: bytes, key: str) -> str:
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(moment))


@dataclass
class Transaction:
    id: int
    reference: str
    access_code: str
    amount: int  # subunits
    currency: str
    email: str
    callback_url: str | None
    metadata: Any
    channels: list[str] | None
    created: float = field(default_factory=time.time)
    status: str = "abandoned"
    paid_amount: int | None = None  # what the customer was charged, subunits
    paid_currency: str | None = None
    paid_at: float | None = None


class FakePaystack(ServedFake):
    def __init__(self, *, secret_key: str = SECRET_KEY, currencies: tuple[str, ...] = ("NGN",)) -> None:
        self.secret_key = secret_key
        self.currencies = currencies
        self.transactions: dict[str, Transaction] = {}
        self.balances: dict[str, int] = {"NGN": 1_700_000}
        self.ids = itertools.count(4099260516)
        self.lock = threading.Lock()
        self.server = JsonFakeServer(self.handle, name="fake-paystack")

    def handle(self, call: Call) -> Answer:
        page = re.fullmatch(r"/checkout/([0-9a-z]+)", call.path)
        if page:
            return self._page(call, page.group(1))
        if call.headers.get("authorization") != f"Bearer {self.secret_key}":
            return _json(401, {"status": False, "message": "Invalid key"})
        with self.lock:
            if call.method == "POST" and call.path == "/transaction/initialize":
                return self._initialize(call)
            verify = re.fullmatch(r"/transaction/verify/(.+)", call.path)
            if call.method == "GET" and verify:
                return self._verify(unquote(verify.group(1)))
            if call.method == "GET" and call.path == "/balance":
                data = [{"currency": code, "balance": value} for code, value in sorted(self.balances.items())]
                return _json(200, {"status": True, "message": "Balances retrieved", "data": data})
        return _json(404, {"status": False, "message": "Entity not found"})

    def _initialize(self, call: Call) -> Answer:
        try:
            params = json.loads(call.body or b"{}")
        except ValueError:
            return _invalid("Invalid JSON")
        if not isinstance(params, dict):
            return _invalid("Invalid JSON")
        email, amount = params.get("email"), params.get("amount")
        if not isinstance(email, str) or "@" not in email:
            return _invalid("Invalid Email Address Passed")
        if isinstance(amount, str) and amount.isdigit():
            amount = int(amount)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            return _invalid("Invalid Amount Sent")
        currency = params.get("currency") or self.currencies[0]
        if currency not in self.currencies:
            return _json(400, {"status": False, "message": "Currency not supported by merchant"})
        reference = params.get("reference") or secrets.token_hex(5)
        if not isinstance(reference, str) or not REFERENCE.fullmatch(reference):
            return _invalid("Invalid transaction reference")
        if reference in self.transactions:
            return _invalid("Duplicate Transaction Reference")
        channels = params.get("channels")
        transaction = Transaction(
            id=next(self.ids),
            reference=reference,
            access_code=secrets.token_hex(8),
            amount=amount,
            currency=currency,
            email=email,
            callback_url=params.get("callback_url"),
            metadata=params.get("metadata"),
            channels=channels if isinstance(channels, list) else None,
        )
        self.transactions[reference] = transaction
        data = {
            "authorization_url": f"{self.url}/checkout/{transaction.access_code}",
            "access_code": transaction.access_code,
            "reference": reference,
        }
        return _json(200, {"status": True, "message": "Authorization URL created", "data": data})

    def _verify(self, reference: str) -> Answer:
        transaction = self.transactions.get(reference)
        if transaction is None:
            return _json(
                400,
                {
                    "status": False,
                    "message": "Transaction reference not found",
                    "meta": {"nextStep": "Ensure that you're passing the reference of a transaction that exists"},
                    "type": "validation_error",
                    "code": "transaction_not_found",
                },
            )
        return _json(200, {"status": True, "message": "Verification successful", "data": self.as_json(transaction)})

    def _page(self, call: Call, access_code: str) -> Answer:
        transaction = next((t for t in self.transactions.values() if t.access_code == access_code), None)
        if transaction is None:
            return Answer(404, b"Checkout not found", "text/plain")
        if call.method == "POST":
            self.pay(transaction.reference)
            base = transaction.callback_url or "/"
            glue = "&" if "?" in base else "?"
            location = f"{base}{glue}trxref={transaction.reference}&reference={transaction.reference}"
            return Answer(302, b"", "text/plain", {"Location": location})
        text = (
            "<!doctype html><title>Paystack Checkout (local fake)</title>"
            f"<h1>Pay {transaction.currency} {transaction.amount / 100:,.2f}</h1>"
            f"<p>{html.escape(transaction.email)}</p>"
            "<form method=post><button type=submit>Pay</button></form>"
        )
        return Answer(200, text.encode(), "text/html; charset=utf-8")

    # ------------------------------------------------------------------ documents

    def as_json(self, transaction: Transaction) -> dict[str, Any]:
        """A transaction as Verify Transaction answers it and charge.success carries it."""
        paid = transaction.status == "success"
        charged = transaction.paid_amount if transaction.paid_amount is not None else transaction.amount
        return {
            "id": transaction.id,
            "domain": "test",
            "status": transaction.status,
            "reference": transaction.reference,
            "receipt_number": None,
            "amount": charged,
            "message": None,
            "gateway_response": "Successful" if paid else "The transaction was not completed",
            "paid_at": iso(transaction.paid_at) if transaction.paid_at else None,
            "created_at": iso(transaction.created),
            "channel": "card",
            "currency": transaction.paid_currency or transaction.currency,
            "ip_address": "197.210.54.33",
            "metadata": transaction.metadata if transaction.metadata is not None else "",
            "log": None,
            "fees": round(charged * 0.015) if paid else None,
            "fees_split": None,
            "authorization": {
                "authorization_code": "AUTH_" + hashlib.sha256(transaction.reference.encode()).hexdigest()[:10],
                "bin": "408408",
                "last4": "4081",
                "exp_month": "12",
                "exp_year": "2030",
                "channel": "card",
                "card_type": "visa ",
                "bank": "TEST BANK",
                "country_code": "NG",
                "brand": "visa",
                "reusable": True,
                "signature": "SIG_" + hashlib.sha256(transaction.email.encode()).hexdigest()[:20],
                "account_name": None,
            }
            if paid
            else {},
            "customer": {
                "id": 181873746,
                "first_name": None,
                "last_name": None,
                "email": transaction.email,
                "customer_code": "CUS_1rkzaqsv4rrhqo6",
                "phone": None,
                "metadata": None,
                "risk_action": "default",
                "international_format_phone": None,
            },
            "plan": None,
            "split": {},
            "order_id": None,
            "paidAt": iso(transaction.paid_at) if transaction.paid_at else None,
            "createdAt": iso(transaction.created),
            "requested_amount": transaction.amount,
            "pos_transaction_data": None,
            "source": None,
            "fees_breakdown": None,
            "transaction_date": iso(transaction.created),
            "plan_object": {},
            "subaccount": {},
        }

    # ------------------------------------------------------------------ the customer's side

    def pay(self, reference: str, *, amount: int | None = None, currency: str | None = None) -> Transaction:
        """The customer completes Checkout: charged ``amount`` subunits (default the transaction's)
        in ``currency`` (default the transaction's)."""
        transaction = self.transactions[reference]
        transaction.status = "success"
        transaction.paid_amount = transaction.amount if amount is None else amount
        transaction.paid_currency = currency or transaction.currency
        transaction.paid_at = time.time()
        code = transaction.paid_currency
        self.balances[code] = self.balances.get(code, 0) + transaction.paid_amount
        return transaction

    def fail(self, reference: str) -> Transaction:
        transaction = self.transactions[reference]
        transaction.status = "failed"
        return transaction

    # ------------------------------------------------------------------ events

    def charge_success(self, reference: str) -> dict[str, Any]:
        return {"event": "charge.success", "data": self.as_json(self.transactions[reference])}

    def refund_processed(self, reference: str, amount: int | None = None) -> dict[str, Any]:
        transaction = self.transactions[reference]
        transaction.status = "reversed" if amount is None else transaction.status
        refunded = amount if amount is not None else (transaction.paid_amount or transaction.amount)
        return {
            "event": "refund.processed",
            "data": {
                "status": "processed",
                "transaction_reference": reference,
                "refund_reference": str(100000000000 + next(self.ids) % 1000000),  # one per refund
                "amount": str(refunded),
                "currency": transaction.paid_currency or transaction.currency,
                "processor": "mpgs_zen",
                "customer": {"first_name": None, "last_name": None, "email": transaction.email},
                "integration": 412829,
                "domain": "test",
            },
        }

    def dispute_create(self, reference: str, amount: int | None = None) -> dict[str, Any]:
        transaction = self.transactions[reference]
        charged = transaction.paid_amount or transaction.amount
        return {
            "event": "charge.dispute.create",
            "data": {
                "id": 358950 + transaction.id % 1000,
                "refund_amount": charged if amount is None else amount,
                "currency": transaction.paid_currency or transaction.currency,
                "status": "awaiting-merchant-feedback",
                "resolution": None,
                "domain": "test",
                "transaction": self.as_json(transaction),
                "transaction_reference": None,
                "category": "chargeback",
                "customer": {"email": transaction.email},
                "bin": "408408",
                "last4": "4081",
                "dueAt": iso(time.time() + 86400),
                "resolvedAt": None,
                "evidence": None,
                "attachments": None,
                "note": None,
                "history": [{"status": "pending", "by": transaction.email, "createdAt": iso(time.time())}],
                "messages": [],
                "created_at": iso(time.time()),
                "updated_at": iso(time.time()),
            },
        }

    def sign(self, event: dict[str, Any], *, key: str | None = None) -> Incoming:
        body = json.dumps(event, separators=(",", ":")).encode()
        return Incoming(
            body=body,
            headers={
                "content-type": "application/json",
                "x-paystack-signature": hmac_sha512(body, key or self.secret_key),
            },
            form={},
            query={},
            remote_addr=WEBHOOK_IPS[0],
        )


def _json(status: int, data: Any) -> Answer:
    return Answer(status, json.dumps(data).encode())


def _invalid(message: str) -> Answer:
    return _json(400, {"status": False, "message": message, "type": "validation_error", "code": "invalid_params"})


class Driver:
    """The flow tests' player of the customer and of Paystack (see testing.gateways)."""

    code = "paystack"
    currency = "NGN"
    # Paystack sends no event for a failed or expired charge: only these.
    outcomes = ("paid", "refunded", "chargeback")

    def __init__(self) -> None:
        self.fake = FakePaystack()
        self.base_url = ""

    def __enter__(self) -> Driver:
        self.fake.start()
        self.base_url = self.fake.url
        return self

    def __exit__(self, *exc: object) -> None:
        self.fake.stop()

    def config(self) -> dict[str, str]:
        # The notify view sees the test client's address; the published ones stay allowed too.
        return {"secret_key": SECRET_KEY, "webhook_ips": ", ".join(("127.0.0.1", *WEBHOOK_IPS))}

    def pay(self, checkout: Checkout, *, amount: Decimal | None = None, currency: str | None = None) -> None:
        subunits = None if amount is None else int(Decimal(amount) * 100)
        self.fake.pay(checkout.external_id, amount=subunits, currency=currency)

    def notification(self, checkout: Checkout, *, outcome: str = "paid") -> Incoming:
        reference = checkout.external_id
        if outcome == "paid":
            return self.fake.sign(self.fake.charge_success(reference))
        if outcome == "refunded":
            return self.fake.sign(self.fake.refund_processed(reference))
        if outcome == "chargeback":
            return self.fake.sign(self.fake.dispute_create(reference))
        raise NotImplementedError(f"Paystack sends no {outcome!r} event.")

    def tamper(self, incoming: Incoming) -> Incoming:
        event = json.loads(incoming.body)
        data = event["data"]
        for name in ("amount", "requested_amount", "refund_amount"):
            if isinstance(data.get(name), int):
                data[name] *= 2
            elif isinstance(data.get(name), str) and data[name].isdigit():
                data[name] = str(int(data[name]) * 2)
        return Incoming(
            body=json.dumps(event, separators=(",", ":")).encode(),
            headers=dict(incoming.headers),
            form=dict(incoming.form),
            query=dict(incoming.query),
            remote_addr=incoming.remote_addr,
        )
