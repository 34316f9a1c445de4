"""Perfect Money: the Shopping Cart Interface (SCI) for payments, the account API for lookups.

Documents followed (Perfect Money's own, published at https://perfectmoney.com/documents/):
- "Perfect Money Shopping Cart Interface v2.0 Specification" (SCI): the entry form and the
  payment status form;
- Perfect Money's sample SCI status script (the V2_HASH check, with the constant
  ``ALTERNATE_PHRASE_HASH = strtoupper(md5('your_passphrase'))``);
- "Perfect Money API - A Programmers Guide" (account API): ``acct/balance.asp`` and
  ``acct/historycsv.asp``.

Start: the customer's browser POSTs an auto-submitted form to ``https://perfectmoney.com/api/step1.asp``
with PAYEE_ACCOUNT (ours, U... for USD or E... for EUR: the units follow the account), PAYEE_NAME,
PAYMENT_ID (our deposit ID), PAYMENT_AMOUNT (two decimals), PAYMENT_UNITS, STATUS_URL (our
notify URL), PAYMENT_URL / NOPAYMENT_URL (the return and cancel URLs, as plain links: the browser's
return carries nothing we trust), SUGGESTED_MEMO and the payment methods offered.

Notification: after a successful payment Perfect Money POSTs the status form to STATUS_URL with
PAYEE_ACCOUNT, PAYMENT_ID, PAYMENT_AMOUNT, PAYMENT_UNITS, PAYMENT_BATCH_NUM, PAYER_ACCOUNT,
TIMESTAMPGMT and V2_HASH, where

    V2_HASH = upper(md5("PAYMENT_ID:PAYEE_ACCOUNT:PAYMENT_AMOUNT:PAYMENT_UNITS:PAYMENT_BATCH_NUM:"
                        "PAYER_ACCOUNT:" + upper(md5(alternate passphrase)) + ":TIMESTAMPGMT"))

over the fields exactly as posted. ``verify`` checks the hash in constant time, that PAYEE_ACCOUNT
is ours and PAYMENT_UNITS its currency, and (when staff list them) the sender's address. Perfect
Money sends the status form only for completed payments and its transfers are final, so the only
outcome is PAID; Report.transaction_id is PAYMENT_BATCH_NUM, Report.amount what PAYMENT_AMOUNT
says was paid. Fields outside the signed set (SUGGESTED_MEMO, baggage fields) are never used and
are left out of Report.raw. Perfect Money documents no answer text for the status form: we
answer 200 "OK" (400 for a notification we refuse).

Lookup and test connection use the account API (optional settings: member ID and account
password; the account must have API access enabled for the panel's server IP). ``lookup`` reads
the history of received payments of the last weeks filtered by our PAYMENT_ID (and the batch
number when known) and returns a PAID report for an income to our account, or None when there is
none. The credentials go in a POST body, never in a URL.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import re
from datetime import UTC, datetime, timedelta
from typing import ClassVar

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

PRODUCTION_URL = "https://perfectmoney.com"
SCI_PATH = "/api/step1.asp"
BALANCE_PATH = "/acct/balance.asp"
HISTORY_PATH = "/acct/historycsv.asp"

# The account's letter decides the units (SCI spec: "Currency must correspond to account type").
UNITS = {"U": "USD", "E": "EUR"}
ACCOUNT_RE = re.compile(r"^[UE][0-9]{1,12}$")
PAYMENT_METHODS = ("account", "voucher", "sms", "wire", "all")

# The status form's fields in V2_HASH order; the alternate passphrase hash and TIMESTAMPGMT follow them.
SIGNED = ("PAYMENT_ID", "PAYEE_ACCOUNT", "PAYMENT_AMOUNT", "PAYMENT_UNITS", "PAYMENT_BATCH_NUM", "PAYER_ACCOUNT")
STATUS_FIELDS = (*SIGNED, "TIMESTAMPGMT")

HISTORY_HEADER = [
    "Time",
    "Type",
    "Batch",
    "Currency",
    "Amount",
    "Fee",
    "Payer Account",
    "Payee Account",
    "Payment ID",
    "Memo",
]
LOOKUP_DAYS = 28  # history is asked for this many days back (the sweep looks at recent deposits)
HIDDEN_INPUT = re.compile(r"<input name='([^']*)' type='hidden' value='([^']*)'>", re.IGNORECASE)


def md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def v2_hash(fields: dict[str, str], alternate_passphrase: str) -> str:
    """The status form's V2_HASH for `fields` as posted."""
    parts = [fields.get(name, "") for name in SIGNED]
    parts += [md5_upper(alternate_passphrase), fields.get("TIMESTAMPGMT", "")]
    return md5_upper(":".join(parts))


