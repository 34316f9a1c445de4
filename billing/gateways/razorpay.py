"""Razorpay (India: UPI, cards, netbanking, wallets) through the official ``razorpay`` client.

One Razorpay Order per deposit, and nothing else payable: ``start()`` creates the Order (amount in
the currency's subunits, ``receipt`` = our deposit ID, ``notes.deposit_id`` = our deposit ID) and
answers with one way to pay it, chosen by the method's ``checkout`` setting:

- ``popup`` (the default): ``Checkout.client_options`` only, the options of Razorpay Standard
  Checkout (checkout.js), the window with UPI intent on phones and the UPI QR code on computers,
  UPI first. What the pay page must do: load ``CHECKOUT_JS``
  (https://checkout.razorpay.com/v1/checkout.js; CSP ``script-src`` that URL and ``frame-src
  https://api.razorpay.com``), then ``new Razorpay({...client_options, handler, modal: {ondismiss}})
  .open()`` with a ``handler`` that goes to return_url (a GET) and an ``ondismiss`` that goes to
  return_url marked cancelled. The options hold no ``callback_url``, so Razorpay calls the handler
  instead of POSTing to us.
- ``hosted``: ``Checkout.form_action`` + ``form_fields`` only, Razorpay Hosted Checkout, a form
  POSTed to ``https://api.razorpay.com/v1/checkout/embedded`` (CSP ``form-action`` must allow
  https://api.razorpay.com). It works without JavaScript and offers cards, netbanking, wallets and
  UPI, but not UPI intent (Razorpay: "We do not support EMI, Offers and UPI intent on Hosted
  Checkout"). Razorpay sends the customer back to ``return_url`` with a cross-site **POST**
  (``razorpay_payment_id``, ``razorpay_order_id``, ``razorpay_signature``, or ``error[...]`` fields)
  and a cancelled payment to ``cancel_url`` with a GET. The return view must take that POST without
  a CSRF token, and the session cookie (SameSite=Lax) does not come with a cross-site POST: answer
  it with a 303 to the same URL, whose GET carries the cookie. Nothing in the POST is believed:
  ``lookup()`` asks Razorpay for the Order's payments.

Why not Payment Links for the redirect: a Payment Link is a second payable object with its own
Order, so a customer could pay one deposit twice, and its payments carry neither our receipt nor
our notes, so refunds and disputes of them could not be matched to the deposit. With one Order,
every report carries its ``order_id`` (= ``Checkout.external_id``, stored on the deposit). Hosted
Checkout pays that same Order without JavaScript, which makes it the redirect flow.

Notifications (webhooks, https://razorpay.com/docs/webhooks/validate-test/): the body is signed
with the webhook secret, ``X-Razorpay-Signature`` = hex HMAC-SHA256 of the raw body, compared here
in constant time (``base.same``). The sender's address must be one of Razorpay's published webhook
IPs (https://razorpay.com/docs/security/whitelists/#webhook-ips) unless staff list others in
``webhook_ips`` ("*" turns the check off, e.g. behind a proxy that hides the client address);
``account_id`` (optional) must match the event's ``account_id``. The event ID is the
``X-Razorpay-Event-Id`` header, unique per event and the same on every retry.

Events and outcomes (https://razorpay.com/docs/webhooks/payments/, /orders/, /refunds/,
/disputes/):

- ``order.paid`` and ``payment.captured`` -> PAID: transaction_id = the payment ID (pay_...),
  amount and currency from the payment entity. Both arrive for one payment; billing credits once by
  transaction_id. ``order.paid`` echoes our deposit ID in the Order's ``receipt`` (set by our
  server). The other events carry the payment entity only, whose ``notes.deposit_id`` came through
  the customer's browser: their reports name the deposit by ``external_id`` (the payment's
  ``order_id``) and leave ``deposit_id`` None, so a customer editing Checkout's notes cannot point
  a report at someone else's deposit.
- ``payment.authorized`` -> PENDING (captured later; switch on automatic capture at Razorpay).
- ``payment.failed`` -> FAILED, *per attempt*: the customer may retry on the same Order, and
  Razorpay documents ``payment.failed`` followed by ``payment.captured`` for the same payment (UPI
  retries). So a FAILED report has no transaction_id, and a later PAID must still credit.
- ``refund.processed`` (and the older ``payment.refunded`` when it carries the refund entity) ->
  REFUNDED: transaction_id = the refund ID (rfnd_...), amount = that refund. Both events can report
  one refund: the refund ID is the key.
- ``payment.dispute.created`` -> CHARGEBACK: transaction_id = the dispute ID (disp_...), amount =
  the disputed amount.
- anything else verified -> IGNORED.

``lookup()`` fetches the Order and its payments (GET /v1/orders/{id}, /v1/orders/{id}/payments):
a captured (or since refunded) payment -> PAID, an authorised one -> PENDING, only failed attempts
-> FAILED, none yet -> PENDING. Its event IDs are ``lookup:<payment id>:<outcome>``, stable across
repeated lookups. ``test_connection()`` lists one Order (GET /v1/orders?count=1).

HTTP goes through ``razorpay.Client`` with ``base_url`` (the local fake in tests) and a timeout on
every call (``self.timeout``, default ``base.TIMEOUT_SECONDS``; an instance attribute tests lower).
Reads are retried once after a connection error; creating an Order is never retried (Razorpay's
Orders API has no idempotency key). Errors become ``base.GatewayError`` with Razorpay's
description and never a key.

Optional behaviour beyond base.Gateway: the ``timeout`` attribute; the ``checkout``,
``webhook_ips`` and ``account_id`` settings; ``CHECKOUT_JS``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal, InvalidOperation

import razorpay
import requests
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from razorpay import errors as razorpay_errors

from . import base
from .base import BadNotification, Checkout, Field, GatewayError, Incoming, LookupRequest, Outcome, Reply, Report
from .sources import parse_sources, source_allowed

API_URL = "https://api.razorpay.com"
CHECKOUT_JS = "https://checkout.razorpay.com/v1/checkout.js"
HOSTED_CHECKOUT_PATH = "/v1/checkout/embedded"
POPUP, HOSTED = "popup", "hosted"

# https://razorpay.com/docs/security/whitelists/#webhook-ips ("Below is the list of IPs from which
# Webhooks are sent from our servers").
WEBHOOK_IPS = (
    "52.66.75.174",
    "52.66.76.63",
    "52.66.151.218",
    "35.154.217.40",
    "35.154.22.73",
    "35.154.143.15",
    "13.126.199.247",
    "13.126.238.192",
    "13.232.194.134",
    "18.96.225.0/26",
    "18.99.161.0/26",
)


# Currency -> exponent, from https://razorpay.com/docs/payments/international-payments/#supported-currencies
# (INR always; the others once International Payments are enabled on the account).
def _codes(text: str) -> list[str]:
    return text.split()


EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        _codes(
            "AED ALL AMD AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BZD CAD CHF CNY COP CRC CUP CVE "
            "CZK DKK DOP DZD EGP ETB EUR FJD GBP GHS GIP GMD GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR JMD KES KGS "
            "KHR KYD KZT LAK LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR "
            "NZD PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SCR SEK SGD SLL SOS SVC SZL THB TRY TTD TWD TZS UAH USD "
            "UYU UZS XCD YER ZAR ZMW"
        ),
        2,
    ),
    **dict.fromkeys(_codes("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF"), 0),
    **dict.fromkeys(_codes("BHD IQD JOD KWD OMR TND"), 3),
}


REFUSALS = (razorpay_errors.BadRequestError, razorpay_errors.GatewayError, razorpay_errors.ServerError)


def minor_units(amount: Decimal, currency: str) -> int:
    """``amount`` in the currency's subunits (paise for INR), as Razorpay's ``amount`` fields take it.

    Three-decimal currencies must end in 0 (Razorpay: "you should pass the last decimal number as 0
    for three decimal currency payments"), so they take at most two decimals too."""
    code = currency.upper()
    if code not in EXPONENTS:
        raise GatewayError(_("Razorpay does not charge in %(currency)s.") % {"currency": code})
    exponent = EXPONENTS[code]
    allowed = min(exponent, 2)
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise GatewayError(_("%(amount)s is not an amount Razorpay can charge.") % {"amount": amount})
    try:
        exact = amount == amount.quantize(Decimal(1).scaleb(-allowed))
    except InvalidOperation:
        exact = False
    if not exact:
        raise GatewayError(
            _("%(amount)s %(currency)s has more decimals than Razorpay allows for %(currency)s (%(places)s).")
            % {"amount": amount, "currency": code, "places": allowed}
        )
    return int(amount.scaleb(exponent))


def major_units(value: object, currency: str) -> Decimal:
    """A Razorpay subunit amount back in major units; BadNotification-safe callers wrap it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("amount is not an integer")
    return Decimal(value).scaleb(-EXPONENTS.get(currency.upper(), 2))


def _deposit_id(value: object) -> int | None:
    """Our deposit ID as echoed in a receipt or notes ("123"); None for anything else."""
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return int(text) if text.isdigit() and len(text) < 19 else None


def _browser_deposit_id(payment: dict) -> int | None:
    """A payment's ``notes.deposit_id`` came through the customer's browser (Checkout's options):
    used only for a payment without an Order, which names the deposit better."""
    return None if payment.get("order_id") else _deposit_id(_notes(payment).get("deposit_id"))


def _notes(entity: dict) -> dict:
    """Razorpay sends empty notes as [] and filled ones as an object."""
    notes = entity.get("notes")
    return notes if isinstance(notes, dict) else {}


class RazorpayGateway:
    code = "razorpay"
    label = gettext_lazy("Razorpay (UPI, cards, netbanking)")
    fields = (
        Field(
            "key_id",
            gettext_lazy("Key ID"),
            help=gettext_lazy("Dashboard > Account & Settings > API Keys: rzp_test_... (test mode) or rzp_live_...."),
        ),
        Field(
            "key_secret",
            gettext_lazy("Key secret"),
            secret=True,
            help=gettext_lazy("Shown once when the key is generated."),
        ),
        Field(
            "webhook_secret",
            gettext_lazy("Webhook secret"),
            secret=True,
            help=gettext_lazy(
                "The secret you typed when adding the webhook (Account & Settings > Webhooks); not the key secret."
            ),
        ),
        Field(
            "business_name",
            gettext_lazy("Business name on the checkout"),
            required=False,
            help=gettext_lazy("Shown at the top of Razorpay's payment page. Empty: the deposit's description."),
        ),
        Field(
            "checkout",
            gettext_lazy("Payment page"),
            required=False,
            choices=(
                (POPUP, gettext_lazy("Razorpay Checkout window on our page (UPI app on phones, UPI QR on computers)")),
                (
                    HOSTED,
                    gettext_lazy("Razorpay Hosted Checkout page (works without JavaScript; no UPI app switching)"),
                ),
            ),
            help=gettext_lazy("Empty: the Checkout window."),
        ),
        Field(
            "account_id",
            gettext_lazy("Account ID"),
            required=False,
            help=gettext_lazy(
                "acc_... as in the webhooks' account_id (your Merchant ID with acc_ before it). "
                "When set, notifications for any other account are refused."
            ),
        ),
        Field(
            "webhook_ips",
            gettext_lazy("Webhook source addresses"),
            required=False,
            help=gettext_lazy(
                "Comma-separated IPs or CIDRs notifications may come from. Empty: Razorpay's published "
                "webhook IPs. * accepts any address (the signature is still checked)."
            ),
        ),
    )
    currencies = tuple(sorted(EXPONENTS))
    can_lookup = True
    can_test = True

    def __init__(self, config: dict[str, str], *, base_url: str | None = None) -> None:
        self.key_id = (config.get("key_id") or "").strip()
        self._key_secret = (config.get("key_secret") or "").strip()
        self._webhook_secret = (config.get("webhook_secret") or "").strip()
        self.business_name = (config.get("business_name") or "").strip()
        self.account_id = (config.get("account_id") or "").strip()
        if self.account_id and not self.account_id.startswith("acc_"):
            self.account_id = f"acc_{self.account_id}"
        self.webhook_ips = (config.get("webhook_ips") or "").strip()
        self.checkout = HOSTED if (config.get("checkout") or "").strip() == HOSTED else POPUP
        self.base_url = (base_url or API_URL).rstrip("/")
        self.timeout: float = base.TIMEOUT_SECONDS

    def __repr__(self) -> str:
        return f"<RazorpayGateway key_id={self.key_id!r}>"

    # -- the API ---------------------------------------------------------------------------------

    def _client(self) -> razorpay.Client:
        if not self.key_id or not self._key_secret:
            raise GatewayError(_("Razorpay key ID and key secret are not set."))
        client = razorpay.Client(auth=(self.key_id, self._key_secret), base_url=self.base_url)
        client.set_app_details({"title": "smm-panel"})
        return client

    def _safe(self, text: str) -> str:
        """Razorpay's own message, with our secrets cut out should it ever echo one."""
        for secret in (self._key_secret, self._webhook_secret):
            if secret:
                text = text.replace(secret, "***")
        return text[:300]

    def _call(self, what: str, call, *, retry: bool = False) -> dict:
        attempts = 2 if retry else 1
        for attempt in range(attempts):
            try:
                answer = call(timeout=self.timeout)
            except (
                razorpay_errors.BadRequestError,
                razorpay_errors.GatewayError,
                razorpay_errors.ServerError,
            ) as error:
                raise GatewayError(
                    self._safe(_("Razorpay refused to %(what)s: %(why)s") % {"what": what, "why": error or "-"})
                ) from None
            except requests.Timeout:
                raise GatewayError(
                    _("Razorpay did not answer within %(seconds)s seconds (%(what)s).")
                    % {"seconds": f"{self.timeout:g}", "what": what}
                ) from None
            except requests.ConnectionError:
                if attempt + 1 < attempts:
                    continue
                raise GatewayError(_("Could not reach Razorpay (%(what)s).") % {"what": what}) from None
            except (requests.RequestException, ValueError):
                raise GatewayError(_("Razorpay sent an answer we cannot read (%(what)s).") % {"what": what}) from None
            if not isinstance(answer, dict):
                raise GatewayError(_("Razorpay sent an answer we cannot read (%(what)s).") % {"what": what})
            return answer
        raise AssertionError("unreachable")

    # -- start -----------------------------------------------------------------------------------

    def start(self, request: base.StartRequest) -> Checkout:
        currency = request.currency.upper()
        amount = minor_units(request.amount, currency)
        deposit = str(request.deposit_id)
        client = self._client()
        order = self._call(
            "create the order",
            lambda **kw: client.order.create(
                {"amount": amount, "currency": currency, "receipt": deposit, "notes": {"deposit_id": deposit}}, **kw
            ),
        )
        order_id = order.get("id")
        if not isinstance(order_id, str) or not order_id.startswith("order_"):
            raise GatewayError(_("Razorpay answered without an order ID."))
        if order.get("amount") != amount or str(order.get("currency", "")).upper() != currency:
            raise GatewayError(_("Razorpay created the order for another amount or currency."))
        name = (self.business_name or request.description)[:100]
        description = request.description[:255]
        if self.checkout == HOSTED:
            form = (
                ("key_id", self.key_id),
                ("order_id", order_id),
                ("amount", str(amount)),
                ("currency", currency),
                ("name", name),
                ("description", description),
                ("prefill[name]", request.customer_name),
                ("prefill[email]", request.customer_email),
                ("notes[deposit_id]", deposit),
                ("callback_url", request.return_url),
                ("cancel_url", request.cancel_url),
            )
            return Checkout(external_id=order_id, form_action=self.base_url + HOSTED_CHECKOUT_PATH, form_fields=form)
        options = {
            "key": self.key_id,
            "order_id": order_id,
            "amount": amount,
            "currency": currency,
            "name": name,
            "description": description,
            "prefill": {"name": request.customer_name, "email": request.customer_email},
            "notes": {"deposit_id": deposit},
            # UPI first; its Collect flow (typing a UPI ID) is gone under NPCI's rules, Razorpay
            # shows intent (phones) or the QR code (desktops) instead
            # (https://razorpay.com/docs/announcements/upi-collect-migration/standard-integration/).
            "config": {
                "display": {
                    "blocks": {"upi": {"name": "UPI", "instruments": [{"method": "upi"}]}},
                    "sequence": ["block.upi"],
                    "preferences": {"show_default_blocks": True},
                    "hide": [{"method": "upi", "flows": ["collect"]}],
                }
            },
        }
        return Checkout(external_id=order_id, client_options=options)

    # -- notifications ---------------------------------------------------------------------------

    def _check_source(self, remote_addr: str) -> None:
        try:
            allowed = parse_sources(self.webhook_ips, WEBHOOK_IPS)
        except ValueError:
            raise BadNotification("The webhook source addresses setting is not a list of IPs.") from None
        if not source_allowed(remote_addr, allowed):
            raise BadNotification(f"{remote_addr or 'An unknown address'} is not one of Razorpay's webhook addresses.")

    def verify(self, incoming: Incoming) -> list[Report]:
        self._check_source(incoming.remote_addr)
        if not self._webhook_secret:
            raise BadNotification("The webhook secret is not set.")
        signature = (incoming.headers.get("x-razorpay-signature") or "").strip()
        if not signature:
            raise BadNotification("No X-Razorpay-Signature header.")
        expected = hmac.new(self._webhook_secret.encode(), incoming.body, hashlib.sha256).hexdigest()
        if not base.same(expected, signature.lower()):
            raise BadNotification("The X-Razorpay-Signature does not match the body.")
        try:
            event = json.loads(incoming.body)
        except ValueError:
            raise BadNotification("The body is not JSON.") from None
        if not isinstance(event, dict) or event.get("entity") != "event":
            raise BadNotification("The body is not a Razorpay event.")
        name, payload = event.get("event"), event.get("payload")
        if not isinstance(name, str) or not name or not isinstance(payload, dict):
            raise BadNotification("The event has no name or payload.")
        if self.account_id and event.get("account_id") != self.account_id:
            raise BadNotification("The event is for another Razorpay account.")
        event_id = (incoming.headers.get("x-razorpay-event-id") or "").strip()
        if not event_id:
            # Razorpay sends one on every webhook; derive a stable one should it ever be missing.
            event_id = "body:" + hashlib.sha256(incoming.body).hexdigest()[:40]
        try:
            return [self._report(name, payload, event_id, event)]
        except (KeyError, TypeError, ValueError, InvalidOperation, AttributeError) as error:
            raise BadNotification(f"The {name} event is malformed ({type(error).__name__}).") from None

    @staticmethod
    def _entity(payload: dict, name: str) -> dict:
        entity = payload[name]["entity"]
        if not isinstance(entity, dict) or not isinstance(entity.get("id"), str):
            raise ValueError(f"no {name} entity")
        return entity

    def _report(self, name: str, payload: dict, event_id: str, raw: dict) -> Report:
        common = {"event_id": event_id, "raw": raw}
        if name in {"order.paid", "payment.captured", "payment.authorized", "payment.failed"}:
            payment = self._entity(payload, "payment")
            currency = str(payment["currency"]).upper()
            amount = major_units(payment["amount"], currency)
            order_id = payment.get("order_id") or ""
            deposit_id = _browser_deposit_id(payment)
            if name == "order.paid":
                order = self._entity(payload, "order")
                if order_id and order["id"] != order_id:
                    raise ValueError("payment of another order")
                order_id = order["id"]
                deposit_id = _deposit_id(order.get("receipt"))
                if deposit_id is None:
                    deposit_id = _deposit_id(_notes(order).get("deposit_id"))
            if name == "payment.failed":
                reason = payment.get("error_description") or payment.get("error_reason") or "declined"
                return Report(
                    outcome=Outcome.FAILED,
                    deposit_id=deposit_id,
                    external_id=order_id,
                    amount=amount,
                    currency=currency,
                    note=f"Payment {payment['id']} failed: {reason}"[:255],
                    **common,
                )
            if name == "payment.authorized":
                return Report(
                    outcome=Outcome.PENDING,
                    deposit_id=deposit_id,
                    external_id=order_id,
                    amount=amount,
                    currency=currency,
                    note=f"Payment {payment['id']} authorised, not captured yet.",
                    **common,
                )
            if payment.get("status") not in {"captured", "refunded"}:
                raise ValueError("a paid event for a payment that is not captured")
            return Report(
                outcome=Outcome.PAID,
                deposit_id=deposit_id,
                transaction_id=payment["id"],
                external_id=order_id,
                amount=amount,
                currency=currency,
                note=f"Paid by {payment.get('method') or 'Razorpay'}.",
                **common,
            )
        if name in {"refund.processed", "payment.refunded"}:
            if "refund" not in payload and name == "payment.refunded":
                return Report(
                    outcome=Outcome.IGNORED,
                    deposit_id=None,
                    note="payment.refunded without its refund: refund.processed reports refunds.",
                    **common,
                )
            refund = self._entity(payload, "refund")
            payment = self._entity(payload, "payment")
            if refund.get("payment_id") != payment["id"]:
                raise ValueError("refund of another payment")
            currency = str(refund["currency"]).upper()
            return Report(
                outcome=Outcome.REFUNDED,
                deposit_id=_browser_deposit_id(payment),
                transaction_id=refund["id"],
                external_id=payment.get("order_id") or "",
                amount=major_units(refund["amount"], currency),
                currency=currency,
                note=f"Refund {refund['id']} of payment {payment['id']}.",
                **common,
            )
        if name == "payment.dispute.created":
            dispute = self._entity(payload, "dispute")
            payment = self._entity(payload, "payment")
            if dispute.get("payment_id") != payment["id"]:
                raise ValueError("dispute of another payment")
            currency = str(dispute["currency"]).upper()
            phase = dispute.get("phase") or "dispute"
            reason = dispute.get("reason_code") or ""
            return Report(
                outcome=Outcome.CHARGEBACK,
                deposit_id=_browser_deposit_id(payment),
                transaction_id=dispute["id"],
                external_id=payment.get("order_id") or "",
                amount=major_units(dispute["amount"], currency),
                currency=currency,
                note=f"Dispute {dispute['id']} ({phase} {reason}) on payment {payment['id']}."[:255],
                **common,
            )
        return Report(outcome=Outcome.IGNORED, deposit_id=None, note=f"{name} is not acted on.", **common)

    def reply(self, reports: list[Report] | None, error: BadNotification | None = None) -> Reply:
        # Razorpay counts any 2xx as delivered and retries anything else for 24 hours
        # (https://razorpay.com/docs/webhooks/best-practices/); the body is not read.
        if error is not None:
            return Reply(status=400, body="invalid notification")
        return Reply(status=200, body="ok")

    # -- server to server ------------------------------------------------------------------------

    def lookup(self, request: LookupRequest) -> Report | None:
        order_id = request.external_id
        if not order_id.startswith("order_") or "/" in order_id:
            raise GatewayError(_("This deposit has no Razorpay order ID."))
        client = self._client()
        order = self._call("fetch the order", lambda **kw: client.order.fetch(order_id, **kw), retry=True)
        listing = self._call(
            "fetch the order's payments", lambda **kw: client.order.payments(order_id, **kw), retry=True
        )
        if order.get("id") != order_id:
            raise GatewayError(_("Razorpay answered with another order."))
        deposit_id = _deposit_id(order.get("receipt"))
        if deposit_id is None:
            deposit_id = _deposit_id(_notes(order).get("deposit_id"))
        items = listing.get("items")
        payments = [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []
        raw = {"order": order, "payments": payments}
        by_status: dict[str, list[dict]] = {}
        for payment in payments:
            by_status.setdefault(str(payment.get("status")), []).append(payment)
        for status, outcome in (
            ("captured", Outcome.PAID),
            ("refunded", Outcome.PAID),
            ("authorized", Outcome.PENDING),
        ):
            if status in by_status:
                payment = by_status[status][0]
                try:
                    currency = str(payment["currency"]).upper()
                    amount = major_units(payment["amount"], currency)
                except (KeyError, ValueError):
                    raise GatewayError(_("Razorpay sent a payment we cannot read.")) from None
                return Report(
                    outcome=outcome,
                    deposit_id=deposit_id,
                    event_id=f"lookup:{payment.get('id')}:{outcome}",
                    transaction_id=str(payment.get("id")) if outcome == Outcome.PAID else "",
                    external_id=order_id,
                    amount=amount,
                    currency=currency,
                    note=f"Payment {payment.get('id')} is {status}.",
                    raw=raw,
                )
        if payments:
            last = max(
                payments, key=lambda item: item.get("created_at") if isinstance(item.get("created_at"), int) else 0
            )
            return Report(
                outcome=Outcome.FAILED,
                deposit_id=deposit_id,
                event_id=f"lookup:{last.get('id')}:{Outcome.FAILED}",
                external_id=order_id,
                note=f"Every attempt failed; the latest: {last.get('error_description') or 'declined'}"[:255],
                raw=raw,
            )
        return Report(
            outcome=Outcome.PENDING,
            deposit_id=deposit_id,
            event_id=f"lookup:{order_id}:{order.get('status')}",
            external_id=order_id,
            note="No payment on this order yet.",
            raw=raw,
        )

    def test_connection(self) -> str:
        client = self._client()
        self._call("list orders", lambda **kw: client.order.all({"count": 1}, **kw), retry=True)
        shown = f"{self.key_id[:13]}…" if len(self.key_id) > 13 else self.key_id
        if self.key_id.startswith("rzp_live_"):
            return _("Connected to Razorpay with key %(key)s (live mode).") % {"key": shown}
        if self.key_id.startswith("rzp_test_"):
            return _("Connected to Razorpay with key %(key)s (test mode).") % {"key": shown}
        return _("Connected to Razorpay with key %(key)s.") % {"key": shown}
