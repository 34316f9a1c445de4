"""A local fake of Perfect Money: the SCI entry form and the account API, as Perfect Money's
documents describe them (see billing.gateways.perfectmoney for the list).

- ``POST /api/step1.asp``: the SCI entry form. The fake plays the customer logging in and
  confirming at once: it checks the form as Perfect Money would (payee account exists, units match
  its letter, amount with at most two decimals), moves the money from the customer's wallet and
  records the payment with a new batch number.
- ``/acct/balance.asp``: the balances as hidden inputs; a wrong AccountID/PassPhrase answers the
  documented ``ERROR`` input ("Can not login with passed AccountID and PassPhrase").
- ``/acct/historycsv.asp``: the history CSV (documented columns), filtered by payment_id,
  batchfilter and paymentsreceived/paymentsmade; a wrong login answers "Error: ...".

``status_form(payment)`` is the form Perfect Money POSTs to STATUS_URL, with V2_HASH computed from
the merchant's alternate passphrase exactly as the SCI specification says.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import itertools
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from billing.gateways.base import Checkout, Incoming

from .fakeserver import Answer, FakeHttpServer

LOGIN_ERROR = "Can not login with passed AccountID and PassPhrase"
HEADER = ["Time", "Type", "Batch", "Currency", "Amount", "Fee", "Payer Account", "Payee Account", "Payment ID", "Memo"]
UNITS = {"U": "USD", "E": "EUR"}
# The fake merchant's secrets (test values, known to the Driver's config).
API_PASSWORD = "fake-api-password"
ALTERNATE_PASSPHRASE = "fake-alternate-passphrase"


def _md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


@dataclass
class Payment:
    batch: str
    payment_id: str
    payee: str
    payer: str
    amount: str  # as the entry form said it, which is what the status form echoes
    units: str
    timestamp: int
    memo: str
    status_url: str


class FakePerfectMoney:
    """One merchant (member ID `account_id`) with a USD and a EUR wallet, and one customer."""

    def __init__(
        self,
        *,
        account_id: str = "1234567",
        password: str = API_PASSWORD,
        alternate_passphrase: str = ALTERNATE_PASSPHRASE,
        usd_account: str = "U1234567",
        eur_account: str = "E1234567",
        payer_account: str = "U7654321",
    ):
        self.account_id, self.password = account_id, password
        self.alternate_passphrase = alternate_passphrase
        self.wallets = {usd_account: Decimal("0.00"), eur_account: Decimal("0.00")}
        self.payer_account = payer_account
        self.payments: list[Payment] = []
        self._batches = itertools.count(500_000_001)
        self._lock = threading.Lock()
        self.http = FakeHttpServer(
            {
                "/api/step1.asp": self._step1,
                "/acct/balance.asp": self._balance,
                "/acct/historycsv.asp": self._history,
            }
        )

    @property
    def url(self) -> str:
        return self.http.url

    def start(self) -> FakePerfectMoney:
        self.http.start()
        return self

    def stop(self) -> None:
        self.http.stop()

    # --- SCI ----------------------------------------------------------------------------------

    def _step1(self, fields: dict[str, str], request) -> Answer:
        payee = fields.get("PAYEE_ACCOUNT", "")
        units = fields.get("PAYMENT_UNITS", "")
        amount_text = fields.get("PAYMENT_AMOUNT", "")
        if payee not in self.wallets:
            return Answer(200, "<html><body>Error: Invalid Payee Account</body></html>")
        if UNITS[payee[0]] != units:
            return Answer(200, "<html><body>Error: Invalid PAYMENT_UNITS</body></html>")
        try:
            amount = Decimal(amount_text)
        except InvalidOperation:
            return Answer(200, "<html><body>Error: Invalid PAYMENT_AMOUNT</body></html>")
        if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
            return Answer(200, "<html><body>Error: Invalid PAYMENT_AMOUNT</body></html>")
        with self._lock:
            payment = Payment(
                batch=str(next(self._batches)),
                payment_id=fields.get("PAYMENT_ID") or "NULL",
                payee=payee,
                payer=self.payer_account,
                amount=amount_text,
                units=units,
                timestamp=int(time.time()),
                memo=fields.get("SUGGESTED_MEMO", ""),
                status_url=fields.get("STATUS_URL", ""),
            )
            self.payments.append(payment)
            self.wallets[payee] += amount
        return Answer(200, f"<html><body>Payment complete. Batch: {payment.batch}</body></html>")

    def status_form(self, payment: Payment, *, passphrase: str | None = None) -> dict[str, str]:
        """What Perfect Money POSTs to STATUS_URL for `payment`, signed with the merchant's
        alternate passphrase (or `passphrase`, to forge one)."""
        fields = {
            "PAYEE_ACCOUNT": payment.payee,
            "PAYMENT_ID": payment.payment_id,
            "PAYMENT_AMOUNT": payment.amount,
            "PAYMENT_UNITS": payment.units,
            "PAYMENT_BATCH_NUM": payment.batch,
            "PAYER_ACCOUNT": payment.payer,
            "TIMESTAMPGMT": str(payment.timestamp),
        }
        signed = ":".join(
            [
                fields["PAYMENT_ID"],
                fields["PAYEE_ACCOUNT"],
                fields["PAYMENT_AMOUNT"],
                fields["PAYMENT_UNITS"],
                fields["PAYMENT_BATCH_NUM"],
                fields["PAYER_ACCOUNT"],
                _md5_upper(self.alternate_passphrase if passphrase is None else passphrase),
                fields["TIMESTAMPGMT"],
            ]
        )
        fields["V2_HASH"] = _md5_upper(signed)
        if payment.memo:
            fields["SUGGESTED_MEMO"] = payment.memo
        return fields

    def payment(self, payment_id: str) -> Payment:
        matches = [p for p in self.payments if p.payment_id == payment_id]
        if not matches:
            raise LookupError(f"No payment with PAYMENT_ID {payment_id} on the fake.")
        return matches[-1]

    # --- account API --------------------------------------------------------------------------

    def _logged_in(self, fields: dict[str, str]) -> bool:
        return fields.get("AccountID") == self.account_id and fields.get("PassPhrase") == self.password

    def _balance(self, fields: dict[str, str], request) -> Answer:
        rows, inputs = [], []
        if not self._logged_in(fields):
            body = f"Error: {LOGIN_ERROR}\n<input name='ERROR' type='hidden' value='{LOGIN_ERROR}'>"
        else:
            for account, balance in self.wallets.items():
                rows.append(f"<tr><td>{account}</td><td>{balance:.2f}</td></tr>")
                inputs.append(f"<input name='{account}' type='hidden' value='{balance:.2f}'>")
            body = "<table border=1>\n" + "\n".join(rows) + "\n</table>\n" + "\n".join(inputs)
        page = f"<html>\n<head>\n<title>Balance</title>\n</head>\n<body>\n<h1>Balance</h1>\n{body}\n</body>\n</html>\n"
        return Answer(200, page)

    def _history(self, fields: dict[str, str], request) -> Answer:
        if not self._logged_in(fields):
            return Answer(200, f"Error: {LOGIN_ERROR}", "text/plain")
        try:
            start = date(int(fields["startyear"]), int(fields["startmonth"]), int(fields["startday"]))
            end = date(int(fields["endyear"]), int(fields["endmonth"]), int(fields["endday"]))
        except (KeyError, ValueError):
            return Answer(200, "Error: Invalid start or end date", "text/plain")
        received, made = "paymentsreceived" in fields, "paymentsmade" in fields
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        for payment in self.payments:
            when = datetime.fromtimestamp(payment.timestamp, UTC)
            if not start <= when.date() <= end:
                continue
            if fields.get("payment_id") and payment.payment_id != fields["payment_id"]:
                continue
            if fields.get("batchfilter") and payment.batch != fields["batchfilter"]:
                continue
            if (received or not made) and payment.payee in self.wallets:
                writer.writerow(
                    [
                        when.strftime("%m/%d/%Y %H:%M"),
                        "Income",
                        payment.batch,
                        payment.units,
                        payment.amount,
                        "0.00",
                        payment.payer,
                        payment.payee,
                        payment.payment_id,
                        payment.memo or f"Income {payment.amount} {payment.units} from account {payment.payer}",
                    ]
                )
        return Answer(200, out.getvalue(), "text/plain")


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
    """The flow tests' customer and gateway for Perfect Money (testing.gateways contract). Perfect
    Money only notifies completed payments, so the only outcome is "paid"."""

    code = "perfectmoney"
    currency = "USD"
    outcomes = ("paid",)

    def __init__(self) -> None:
        self.fake = FakePerfectMoney()

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
            "payee_account": "U1234567",
            "payee_name": "Test Panel",
            "alternate_passphrase": self.fake.alternate_passphrase,
            "payment_methods": "all",
            "account_id": self.fake.account_id,
            "account_password": self.fake.password,
            "allowed_ips": "127.0.0.1",
        }

    def pay(self, checkout: Checkout, *, amount: Decimal | None = None, currency: str | None = None) -> None:
        import requests

        fields = dict(checkout.form_fields)
        if amount is not None:
            fields["PAYMENT_AMOUNT"] = f"{amount:.2f}"
        if currency is not None:
            # Another currency means paying into the merchant's wallet of that currency.
            fields["PAYMENT_UNITS"] = currency
            letter = {value: key for key, value in UNITS.items()}.get(currency)
            if letter:
                fields["PAYEE_ACCOUNT"] = letter + fields["PAYEE_ACCOUNT"][1:]
        response = requests.post(checkout.form_action, data=fields, timeout=10)
        response.raise_for_status()
        if "Payment complete" not in response.text:
            raise AssertionError(f"The fake refused the payment: {html.unescape(response.text)[:200]}")

    def notification(self, checkout: Checkout, *, outcome: str = "paid") -> Incoming:
        if outcome not in self.outcomes:
            raise ValueError(f"Perfect Money sends no notification for {outcome!r}.")
        payment = self.fake.payment(dict(checkout.form_fields)["PAYMENT_ID"])
        return incoming_form(self.fake.status_form(payment))

    def tamper(self, incoming: Incoming) -> Incoming:
        fields = dict(incoming.form)
        fields["PAYMENT_AMOUNT"] = f"{Decimal(fields['PAYMENT_AMOUNT']) * 10:.2f}"
        return incoming_form(fields, remote_addr=incoming.remote_addr)