class PerfectMoneyGateway:
    code: ClassVar[str] = "perfectmoney"
    label: ClassVar[str] = "Perfect Money"
    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "payee_account",
            gettext_lazy("Payee account"),
            help=gettext_lazy("Your Perfect Money account that receives the money: U… for USD, E… for EUR."),
        ),
        Field(
            "payee_name",
            gettext_lazy("Payee name"),
            help=gettext_lazy("The name customers see as the payee on Perfect Money's payment page."),
        ),
        Field(
            "alternate_passphrase",
            gettext_lazy("Alternate passphrase"),
            secret=True,
            help=gettext_lazy(
                "Settings → Security → Alternate passphrase at Perfect Money; it signs payment notifications."
            ),
        ),
        Field(
            "payment_methods",
            gettext_lazy("Payment methods"),
            required=False,
            help=gettext_lazy("Comma-separated: account, voucher, sms, wire, or all (the default)."),
        ),
        Field(
            "account_id",
            gettext_lazy("Member ID (API)"),
            required=False,
            help=gettext_lazy("Optional, for payment look-ups and Test connection: the ID you log in with."),
        ),
        Field(
            "account_password",
            gettext_lazy("Account password (API)"),
            secret=True,
            required=False,
            help=gettext_lazy("Optional, with the member ID; enable API access for the panel's IP at Perfect Money."),
        ),
        Field(
            "allowed_ips",
            gettext_lazy("Notification IP addresses"),
            required=False,
            help=gettext_lazy("Optional: only accept notifications from these addresses (comma-separated)."),
        ),
    )
    currencies: ClassVar[tuple[str, ...]] = tuple(UNITS.values())
    can_lookup: ClassVar[bool] = True
    can_test: ClassVar[bool] = True

    def __init__(self, config: dict[str, str], *, base_url: str | None = None, timeout: float = TIMEOUT_SECONDS):
        self.config = {key: (value or "").strip() for key, value in config.items()}
        self.base_url = (base_url or PRODUCTION_URL).rstrip("/")
        self.api = AccountApi(
            self.base_url,
            name="Perfect Money",
            secrets=(self.config.get("account_password", ""), self.config.get("alternate_passphrase", "")),
            timeout=timeout,
        )

    # --- settings ---------------------------------------------------------------------------

    def _account(self) -> str:
        account = self.config.get("payee_account", "").upper()
        if not ACCOUNT_RE.match(account):
            raise GatewayError(_("The payee account must look like U1234567 (USD) or E1234567 (EUR)."))
        return account

    def _methods(self) -> str:
        text = self.config.get("payment_methods", "") or "all"
        methods = [item.strip().lower() for item in text.split(",") if item.strip()]
        if not methods or any(method not in PAYMENT_METHODS for method in methods):
            raise GatewayError(_("Payment methods must be among: account, voucher, sms, wire, all."))
        return ", ".join(methods)

    def _api_credentials(self) -> dict[str, str] | None:
        account_id, password = self.config.get("account_id", ""), self.config.get("account_password", "")
        if not account_id or not password:
            return None
        return {"AccountID": account_id, "PassPhrase": password}

    # --- the interface ------------------------------------------------------------------------

    def start(self, request: StartRequest) -> Checkout:
        account = self._account()
        currency = request.currency.upper()
        if currency != UNITS[account[0]]:
            raise GatewayError(
                _("The payee account %(account)s takes %(units)s, not %(currency)s.")
                % {"account": account, "units": UNITS[account[0]], "currency": currency}
            )
        payee_name = self.config.get("payee_name", "")
        if not payee_name:
            raise GatewayError(_("Set the payee name."))
        fields = (
            ("PAYEE_ACCOUNT", account),
            ("PAYEE_NAME", payee_name[:100]),
            ("PAYMENT_ID", str(request.deposit_id)),
            ("PAYMENT_AMOUNT", wire_amount(request.amount)),
            ("PAYMENT_UNITS", currency),
            ("STATUS_URL", request.notify_url),
            ("PAYMENT_URL", request.return_url),
            ("PAYMENT_URL_METHOD", "LINK"),
            ("NOPAYMENT_URL", request.cancel_url),
            ("NOPAYMENT_URL_METHOD", "LINK"),
            ("SUGGESTED_MEMO", request.description[:100]),
            ("BAGGAGE_FIELDS", ""),
            ("AVAILABLE_PAYMENT_METHODS", self._methods()),
        )
        return Checkout(form_action=f"{self.base_url}{SCI_PATH}", form_fields=fields)

    def verify(self, incoming: Incoming) -> list[Report]:
        try:
            sources = Sources(self.config.get("allowed_ips", ""))
        except GatewayError as exc:
            raise BadNotification(str(exc)) from None
        sources.check(incoming.remote_addr)
        fields = notification_fields(incoming)
        missing = [name for name in (*STATUS_FIELDS, "V2_HASH") if not fields.get(name)]
        if missing:
            raise BadNotification(f"Missing fields: {', '.join(missing)}.")
        passphrase = self.config.get("alternate_passphrase", "")
        if not passphrase:
            raise BadNotification("No alternate passphrase is configured for this method.")
        if not same(v2_hash(fields, passphrase), fields["V2_HASH"].strip().upper()):
            raise BadNotification("V2_HASH does not match.")
        # Signed, so these are Perfect Money's words; still they must be about our account.
        try:
            account = self._account()
        except GatewayError as exc:
            raise BadNotification(str(exc)) from None
        if fields["PAYEE_ACCOUNT"].strip().upper() != account:
            raise BadNotification("The payment is to another payee account.")
        units = fields["PAYMENT_UNITS"].strip().upper()
        if units != UNITS[account[0]]:
            raise BadNotification(f"The units {units[:8]} are not the payee account's.")
        payment_id = fields["PAYMENT_ID"].strip()
        if not payment_id.isdigit():
            raise BadNotification("PAYMENT_ID is not one of our deposit IDs.")
        batch = fields["PAYMENT_BATCH_NUM"].strip()
        if not batch.isdigit():
            raise BadNotification("PAYMENT_BATCH_NUM is not a batch number.")
        amount = parse_amount(fields["PAYMENT_AMOUNT"])
        return [
            Report(
                outcome=Outcome.PAID,
                deposit_id=int(payment_id),
                event_id=f"{batch}:paid",
                transaction_id=batch,
                amount=amount,
                currency=units,
                note=f"Batch {batch} from {fields['PAYER_ACCOUNT'][:20]}",
                raw={name: fields[name] for name in STATUS_FIELDS},
            )
        ]

    def reply(self, reports: list[Report] | None, error: BadNotification | None = None) -> Reply:
        if error is not None or not reports:
            return Reply(status=400, body="ERROR")
        return Reply(status=200, body="OK")

    def lookup(self, request: LookupRequest) -> Report | None:
        """A PAID report for an income to our account with our PAYMENT_ID; None when there is
        none yet (or no API credentials are set)."""
        credentials = self._api_credentials()
        if credentials is None:
            return None
        account = self._account()
        end = datetime.now(UTC).date() + timedelta(days=1)
        start = end - timedelta(days=LOOKUP_DAYS)
        data = {
            **credentials,
            "startmonth": str(start.month),
            "startday": str(start.day),
            "startyear": str(start.year),
            "endmonth": str(end.month),
            "endday": str(end.day),
            "endyear": str(end.year),
            "paymentsreceived": "1",
            "payment_id": str(request.deposit_id),
        }
        if request.transaction_id:
            data["batchfilter"] = request.transaction_id
        text = self.api.post(HISTORY_PATH, data)
        for row in self._history_rows(text):
            if (
                row["Type"].strip().lower() == "income"
                and row["Payment ID"].strip() == str(request.deposit_id)
                and row["Payee Account"].strip().upper() == account
            ):
                batch = row["Batch"].strip()
                currency = row["Currency"].strip().upper()
                try:
                    amount = parse_amount(row["Amount"])
                except BadNotification:
                    raise GatewayError(_("Perfect Money's history has an amount that is not a number.")) from None
                return Report(
                    outcome=Outcome.PAID,
                    deposit_id=request.deposit_id,
                    event_id=f"{batch}:paid",
                    transaction_id=batch,
                    amount=amount,
                    currency=currency,
                    note=f"Batch {batch} in the account history",
                    raw={key: (value or "").strip() for key, value in row.items() if key},
                )
        return None

    def _history_rows(self, text: str) -> list[dict[str, str]]:
        lines = [line for line in text.replace("\r", "").split("\n") if line.strip()]
        if not lines:
            return []
        if lines[0].strip().lower().startswith("error"):
            raise GatewayError(_("Perfect Money refused: %(error)s") % {"error": self._scrub(lines[0])})
        header = [cell.strip() for cell in next(csv.reader([lines[0]]))]
        if header != HISTORY_HEADER:
            if "no records" in lines[0].lower():
                return []
            raise GatewayError(_("Perfect Money's history answer was not the documented CSV."))
        return list(csv.DictReader(io.StringIO("\n".join(lines)), skipinitialspace=True))

    def test_connection(self) -> str:
        credentials = self._api_credentials()
        if credentials is None:
            raise GatewayError(_("Set the member ID and account password to test the connection."))
        account = self._account()
        text = self.api.post(BALANCE_PATH, credentials)
        values = {name: html.unescape(value) for name, value in HIDDEN_INPUT.findall(text)}
        if "ERROR" in values:
            raise GatewayError(_("Perfect Money refused: %(error)s") % {"error": self._scrub(values["ERROR"])})
        if not values:
            raise GatewayError(_("Perfect Money's balance answer was not the documented form."))
        if account not in values:
            raise GatewayError(
                _("Connected, but the payee account %(account)s is not in this Perfect Money account.")
                % {"account": account}
            )
        return _("Connected: %(account)s holds %(balance)s %(units)s.") % {
            "account": account,
            "balance": values[account],
            "units": UNITS[account[0]],
        }

    def _scrub(self, text: str) -> str:
        return scrub(text, (self.config.get("account_password", ""), self.config.get("alternate_passphrase", "")))
