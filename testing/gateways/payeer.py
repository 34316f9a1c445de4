"""A local fake of Payeer: the merchant form and the API, as Payeer's merchant documentation and
API documentation (github.com/payeer/docs, rest-api/en.md) describe them.

- ``/merchant/``: the payment form. The fake checks m_sign with the merchant's secret key (and
  decrypts m_params with the merchant's encryption key, as Payeer's sample encrypts it), then
  plays the customer paying at once: an operation with a new m_operation_id, status success.
  Refusals use the documented error texts ("Invalid sign", "Currency is not supported", ...).
- ``/ajax/api/api.php``: account/apiId/apiPass authentication ({"auth_error":"1",...} otherwise),
  ``getBalance`` and ``paymentDetails`` with the documented shapes.

``status_form(operation)`` is what Payeer POSTs to the status URL, signed with the merchant's
secret key exactly as the documentation's handler checks it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import unquote_plus, urlencode

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from billing.gateways.base import Checkout, Incoming

from .fakeserver import Answer, FakeHttpServer

AUTH_ERROR = "Auth error: account or apiId or apiPass is incorrect or api-user was blocked"
CURRENCIES = ("USD", "EUR", "RUB")
PAYEER_PS = "2609"  # the payment system ID of a Payeer wallet payment, as in the documentation's examples
# The fake merchant's secrets (test values, known to the Driver's config).
SECRET_KEY = "fake-merchant-secret-key"
PARAMS_KEY = "fake-params-encryption-key"
API_PASS = "fake-api-secret"


def _sha256_upper(parts: list[str]) -> str:
    return hashlib.sha256(":".join(parts).encode("utf-8")).hexdigest().upper()


def _stamp(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%d.%m.%Y %H:%M:%S")


@dataclass
class Operation:
    operation_id: str
    shop: str
    order_id: str
    amount: str
    currency: str
    desc: str
    status: str  # success | fail
    created: int
    paid: int
    params: str | None = None  # m_params as posted, echoed in the status form
    urls: dict = field(default_factory=dict)  # decrypted from m_params


class FakePayeer:
    """One merchant (shop `shop_id`) owned by account `account`, with one API user."""

    def __init__(
        self,
        *,
        shop_id: str = "1234567",
        secret_key: str = SECRET_KEY,
        params_key: str = PARAMS_KEY,
        account: str = "P1000000",
        api_id: str = "12345",
        api_pass: str = API_PASS,
    ):
        self.shop_id, self.secret_key, self.params_key = shop_id, secret_key, params_key
        self.account, self.api_id, self.api_pass = account, api_id, api_pass
        self.balance = {currency: Decimal("0.00") for currency in CURRENCIES}
        self.operations: list[Operation] = []
        self._ids = itertools.count(928_562_360, 7)
        self._lock = threading.Lock()
        self.http = FakeHttpServer({"/merchant/": self._merchant, "/ajax/api/api.php": self._api})

    @property
    def url(self) -> str:
        return self.http.url

    def start(self) -> FakePayeer:
        self.http.start()
        return self

    def stop(self) -> None:
        self.http.stop()

    # --- merchant form ------------------------------------------------------------------------

    @staticmethod
    def _page(text: str) -> Answer:
        return Answer(200, f"<html><body>{html.escape(text)}</body></html>")

    def _merchant(self, fields: dict[str, str], request) -> Answer:
        names = ("m_shop", "m_orderid", "m_amount", "m_curr", "m_desc", "m_sign")
        missing = [name for name in names if not fields.get(name)]
        if missing:
            return self._page(f"field_required: {missing[0]}")
        if fields["m_shop"] != self.shop_id:
            return self._page("Merchant not found")
        parts = [fields[name] for name in names[:5]]
        if fields.get("m_params"):
            parts.append(fields["m_params"])
        if fields["m_sign"] != _sha256_upper([*parts, self.secret_key]):
            return self._page("Invalid sign")
        if fields["m_curr"] not in CURRENCIES:
            return self._page("Currency is not supported")
        try:
            amount = Decimal(fields["m_amount"])
        except InvalidOperation:
            return self._page("field_invalid_regexp: m_amount")
        if amount <= 0 or fields["m_amount"] != f"{amount:.2f}":
            return self._page("field_invalid_regexp: m_amount")
        urls = {}
        if fields.get("m_params"):
            try:
                urls = self.decrypt_params(fields["m_params"], fields["m_orderid"])
            except ValueError:
                return self._page("Invalid m_params")
        now = int(time.time())
        with self._lock:
            operation = Operation(
                operation_id=str(next(self._ids)),
                shop=fields["m_shop"],
                order_id=fields["m_orderid"],
                amount=fields["m_amount"],
                currency=fields["m_curr"],
                desc=fields["m_desc"],
                status="success",
                created=now,
                paid=now,
                params=fields.get("m_params"),
                urls=urls,
            )
            self.operations.append(operation)
            self.balance[operation.currency] += amount
        return self._page(f"Payment complete. Operation {operation.operation_id}")

    def decrypt_params(self, params: str, order_id: str) -> dict:
        """m_params back to its JSON, the way Payeer's sample encrypts it (see the gateway module)."""
        key = hashlib.md5((self.params_key + order_id).encode(), usedforsecurity=False).hexdigest().encode()
        try:
            encrypted = base64.b64decode(unquote_plus(params), validate=True)
            decryptor = Cipher(algorithms.AES(key), modes.CBC(b"\0" * 16)).decryptor()
            padded = decryptor.update(encrypted) + decryptor.finalize()
            unpadder = padding.PKCS7(128).unpadder()
            data = json.loads(unpadder.update(padded) + unpadder.finalize())
        except (ValueError, TypeError) as exc:
            raise ValueError("m_params cannot be decrypted") from exc
        if not isinstance(data, dict):
            raise ValueError("m_params is not a JSON object")
        return data

    def operation(self, order_id: str) -> Operation:
        matches = [op for op in self.operations if op.order_id == order_id]
        if not matches:
            raise LookupError(f"No operation for m_orderid {order_id} on the fake.")
        return matches[-1]

    def fail(self, order_id: str, amount: str, currency: str, desc: str) -> Operation:
        """An operation that failed (the customer's payment system declined it)."""
        now = int(time.time())
        with self._lock:
            operation = Operation(
                str(next(self._ids)), self.shop_id, order_id, amount, currency, desc, "fail", now, now
            )
            self.operations.append(operation)
        return operation

    def status_form(self, operation: Operation, *, key: str | None = None) -> dict[str, str]:
        """What Payeer POSTs to the status URL for `operation`, signed with the merchant's secret
        key (or `key`, to forge one)."""
        fields = {
            "m_operation_id": operation.operation_id,
            "m_operation_ps": PAYEER_PS,
            "m_operation_date": _stamp(operation.created),
            "m_operation_pay_date": _stamp(operation.paid),
            "m_shop": operation.shop,
            "m_orderid": operation.order_id,
            "m_amount": operation.amount,
            "m_curr": operation.currency,
            "m_desc": operation.desc,
            "m_status": operation.status,
        }
        if operation.params is not None:
            fields["m_params"] = operation.params
        fields["m_sign"] = _sha256_upper([*fields.values(), self.secret_key if key is None else key])
        return fields

    # --- API ----------------------------------------------------------------------------------

    def _api(self, fields: dict[str, str], request) -> Answer:
        def answer(data: dict) -> Answer:
            return Answer(200, json.dumps(data), "application/json")

        if request.method != "POST":
            return answer({"auth_error": "1", "errors": ["POST only"]})
        credentials = (fields.get("account"), fields.get("apiId"), fields.get("apiPass"))
        if credentials != (self.account, self.api_id, self.api_pass):
            return answer({"auth_error": "1", "errors": [AUTH_ERROR]})
        action = fields.get("action", "")
        if action == "":
            return answer({"auth_error": "0", "errors": []})
        if action == "getBalance":
            balance = {
                code: {"currency": code, "total": float(value), "available": float(value), "hold": 0}
                for code, value in self.balance.items()
            }
            return answer({"auth_error": "0", "errors": [], "balance": balance})
        if action == "paymentDetails":
            if fields.get("merchantId") != self.shop_id:
                return answer({"auth_error": "0", "errors": ["Merchant not found"], "success": False})
            items = [
                self._item(op)
                for op in self.operations
                if op.order_id == fields.get("referenceId") and op.status == "success"
            ][-10:]
            return answer({"auth_error": "0", "errors": [], "success": True, "items": items})
        return answer({"auth_error": "0", "errors": [f"Unknown action {action}"]})

    def _item(self, op: Operation) -> dict:
        amount = float(op.amount)
        return {
            "amount": amount,
            "currency": op.currency,
            "description": base64.b64decode(op.desc).decode("utf-8", "replace"),
            "referenceId": op.order_id,
            "created": datetime.fromtimestamp(op.created, UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "processed": datetime.fromtimestamp(op.paid, UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "paySystemName": "Payeer",
            "paySystemId": PAYEER_PS,
            "clientAmount": amount,
            "clientCurrency": op.currency,
            "clientAccount": "P1000001",
            "clientEmail": "client@payeer.com",
            "profitAmount": round(amount * 0.99, 2),
            "profitCurrency": op.currency,
            "profitTransactionId": str(int(op.operation_id) + 144),
            "merchantTransactionId": op.operation_id,
            "created_ts": op.created,
            "processed_ts": op.paid,
            "merchantFee": round(amount * 0.01, 2),
            "merchantCurrency": op.currency,
        }


def incoming_form(fields: dict[str, str], *, remote_addr: str = "127.0.0.1") -> Incoming:
    """A status form as it reaches our notify view."""
    body = urlencode(fields).encode()
    return Incoming(
        body=body,
        headers={"content-type": "application/x-www-form-urlencoded", "content-length": str(len(body))},
        form=dict(fields),
        query={},
        remote_addr=remote_addr,
    )


class Driver:
    """The flow tests' customer and gateway for Payeer (testing.gateways contract). Payeer's
    status form says success or fail: outcomes "paid" and "failed"."""

    code = "payeer"
    currency = "USD"
    outcomes = ("paid", "failed")

    def __init__(self) -> None:
        self.fake = FakePayeer()

    def __enter__(self) -> Driver:
        self.fake.start()
        return self

    def __exit__(self, *exc) -> None:
        self.fake.stop()

    @property
    def base_url(self) -> str:
        return self.fake.url

    def config(self) -> dict[str, str]:
        return {
            "shop_id": self.fake.shop_id,
            "secret_key": self.fake.secret_key,
            "params_key": self.fake.params_key,
            "account": self.fake.account,
            "api_id": self.fake.api_id,
            "api_pass": self.fake.api_pass,
            "allowed_ips": "127.0.0.1",
        }

    def pay(self, checkout: Checkout, *, amount: Decimal | None = None, currency: str | None = None) -> None:
        import requests

        response = requests.post(checkout.form_action, data=dict(checkout.form_fields), timeout=10)
        response.raise_for_status()
        if "Payment complete" not in response.text:
            raise AssertionError(f"The fake refused the payment: {html.unescape(response.text)[:200]}")
        # The form is signed, so a customer cannot change it; a different amount or currency is
        # what Payeer then reports as paid (the case billing must not credit blindly).
        operation = self.fake.operation(dict(checkout.form_fields)["m_orderid"])
        if amount is not None:
            operation.amount = f"{amount:.2f}"
        if currency is not None:
            operation.currency = currency

    def notification(self, checkout: Checkout, *, outcome: str = "paid") -> Incoming:
        if outcome not in self.outcomes:
            raise ValueError(f"Payeer sends no notification for {outcome!r}.")
        fields = dict(checkout.form_fields)
        if outcome == "failed":
            operation = self.fake.fail(fields["m_orderid"], fields["m_amount"], fields["m_curr"], fields["m_desc"])
        else:
            operation = self.fake.operation(fields["m_orderid"])
        return incoming_form(self.fake.status_form(operation))

    def tamper(self, incoming: Incoming) -> Incoming:
        fields = dict(incoming.form)
        fields["m_amount"] = f"{Decimal(fields['m_amount']) * 10:.2f}"
        return incoming_form(fields, remote_addr=incoming.remote_addr)
