"""Cryptomus: crypto invoices with a hosted payment page, signed webhooks, partial payments and
overpayment.

Followed (doc.cryptomus.com, business API):

- Request format (/business/general/request-format): every call is a POST of a JSON body to
  https://api.cryptomus.com with the headers ``merchant`` (the merchant's UUID) and
  ``sign = md5(base64(body) . API key)``; a call without parameters signs the empty string.
  We encode bodies the way their PHP SDK does (``json_encode($data, JSON_UNESCAPED_UNICODE)``,
  which escapes ``/``), so the signature holds whether their side hashes the raw bytes or
  re-encodes the parsed body.
- Creating an invoice (/business/payments/creating-invoice): POST /v1/payment with amount (a
  string, '.' before the pennies), currency, order_id (1-128 characters of letters, digits, '_'
  and '-', unique per merchant: asking again with the same order_id returns the same invoice,
  which makes the call safe to retry), url_callback (our notify URL), url_return, url_success,
  lifetime, to_currency/network (to get an address and a coin amount at once). The answer's
  ``url`` is the hosted page (Checkout.redirect_url); when it carries an ``address`` we also give
  the address, the coin amount and the coin (Checkout.pay_address / pay_amount / pay_currency).
  With the ``checkout`` setting at ``address`` (and a coin to quote) the Checkout has no redirect:
  the panel shows the address, amount and QR code itself.
- Payment information (/business/payments/payment-information): POST /v1/payment/info with
  uuid or order_id; used by lookup().
- Balance (/business/balance): POST /v1/balance, used by test_connection().
- Webhook (/business/payments/webhook): a POST of a JSON object to url_callback whose ``sign``
  field is md5(base64(json_encode(body without sign, JSON_UNESCAPED_UNICODE)) . payment API key);
  their own recipe re-encodes the parsed body (PHP escapes '/' as '\\/'; their JavaScript recipe
  adds ``.replace(/\\//g, "\\\\/")``), so we do exactly that (``php_json``) and compare in constant
  time. Their webhooks come from 91.227.144.54 (the default of the ``webhook_ips`` setting).
  Testing webhook (/business/payments/testing-webhook) sends the same shape for a test invoice.
- Payment statuses (/business/payments/payment-statuses): paid, paid_over, wrong_amount, process,
  confirm_check, wrong_amount_waiting, check, fail, cancel, system_fail, refund_process,
  refund_fail, refund_paid, locked.

Amounts. ``amount``/``currency`` are the invoice's (what we asked, in the deposit's currency);
``payment_amount`` is what the client actually paid, in ``payer_currency`` (the coin);
``payer_amount`` is what the client was asked to pay in that coin for the whole invoice;
``merchant_amount`` is what reaches the merchant's balance after commission (not what the
customer paid, so never used). Report.amount is the received amount in the invoice's currency:
``payment_amount`` itself when the coin is the invoice currency, else the invoice amount scaled by
payment_amount / payer_amount (rounded down to the currency's places), else for a USD invoice
``payment_amount_usd``. ``paid`` reports the invoice amount, ``paid_over`` the larger received
amount (PAID either way), ``wrong_amount`` the smaller one (PARTIAL).

Report fields: transaction_id and external_id are the invoice UUID (one invoice is paid once,
possibly by several transfers when is_payment_multiple lets the customer top it up); event_id is
uuid:status:payment_amount, the same for a webhook and a lookup that say the same thing; raw is
the webhook without ``sign``. Statuses we do not know are acknowledged as IGNORED (logged), so a
new status Cryptomus adds does not make them resend forever.

Optional behaviour beyond base.Gateway: ``timeout`` (seconds, an instance attribute) bounds every
HTTP call; ``checkout_origins`` names the origins the customer is redirected to (for the CSP
``form-action`` of the page whose form leads there); ``configured`` is False while a setting is
missing or wrong, and ``problem`` says what; ``order_prefix`` (a setting) goes before the deposit
ID in order_id, for owners who share one Cryptomus merchant between several panels (order IDs
must be unique per merchant).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, ClassVar

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
from .jsonhttp import JsonClient, short
from .sources import origin_of, parse_sources, source_allowed

logger = logging.getLogger(__name__)

API_URL = "https://api.cryptomus.com"
WEBHOOK_IPS = ("91.227.144.54",)
CHECKOUT_ORIGINS = ("https://pay.cryptomus.com",)  # the invoice pages (result.url)

ORDER_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
HEX32 = re.compile(r"[0-9a-f]{32}")
NUMBER = re.compile(r"\d+(\.\d+)?")

# Decimal places of an invoice currency: fiat by ISO 4217, coins and tokens by Cryptomus' own 8.
ZERO_DECIMAL = {
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
}  # fmt: skip
THREE_DECIMAL = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}
CRYPTO = {
    "BTC", "ETH", "USDT", "USDC", "LTC", "TRX", "BNB", "BCH", "DASH", "DOGE", "TON", "SOL", "XMR", "DAI",
    "BUSD", "MATIC", "POL", "SHIB", "AVAX", "CGPT", "VERSE", "XRP", "ADA", "NOT", "DOT", "ARB", "OP",
}  # fmt: skip

OUTCOMES: dict[str, Outcome] = {
    "paid": Outcome.PAID,
    "paid_over": Outcome.PAID,
    "wrong_amount": Outcome.PARTIAL,
    "process": Outcome.PENDING,
    "check": Outcome.PENDING,
    "confirm_check": Outcome.PENDING,
    "wrong_amount_waiting": Outcome.PENDING,  # underpaid, the customer may still pay the rest
    "locked": Outcome.PENDING,  # received, held by their AML check
    "fail": Outcome.FAILED,
    "system_fail": Outcome.FAILED,
    "cancel": Outcome.FAILED,  # the invoice closed and the customer did not pay
    "refund_paid": Outcome.REFUNDED,
    "refund_process": Outcome.IGNORED,  # a refund under way: reported when it is paid
    "refund_fail": Outcome.IGNORED,
}


def decimals(currency: str) -> int:
    code = currency.upper()
    if code in CRYPTO:
        return 8
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def wire_amount(amount: Decimal, currency: str) -> str:
    """The invoice amount as Cryptomus takes it ("10.28"); GatewayError for more decimals than the
    currency has, or for an amount that is not positive."""
    places = decimals(currency)
    if not amount.is_finite() or amount <= 0:
        raise GatewayError(_("The amount must be more than zero."))
    if amount != amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN):
        raise GatewayError(
            _("%(amount)s %(currency)s has more decimals than the currency allows.")
            % {"amount": amount, "currency": currency}
        )
    return f"{amount:.{places}f}"


def _php_ready(value: Any) -> Any:
    # json_decode($body, true) turns {} into an empty array, which json_encode prints as [].
    if isinstance(value, dict):
        return {key: _php_ready(item) for key, item in value.items()} if value else []
    if isinstance(value, list):
        return [_php_ready(item) for item in value]
    return value


def php_json(data: Any) -> str:
    """What PHP's json_encode($data, JSON_UNESCAPED_UNICODE) prints: compact, UTF-8 left as is,
    '/' escaped as '\\/', and U+2028/U+2029 escaped (PHP escapes them unless told not to)."""
    text = json.dumps(_php_ready(data), ensure_ascii=False, separators=(",", ":"))
    return text.replace("/", "\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def signature(body: bytes, key: str) -> str:
    """md5(base64(body) . key), hex: the request header and the webhook field alike."""
    return hashlib.md5(base64.b64encode(body) + key.encode(), usedforsecurity=False).hexdigest()


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _value in pairs]
    if len(keys) != len(set(keys)):
        raise BadNotification("Duplicate keys in the notification.")
    return dict(pairs)


def _reject_constant(name: str) -> None:
    raise BadNotification(f"Invalid number {name} in the notification.")


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadNotification("An amount in the notification is not a number.")
    text = str(value)
    if not NUMBER.fullmatch(text):
        raise BadNotification("An amount in the notification is not a number.")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise BadNotification("An amount in the notification is not a number.") from None


class CryptomusGateway:
    code: ClassVar[str] = "cryptomus"
    label: ClassVar[str] = "Cryptomus"
    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "merchant",
            gettext_lazy("Merchant UUID"),
            help=gettext_lazy("Cryptomus: Business → your merchant → Settings."),
        ),
        Field(
            "api_key",
            gettext_lazy("Payment API key"),
            secret=True,
            help=gettext_lazy("The payment API key of that merchant (not the payout key). It also signs the webhooks."),
        ),
        Field(
            "to_currency",
            gettext_lazy("Coin to quote"),
            required=False,
            help=gettext_lazy(
                "Optional, e.g. USDT: the invoice is quoted in this coin, so the customer also sees an address."
            ),
        ),
        Field(
            "network",
            gettext_lazy("Network"),
            required=False,
            help=gettext_lazy("Optional, with the coin, e.g. tron or bsc."),
        ),
        Field(
            "checkout",
            gettext_lazy("Where the customer pays"),
            required=False,
            help=gettext_lazy(
                "Cryptomus' payment page (default), or the address and QR code on the panel (needs the coin)."
            ),
            choices=(
                ("page", gettext_lazy("Cryptomus' payment page")),
                ("address", gettext_lazy("Address and QR code in the panel")),
            ),
        ),
        Field(
            "lifetime",
            gettext_lazy("Invoice lifetime (seconds)"),
            required=False,
            help=gettext_lazy("300 to 43200; Cryptomus' default is 3600."),
        ),
        Field(
            "order_prefix",
            gettext_lazy("Order ID prefix"),
            required=False,
            help=gettext_lazy(
                "Letters, digits, - and _. Needed when several panels share one merchant: order IDs are unique."
            ),
        ),
        Field(
            "webhook_ips",
            gettext_lazy("Webhook source addresses"),
            required=False,
            help=gettext_lazy("Empty: 91.227.144.54 as Cryptomus publishes. * turns the check off."),
        ),
    )
    currencies: ClassVar[tuple[str, ...]] = ()  # any fiat code Cryptomus quotes, or a coin
    can_lookup: ClassVar[bool] = True
    can_test: ClassVar[bool] = True

    def __init__(self, config: dict[str, str], *, base_url: str | None = None) -> None:
        self.merchant = (config.get("merchant") or "").strip()
        self._key = (config.get("api_key") or "").strip()
        self.to_currency = (config.get("to_currency") or "").strip().upper()
        self.network = (config.get("network") or "").strip().lower()
        self.checkout = (config.get("checkout") or "page").strip().lower()
        self.lifetime = (config.get("lifetime") or "").strip()
        self.order_prefix = (config.get("order_prefix") or "").strip()
        self.webhook_ips = config.get("webhook_ips") or ""
        self.base_url = (base_url or API_URL).rstrip("/")
        self.timeout: float = TIMEOUT_SECONDS
        self.problem = self._settings_problem()
        # Where the customer is sent to pay: the add-funds form's answer redirects there, and
        # browsers check that redirect against the page's CSP form-action.
        self.checkout_origins: tuple[str, ...] = (origin_of(base_url),) if base_url else CHECKOUT_ORIGINS

    def _settings_problem(self) -> str:
        """What is wrong with the settings ('' when nothing is): the backoffice shows it and the
        method is not offered meanwhile (``configured``)."""
        try:
            parse_sources(self.webhook_ips, WEBHOOK_IPS)
        except ValueError:
            return _("The webhook source addresses must be IP addresses or networks (or *).")
        if self.checkout not in ("page", "address"):
            return _("Where the customer pays must be 'page' or 'address'.")
        if self.checkout == "address" and not self.to_currency:
            return _("Showing the address in the panel needs the coin to quote (e.g. USDT).")
        if self.lifetime and (not self.lifetime.isdigit() or not 300 <= int(self.lifetime) <= 43200):
            return _("The invoice lifetime must be 300 to 43200 seconds.")
        if not ORDER_ID.fullmatch(f"{self.order_prefix}1") or len(self.order_prefix) > 100:
            return _("The order ID prefix may hold only letters, digits, - and _ (100 at most).")
        return ""

    @property
    def configured(self) -> bool:
        """Optional beyond base.Gateway: False while a setting is missing or wrong (see problem)."""
        return not self.problem and bool(self.merchant and self._key)

    def __repr__(self) -> str:
        return f"<CryptomusGateway merchant={self.merchant!r}>"

    # ----------------------------------------------------------------------------- calls

    def _require_config(self) -> None:
        if self.problem:
            raise GatewayError(self.problem)
        if not self.merchant or not self._key:
            raise GatewayError(_("Cryptomus is not configured: set the merchant UUID and the payment API key."))

    def _post(self, path: str, data: dict[str, Any] | None, *, safe: bool) -> tuple[int, Any]:
        self._require_config()
        body = php_json(data).encode() if data else b""
        headers = {"merchant": self.merchant, "sign": signature(body, self._key), "Content-Type": "application/json"}
        answer = JsonClient("Cryptomus", self.base_url, timeout=self.timeout).call(
            "POST", path, body=body, headers=headers, safe=safe
        )
        return answer.status, answer.data

    @staticmethod
    def _error(status: int, data: Any) -> GatewayError:
        parts: list[str] = []
        if isinstance(data, dict):
            if isinstance(data.get("message"), str) and data["message"]:
                parts.append(data["message"])
            errors = data.get("errors")
            if isinstance(errors, dict):
                parts.extend(f"{field}: {short(text, 80)}" for field, text in errors.items())
        message = "; ".join(parts)
        return GatewayError(
            _("Cryptomus refused (HTTP %(status)s): %(message)s")
            % {"status": status, "message": short(message) or _("no message")}
        )

    @staticmethod
    def _result(status: int, data: Any) -> Any:
        if status == 200 and isinstance(data, dict) and data.get("state") == 0 and "result" in data:
            return data["result"]
        raise CryptomusGateway._error(status, data)

    def order_id(self, deposit_id: int) -> str:
        order_id = f"{self.order_prefix}{deposit_id}"
        if not ORDER_ID.fullmatch(order_id):
            raise GatewayError(_("The order ID prefix may hold only letters, digits, - and _."))
        return order_id

    def deposit_of(self, order_id: Any) -> int | None:
        """Our deposit ID in an order_id we made; None for one we did not."""
        if not isinstance(order_id, str) or not order_id.startswith(self.order_prefix):
            return None
        rest = order_id[len(self.order_prefix) :]
        return int(rest) if rest.isascii() and rest.isdigit() and len(rest) < 19 else None

    # ----------------------------------------------------------------------------- start

    def start(self, request: StartRequest) -> Checkout:
        self._require_config()
        currency = request.currency.upper()
        data: dict[str, Any] = {
            "amount": wire_amount(request.amount, currency),
            "currency": currency,
            "order_id": self.order_id(request.deposit_id),
            "url_callback": request.notify_url,
            "url_return": request.cancel_url or request.return_url,
            "url_success": request.return_url,
        }
        for name in ("url_callback", "url_return", "url_success"):
            if not 6 <= len(data[name]) <= 255:
                raise GatewayError(_("Cryptomus takes URLs of 6 to 255 characters; %(name)s is not.") % {"name": name})
        if self.lifetime:
            data["lifetime"] = int(self.lifetime)  # checked with the settings
        if self.to_currency:
            data["to_currency"] = self.to_currency
        if self.network:
            data["network"] = self.network
        status, answer = self._post("/v1/payment", data, safe=True)  # order_id makes a retry return the same invoice
        invoice = self._result(status, answer)
        if not isinstance(invoice, dict) or not isinstance(invoice.get("uuid"), str):
            raise GatewayError(_("Cryptomus answered without an invoice."))
        if invoice.get("order_id") != data["order_id"]:
            raise GatewayError(_("Cryptomus answered with another order's invoice."))
        if str(invoice.get("currency") or "").upper() == currency:
            try:
                same_amount = Decimal(str(invoice.get("amount"))) == request.amount
            except InvalidOperation:
                same_amount = False
            if not same_amount:
                # Their order IDs are unique per merchant: an old invoice came back for this ID.
                raise GatewayError(
                    _("Cryptomus already has an invoice with order ID %(order)s for another amount.")
                    % {"order": data["order_id"]}
                )
        url = invoice.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise GatewayError(_("Cryptomus answered without a payment page."))
        address = invoice.get("address") if isinstance(invoice.get("address"), str) else ""
        pay_amount = None
        if address:
            try:
                pay_amount = Decimal(str(invoice.get("payer_amount")))
            except InvalidOperation:
                pay_amount = None
        expires = invoice.get("expired_at")
        expires_at = (
            datetime.fromtimestamp(expires, UTC).isoformat()
            if isinstance(expires, int) and not isinstance(expires, bool)
            else ""
        )
        coin = str(invoice.get("payer_currency") or self.to_currency or "") if address else ""
        if self.checkout == "address":
            if not address or pay_amount is None:
                raise GatewayError(_("Cryptomus answered without an address and amount to pay."))
            # The panel shows the address, the coin amount and a QR code; no redirect.
            return Checkout(
                external_id=invoice["uuid"],
                pay_address=address,
                pay_amount=pay_amount,
                pay_currency=coin,
                qr_payload=address,
                expires_at=expires_at,
            )
        return Checkout(
            external_id=invoice["uuid"],
            redirect_url=url,
            pay_address=address,
            pay_amount=pay_amount if address else None,
            pay_currency=coin,
            qr_payload=address,
            expires_at=expires_at,
        )

    # ----------------------------------------------------------------------------- notifications

    def verify(self, incoming: Incoming) -> list[Report]:
        if not self._key:
            raise BadNotification("The method has no payment API key.")
        try:
            networks = parse_sources(self.webhook_ips, WEBHOOK_IPS)
        except ValueError:
            raise BadNotification("The webhook source addresses setting is not a list of addresses.") from None
        if not source_allowed(incoming.remote_addr, networks):
            raise BadNotification(f"Notification from {incoming.remote_addr or 'an unknown address'}, not Cryptomus'.")
        try:
            data = json.loads(incoming.body, object_pairs_hook=_pairs, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError):
            raise BadNotification("The notification is not JSON.") from None
        if not isinstance(data, dict):
            raise BadNotification("The notification is not a JSON object.")
        given = data.pop("sign", None)
        if not isinstance(given, str) or not given:
            raise BadNotification("The notification has no signature.")
        expected = signature(php_json(data).encode(), self._key)
        if not same(expected, given):
            raise BadNotification("The notification's signature is wrong.")
        kind = data.get("type")
        if kind != "payment":
            # A static wallet's top-up (type "wallet") is not a deposit we created.
            uuid = str(data.get("uuid") or "")
            return [
                Report(
                    outcome=Outcome.IGNORED,
                    deposit_id=None,
                    event_id=f"{uuid}:{kind}:{data.get('status')}",
                    external_id=uuid,
                    note=short(f"Cryptomus {kind} notification, not an invoice", 100),
                    raw=data,
                )
            ]
        return [self._report(data, status=data.get("status"))]

    def _report(self, data: dict[str, Any], *, status: Any) -> Report:
        uuid = data.get("uuid")
        if not isinstance(uuid, str) or not uuid:
            raise BadNotification("The notification has no invoice uuid.")
        if not isinstance(status, str) or not status:
            raise BadNotification("The notification has no status.")
        currency = data.get("currency")
        if not isinstance(currency, str) or not currency:
            raise BadNotification("The notification has no currency.")
        currency = currency.upper()
        invoice_amount = _decimal(data.get("amount"))
        if invoice_amount is None:
            raise BadNotification("The notification has no amount.")
        paid = _decimal(data.get("payment_amount"))
        received = self._received(data, invoice_amount, currency, paid)
        outcome = OUTCOMES.get(status)
        note = f"Cryptomus status {status}"
        if paid is not None and data.get("payer_currency"):
            note += f", paid {paid} {data.get('payer_currency')}"
        if outcome is None:
            logger.warning("Cryptomus invoice %s: status %r not known, acknowledged", uuid, status)
            outcome = Outcome.IGNORED
        if status == "paid":
            amount = invoice_amount
        elif status == "paid_over":
            amount = max(received, invoice_amount) if received is not None else invoice_amount
        elif outcome is Outcome.REFUNDED:
            amount = received if received is not None else invoice_amount
        else:
            amount = received
        if outcome is Outcome.PARTIAL and amount is None:
            note += ", received amount unknown in the invoice currency"
        return Report(
            outcome=outcome,
            deposit_id=self.deposit_of(data.get("order_id")),
            event_id=f"{uuid}:{status}:{paid if paid is not None else ''}",
            transaction_id=uuid,
            external_id=uuid,
            amount=amount,
            currency=currency,
            note=short(note, 200),
            raw=data,
        )

    @staticmethod
    def _received(data: dict[str, Any], invoice_amount: Decimal, currency: str, paid: Decimal | None) -> Decimal | None:
        """What the customer paid, in the invoice currency (see the module docstring)."""
        if paid is None:
            return None
        coin = str(data.get("payer_currency") or "").upper()
        if not coin or coin == currency:
            value = paid
        else:
            asked = _decimal(data.get("payer_amount"))
            usd = _decimal(data.get("payment_amount_usd"))
            if asked is not None and asked > 0:
                value = invoice_amount * paid / asked
            elif currency == "USD" and usd is not None:
                value = usd
            else:
                return None
        return value.quantize(Decimal(1).scaleb(-decimals(currency)), rounding=ROUND_DOWN)

    def reply(self, reports: list[Report] | None, error: BadNotification | None = None) -> Reply:
        # Cryptomus resends a webhook until it gets a 200.
        if error is not None:
            return Reply(status=400, body="invalid notification")
        return Reply(status=200, body="ok")

    # ----------------------------------------------------------------------------- server to server

    def lookup(self, request: LookupRequest) -> Report | None:
        query = (
            {"uuid": request.external_id} if request.external_id else {"order_id": self.order_id(request.deposit_id)}
        )
        status, answer = self._post("/v1/payment/info", query, safe=True)
        if status == 404:
            return None
        invoice = self._result(status, answer)
        if not isinstance(invoice, dict):
            raise GatewayError(_("Cryptomus answered without the invoice."))
        try:
            return self._report(invoice, status=invoice.get("payment_status") or invoice.get("status"))
        except BadNotification as error:
            raise GatewayError(_("Cryptomus' answer is incomplete: %(error)s") % {"error": error}) from None

    def test_connection(self) -> str:
        status, answer = self._post("/v1/balance", None, safe=True)
        result = self._result(status, answer)
        balances: list[str] = []
        try:
            for entry in result:
                for wallet in entry["balance"]["merchant"]:
                    amount = Decimal(str(wallet["balance"]))
                    if amount:
                        balances.append(f"{amount.normalize():f} {wallet['currency_code']}")
        except (TypeError, KeyError, InvalidOperation):
            raise GatewayError(_("Cryptomus answered the balance call in an unexpected shape.")) from None
        if balances:
            return str(_("Connected to Cryptomus. Merchant balance: %(list)s.") % {"list": ", ".join(balances)})
        return str(_("Connected to Cryptomus. The merchant balance is empty."))
