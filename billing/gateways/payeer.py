"""Payeer: the merchant form for payments, the Payeer API for lookups.

Documents followed: Payeer's merchant documentation ("Payeer Merchant": connecting, the payment
form, the payment processor, with its sample PHP form and status handler) and the Payeer API
documentation (https://github.com/payeer/docs, rest-api/en.md: getBalance, paymentDetails).

Start: the customer's browser POSTs an auto-submitted form to ``https://payeer.com/merchant/`` with
m_shop (the merchant ID), m_orderid (our deposit ID), m_amount (two decimals), m_curr, m_desc
(the description, base64) and

    m_sign = upper(sha256("m_shop:m_orderid:m_amount:m_curr:m_desc[:m_params]:m_key"))

When staff set the merchant's "key for encrypting additional parameters", the form also carries
m_params (and m_cipher_method=AES-256-CBC): the JSON {"success_url", "fail_url", "status_url"}
encrypted as Payeer's sample does it (AES-256-CBC with the key md5(encryption key + m_orderid) as
hex text, an all-zero IV, PKCS#7 padding, then base64 and urlencode), so each deposit carries its
own return URLs and this method's notify URL. Without it, the URLs registered in Payeer's
merchant settings are used.

Notification: Payeer POSTs to the status URL m_operation_id (Payeer's payment number),
m_operation_ps, m_operation_date, m_operation_pay_date, m_shop, m_orderid, m_amount, m_curr,
m_desc, m_status, [m_params] and

    m_sign = upper(sha256("m_operation_id:m_operation_ps:m_operation_date:m_operation_pay_date:"
                          "m_shop:m_orderid:m_amount:m_curr:m_desc:m_status[:m_params]:m_key"))

``verify`` checks the sender's address against Payeer's published notification IPs
(185.71.65.92, 185.71.65.189, 149.202.17.210; staff may replace the list), the signature in
constant time and that m_shop is ours. m_status "success" is PAID, "fail" FAILED (any other
signed status is IGNORED); Report.transaction_id is m_operation_id, the amount and currency
m_amount/m_curr. Other posted fields are never used and are left out of Report.raw. The answer
is the text Payeer's sample handler gives: "<m_orderid>|success" for a verified successful
payment, "<m_orderid>|error" otherwise. A refused notification raises ``PayeerBadNotification``,
a BadNotification that also carries the posted m_orderid (``order_id``, cleaned) so ``reply``
can name it.

Lookup and test connection use the Payeer API (optional settings: account number, API user ID and
API secret key; the API user's IP restriction must allow the panel's server): ``paymentDetails``
(merchantId = m_shop, referenceId = m_orderid) lists the payments of an invoice; a paid one is a
PAID report whose transaction_id is its merchantTransactionId (Payeer's ID of the payment
transaction, the number the status form calls m_operation_id). ``getBalance`` tests the
credentials.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from decimal import Decimal, InvalidOperation
from typing import ClassVar
from urllib.parse import quote_plus

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
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
from .sci import AccountApi, Sources, notification_fields, parse_amount, scrub, wire_amount

PRODUCTION_URL = "https://payeer.com"
MERCHANT_PATH = "/merchant/"
API_PATH = "/ajax/api/api.php"
NOTIFY_IPS = ("185.71.65.92", "185.71.65.189", "149.202.17.210")

# The status form's fields in m_sign order; m_params (when posted) and the key follow them.
SIGNED = (
    "m_operation_id",
    "m_operation_ps",
    "m_operation_date",
    "m_operation_pay_date",
    "m_shop",
    "m_orderid",
    "m_amount",
    "m_curr",
    "m_desc",
    "m_status",
)
REQUIRED = ("m_operation_id", "m_shop", "m_orderid", "m_amount", "m_curr", "m_status", "m_sign")
STATUSES = {"success": Outcome.PAID, "fail": Outcome.FAILED}
ORDER_ID_RE = re.compile(r"[^A-Za-z0-9_.-]")


def sha256_upper(parts: list[str]) -> str:
    return hashlib.sha256(":".join(parts).encode("utf-8")).hexdigest().upper()


def form_sign(shop: str, order_id: str, amount: str, currency: str, desc: str, key: str, params: str = "") -> str:
    """The payment form's m_sign."""
    parts = [shop, order_id, amount, currency, desc]
    if params:
        parts.append(params)
    return sha256_upper([*parts, key])


def status_sign(fields: dict[str, str], key: str) -> str:
    """The status form's m_sign over `fields` as posted."""
    parts = [fields.get(name, "") for name in SIGNED]
    if "m_params" in fields:
        parts.append(fields["m_params"])
    return sha256_upper([*parts, key])


def params_key(encryption_key: str, order_id: str) -> bytes:
    """The AES-256 key of m_params: md5(encryption key + m_orderid) as 32 hex characters."""
    return hashlib.md5((encryption_key + order_id).encode("utf-8"), usedforsecurity=False).hexdigest().encode()


def encrypt_params(params: dict, encryption_key: str, order_id: str) -> str:
    """m_params as Payeer's sample builds it: urlencode(base64(AES-256-CBC(json, zero IV)))."""
    # JSON as PHP's json_encode writes it (no spaces, "/" escaped), so the bytes equal the sample's.
    text = json.dumps(params, separators=(",", ":")).replace("/", "\\/")
    padder = padding.PKCS7(128).padder()
    data = padder.update(text.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(params_key(encryption_key, order_id)), modes.CBC(b"\0" * 16)).encryptor()
    encrypted = encryptor.update(data) + encryptor.finalize()
    return quote_plus(base64.b64encode(encrypted).decode("ascii"), safe="")


class PayeerBadNotification(BadNotification):
    """A refused notification; ``order_id`` is the posted m_orderid (cleaned), for the reply."""

    def __init__(self, message: str, *, order_id: str = ""):
        super().__init__(message)
        self.order_id = order_id


def clean_order_id(value: str) -> str:
    return ORDER_ID_RE.sub("", value or "")[:64]


class PayeerGateway:
    code: ClassVar[str] = "payeer"
    label: ClassVar[str] = "Payeer"
    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "shop_id",
            gettext_lazy("Merchant ID"),
            help=gettext_lazy("The merchant's ID (m_shop) from Payeer's merchant settings."),
        ),
        Field(
            "secret_key",
            gettext_lazy("Secret key"),
            secret=True,
            help=gettext_lazy("The merchant's secret key: it signs payment forms and notifications."),
        ),
        Field(
            "params_key",
            gettext_lazy("Key for encrypting additional parameters"),
            secret=True,
            required=False,
            help=gettext_lazy(
                "Optional: set the same key at Payeer to send each payment's return and notify URLs "
                "with the payment; without it, Payeer uses the URLs in its merchant settings."
            ),
        ),
        Field(
            "account",
            gettext_lazy("Account number (API)"),
            required=False,
            help=gettext_lazy("Optional, for payment look-ups and Test connection: your account, P1000000."),
        ),
        Field(
            "api_id",
            gettext_lazy("API user ID"),
            required=False,
            help=gettext_lazy("Optional: the ID Payeer gives when you add an API user."),
        ),
        Field(
            "api_pass",
            gettext_lazy("API secret key"),
            secret=True,
            required=False,
            help=gettext_lazy("Optional: the API user's secret key; allow the panel server's IP for it."),
        ),
        Field(
            "allowed_ips",
            gettext_lazy("Notification IP addresses"),
            required=False,
            help=gettext_lazy(
                "Addresses Payeer notifies from (comma-separated). Empty: Payeer's published "
                "185.71.65.92, 185.71.65.189, 149.202.17.210."
            ),
        ),
    )
    currencies: ClassVar[tuple[str, ...]] = ("USD", "EUR", "RUB")
    can_lookup: ClassVar[bool] = True
    can_test: ClassVar[bool] = True

    def __init__(self, config: dict[str, str], *, base_url: str | None = None, timeout: float = TIMEOUT_SECONDS):
        self.config = {key: (value or "").strip() for key, value in config.items()}
        self.base_url = (base_url or PRODUCTION_URL).rstrip("/")
        self.api = AccountApi(self.base_url, name="Payeer", secrets=self._secrets(), timeout=timeout)

    def _secrets(self) -> tuple[str, ...]:
        return tuple(self.config.get(name, "") for name in ("secret_key", "params_key", "api_pass"))

    def _shop(self) -> str:
        shop = self.config.get("shop_id", "")
        if not shop.isdigit():
            raise GatewayError(_("The merchant ID must be the number Payeer shows (m_shop)."))
        return shop

    def _key(self) -> str:
        key = self.config.get("secret_key", "")
        if not key:
            raise GatewayError(_("Set the merchant's secret key."))
        return key

    # --- the interface ------------------------------------------------------------------------

    def start(self, request: StartRequest) -> Checkout:
        shop, key = self._shop(), self._key()
        currency = request.currency.upper()
        if currency not in self.currencies:
            raise GatewayError(_("Payeer's merchant form takes USD, EUR or RUB, not %(c)s.") % {"c": currency})
        order_id = str(request.deposit_id)
        amount = wire_amount(request.amount)
        description = request.description[:200] or f"Deposit {order_id}"
        desc = base64.b64encode(description.encode("utf-8")).decode("ascii")
        fields = [
            ("m_shop", shop),
            ("m_orderid", order_id),
            ("m_amount", amount),
            ("m_curr", currency),
            ("m_desc", desc),
        ]
        params = ""
        if self.config.get("params_key"):
            urls = {"success_url": request.return_url, "fail_url": request.cancel_url, "status_url": request.notify_url}
            params = encrypt_params(urls, self.config["params_key"], order_id)
        fields.append(("m_sign", form_sign(shop, order_id, amount, currency, desc, key, params)))
        if params:
            fields += [("m_params", params), ("m_cipher_method", "AES-256-CBC")]
        return Checkout(form_action=f"{self.base_url}{MERCHANT_PATH}", form_fields=tuple(fields))

    def verify(self, incoming: Incoming) -> list[Report]:
        try:
            sources = Sources(self.config.get("allowed_ips", ""), default=NOTIFY_IPS)
        except GatewayError as exc:
            raise PayeerBadNotification(str(exc)) from None
        fields = notification_fields(incoming)
        order_id = clean_order_id(fields.get("m_orderid", ""))

        def refuse(message: str) -> PayeerBadNotification:
            return PayeerBadNotification(message, order_id=order_id)

        try:
            sources.check(incoming.remote_addr)
        except BadNotification as exc:
            raise refuse(str(exc)) from None
        # Every signed field is posted; some may be empty (a failed payment has no pay date).
        missing = [name for name in SIGNED if name not in fields]
        missing += [name for name in REQUIRED if name not in missing and not fields.get(name, "").strip()]
        if missing:
            raise refuse(f"Missing fields: {', '.join(missing)}.")
        key = self.config.get("secret_key", "")
        if not key:
            raise refuse("No secret key is configured for this method.")
        if not same(status_sign(fields, key), fields["m_sign"].strip().upper()):
            raise refuse("m_sign does not match.")
        # Signed, so these are Payeer's words; still they must be about our merchant and deposits.
        if fields["m_shop"].strip() != self.config.get("shop_id", ""):
            raise refuse("The payment is to another merchant.")
        if not fields["m_orderid"].strip().isdigit():
            raise refuse("m_orderid is not one of our deposit IDs.")
        currency = fields["m_curr"].strip().upper()
        if not re.fullmatch(r"[A-Z]{3,5}", currency):
            raise refuse("m_curr is not a currency code.")
        try:
            amount = parse_amount(fields["m_amount"])
        except BadNotification as exc:
            raise refuse(str(exc)) from None
        operation_id = fields["m_operation_id"].strip()
        status = fields["m_status"].strip().lower()
        outcome = STATUSES.get(status, Outcome.IGNORED)
        raw = {name: fields[name] for name in SIGNED}
        if "m_params" in fields:
            raw["m_params"] = fields["m_params"]
        return [
            Report(
                outcome=outcome,
                deposit_id=int(fields["m_orderid"].strip()),
                event_id=f"{operation_id}:{status[:20]}",
                transaction_id=operation_id,
                amount=amount,
                currency=currency,
                note=f"Payeer operation {operation_id[:20]}: {status[:20]}",
                raw=raw,
            )
        ]

    def reply(self, reports: list[Report] | None, error: BadNotification | None = None) -> Reply:
        if reports and error is None:
            order_id = clean_order_id(reports[0].raw.get("m_orderid", ""))
            word = "success" if all(report.outcome is Outcome.PAID for report in reports) else "error"
        else:
            order_id, word = getattr(error, "order_id", ""), "error"
        return Reply(status=200, body=f"{order_id}|{word}")

    def _api_call(self, action: str, **data: str) -> dict:
        account, api_id, api_pass = (self.config.get(name, "") for name in ("account", "api_id", "api_pass"))
        if not account or not api_id or not api_pass:
            raise GatewayError(_("Set the account number, API user ID and API secret key."))
        text = self.api.post(
            API_PATH, {"account": account, "apiId": api_id, "apiPass": api_pass, "action": action, **data}
        )
        try:
            answer = json.loads(text, parse_float=Decimal)
        except ValueError:
            raise GatewayError(_("Payeer's API answered something that is not JSON.")) from None
        if not isinstance(answer, dict):
            raise GatewayError(_("Payeer's API answered something that is not JSON."))
        errors = answer.get("errors")
        if str(answer.get("auth_error", "0")) != "0" or (errors and errors not in ("false", "null", "0")):
            listed = errors if isinstance(errors, list) else [errors] if errors else ["authorisation failed"]
            text = "; ".join(str(item) for item in listed)
            raise GatewayError(_("Payeer refused: %(error)s") % {"error": scrub(text, self._secrets())})
        return answer

    def lookup(self, request: LookupRequest) -> Report | None:
        """A PAID report for a payment of our invoice `deposit_id`; None when there is none yet
        (or the API settings are empty)."""
        if not all(self.config.get(name) for name in ("account", "api_id", "api_pass")):
            return None
        order_id = str(request.deposit_id)
        answer = self._api_call("paymentDetails", merchantId=self._shop(), referenceId=order_id)
        items = answer.get("items") or []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or str(item.get("referenceId", "")) != order_id:
                continue
            transaction_id = str(item.get("merchantTransactionId") or "")
            if not transaction_id or not item.get("processed"):
                continue
            try:
                amount = Decimal(str(item.get("amount")))
            except InvalidOperation:
                raise GatewayError(_("Payeer's payment details have an amount that is not a number.")) from None
            return Report(
                outcome=Outcome.PAID,
                deposit_id=request.deposit_id,
                event_id=f"{transaction_id}:success",
                transaction_id=transaction_id,
                amount=amount,
                currency=str(item.get("currency", "")).upper(),
                note=f"Payeer payment {transaction_id[:20]} processed {str(item.get('processed'))[:20]}",
                raw={key: str(value) for key, value in item.items() if key not in ("clientEmail",)},
            )
        return None

    def test_connection(self) -> str:
        answer = self._api_call("getBalance")
        balance = answer.get("balance") if isinstance(answer.get("balance"), dict) else {}
        shown = ", ".join(
            f"{code} {entry.get('available')}"
            for code, entry in sorted(balance.items())
            if isinstance(entry, dict) and code in self.currencies
        )
        return _("Connected: available %(balance)s.") % {"balance": shown or "-"}
