"""billing.gateways.perfectmoney against the local Perfect Money fake (testing.gateways.perfectmoney):
the SCI entry form, the V2_HASH of the status form, the account API. No database needed."""

import hashlib
import time
from decimal import Decimal

import pytest

from billing.gateways.base import BadNotification, GatewayError, LookupRequest, Outcome, StartRequest
from billing.gateways.perfectmoney import PRODUCTION_URL, PerfectMoneyGateway, md5_upper, v2_hash
from testing.gateways.fakeserver import silent_listener
from testing.gateways.perfectmoney import Driver, FakePerfectMoney, Payment, incoming_form

SECRETS = ("fake-api-password", "fake-alternate-passphrase")


def start_request(deposit_id=41, amount=Decimal("10.5"), currency="USD") -> StartRequest:
    return StartRequest(
        deposit_id=deposit_id,
        amount=amount,
        currency=currency,
        description="Add funds #41",
        customer_email="buyer@example.com",
        customer_name="Buyer",
        return_url="https://panel.example/payments/return/41/",
        cancel_url="https://panel.example/payments/cancel/41/",
        notify_url="https://panel.example/payments/notify/3/",
    )


@pytest.fixture
def driver():
    with Driver() as d:
        yield d


@pytest.fixture
def gateway(driver):
    return PerfectMoneyGateway(driver.config(), base_url=driver.base_url)


def paid(driver, gateway, deposit_id=41, asked=Decimal("10.5"), **pay):
    checkout = gateway.start(start_request(deposit_id, asked))
    driver.pay(checkout, **pay)
    return checkout, driver.notification(checkout)


# --- the documented vectors -------------------------------------------------------------------


def test_alternate_passphrase_hash_matches_perfect_moneys_sample_script():
    # Perfect Money's sample SCI status script: "Constant below contains md5-hashed alternate
    # passhrase in upper case. You can generate it like this: strtoupper(md5('your_passphrase'));"
    # define('ALTERNATE_PHRASE_HASH', '80F632EBFE5295A9F8933E360EB382DF');
    assert md5_upper("your_passphrase") == "80F632EBFE5295A9F8933E360EB382DF"


def test_v2_hash_is_md5_of_the_documented_colon_joined_string():
    fields = {
        "PAYMENT_ID": "15",
        "PAYEE_ACCOUNT": "U1234567",
        "PAYMENT_AMOUNT": "15.95",
        "PAYMENT_UNITS": "USD",
        "PAYMENT_BATCH_NUM": "1234567",
        "PAYER_ACCOUNT": "U7654321",
        "TIMESTAMPGMT": "1700000000",
    }
    # PAYMENT_ID:PAYEE_ACCOUNT:PAYMENT_AMOUNT:PAYMENT_UNITS:PAYMENT_BATCH_NUM:PAYER_ACCOUNT:
    # <ALTERNATE_PHRASE_HASH>:TIMESTAMPGMT, md5, upper case (SCI specification, V2_HASH).
    plain = "15:U1234567:15.95:USD:1234567:U7654321:80F632EBFE5295A9F8933E360EB382DF:1700000000"
    assert v2_hash(fields, "your_passphrase") == hashlib.md5(plain.encode()).hexdigest().upper()
    # The same fields run through Perfect Money's sample status script (its $string and
    # strtoupper(md5($string)), executed by PHP 8) give:
    assert v2_hash(fields, "your_passphrase") == "8E9C111C355B701A7AD6C1BDECB7716F"


# --- start ------------------------------------------------------------------------------------


def test_start_builds_the_sci_entry_form(gateway, driver):
    checkout = gateway.start(start_request())
    fields = dict(checkout.form_fields)
    assert checkout.form_action == f"{driver.base_url}/api/step1.asp"
    assert fields == {
        "PAYEE_ACCOUNT": "U1234567",
        "PAYEE_NAME": "Test Panel",
        "PAYMENT_ID": "41",
        "PAYMENT_AMOUNT": "10.50",
        "PAYMENT_UNITS": "USD",
        "STATUS_URL": "https://panel.example/payments/notify/3/",
        "PAYMENT_URL": "https://panel.example/payments/return/41/",
        "PAYMENT_URL_METHOD": "LINK",
        "NOPAYMENT_URL": "https://panel.example/payments/cancel/41/",
        "NOPAYMENT_URL_METHOD": "LINK",
        "SUGGESTED_MEMO": "Add funds #41",
        "BAGGAGE_FIELDS": "",
        "AVAILABLE_PAYMENT_METHODS": "all",
    }
    assert not checkout.redirect_url and not checkout.pay_address


def test_start_defaults_to_perfect_moneys_address(driver):
    checkout = PerfectMoneyGateway(driver.config()).start(start_request())
    assert checkout.form_action == "https://perfectmoney.com/api/step1.asp" == PRODUCTION_URL + "/api/step1.asp"


def test_start_in_euro_uses_the_euro_account(driver):
    gateway = PerfectMoneyGateway({**driver.config(), "payee_account": "e1234567"}, base_url=driver.base_url)
    fields = dict(gateway.start(start_request(amount=Decimal("7"), currency="EUR")).form_fields)
    assert (fields["PAYEE_ACCOUNT"], fields["PAYMENT_UNITS"], fields["PAYMENT_AMOUNT"]) == ("E1234567", "EUR", "7.00")


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        (Decimal("10.005"), "USD"),  # more decimals than cents
        (Decimal("0"), "USD"),
        (Decimal("-5"), "USD"),
        (Decimal("NaN"), "USD"),
        (Decimal("10"), "EUR"),  # a U account takes USD only
        (Decimal("10"), "GBP"),
    ],
)
def test_start_refuses_amounts_and_currencies_it_cannot_charge(gateway, amount, currency):
    with pytest.raises(GatewayError):
        gateway.start(start_request(amount=amount, currency=currency))


@pytest.mark.parametrize(
    "change",
    [
        {"payee_account": "X1234567"},
        {"payee_account": ""},
        {"payee_account": "G1234567"},  # gold: not offered
        {"payee_name": ""},
        {"payment_methods": "account, bitcoin"},
    ],
)
def test_start_refuses_bad_settings(driver, change):
    gateway = PerfectMoneyGateway({**driver.config(), **change}, base_url=driver.base_url)
    with pytest.raises(GatewayError):
        gateway.start(start_request())


def test_the_fake_accepts_the_form_as_started(gateway, driver):
    checkout = gateway.start(start_request(amount=Decimal("12.34")))
    driver.pay(checkout)
    payment = driver.fake.payment("41")
    assert (payment.amount, payment.units, payment.payee) == ("12.34", "USD", "U1234567")
    assert payment.status_url == "https://panel.example/payments/notify/3/"


# --- verify -----------------------------------------------------------------------------------


def test_verify_a_paid_status_form(gateway, driver):
    _, incoming = paid(driver, gateway)
    [report] = gateway.verify(incoming)
    batch = driver.fake.payment("41").batch
    assert report.outcome is Outcome.PAID
    assert report.deposit_id == 41
    assert report.transaction_id == batch
    assert report.event_id == f"{batch}:paid"
    assert report.amount == Decimal("10.50")
    assert report.currency == "USD"
    assert "V2_HASH" not in report.raw
    assert report.raw["PAYMENT_BATCH_NUM"] == batch


def test_the_same_notification_twice_gives_the_same_report(gateway, driver):
    _, incoming = paid(driver, gateway)
    assert gateway.verify(incoming) == gateway.verify(incoming)


def test_verify_reads_the_raw_body_when_no_form_was_parsed(gateway, driver):
    _, incoming = paid(driver, gateway)
    bare = type(incoming)(body=incoming.body, headers=incoming.headers, form={}, query={}, remote_addr="127.0.0.1")
    assert gateway.verify(bare) == gateway.verify(incoming)


@pytest.mark.parametrize(("amount", "expected"), [(Decimal("4.00"), "4.00"), (Decimal("25"), "25.00")])
def test_underpaid_and_overpaid_forms_report_what_was_paid(gateway, driver, amount, expected):
    _, incoming = paid(driver, gateway, asked=Decimal("10"), amount=amount)
    [report] = gateway.verify(incoming)
    assert (report.outcome, report.amount) == (Outcome.PAID, Decimal(expected))


def test_payment_in_another_currency_is_refused(gateway, driver):
    # Paying in EUR means paying into the merchant's E wallet: not the method's account.
    _, incoming = paid(driver, gateway, currency="EUR")
    with pytest.raises(BadNotification):
        gateway.verify(incoming)


def test_tampered_amount_is_refused(gateway, driver):
    _, incoming = paid(driver, gateway)
    with pytest.raises(BadNotification, match="V2_HASH"):
        gateway.verify(driver.tamper(incoming))


def test_wrong_passphrase_is_refused(gateway, driver):
    paid(driver, gateway)
    forged = driver.fake.status_form(driver.fake.payment("41"), passphrase="guessed")
    with pytest.raises(BadNotification, match="V2_HASH"):
        gateway.verify(incoming_form(forged))


@pytest.mark.parametrize("name", ["V2_HASH", "PAYMENT_BATCH_NUM", "TIMESTAMPGMT", "PAYMENT_AMOUNT", "PAYEE_ACCOUNT"])
def test_missing_fields_are_refused(gateway, driver, name):
    _, incoming = paid(driver, gateway)
    fields = dict(incoming.form)
    del fields[name]
    with pytest.raises(BadNotification, match="Missing"):
        gateway.verify(incoming_form(fields))


def test_lower_case_hash_of_the_same_value_is_accepted(gateway, driver):
    _, incoming = paid(driver, gateway)
    fields = {**incoming.form, "V2_HASH": incoming.form["V2_HASH"].lower()}
    assert gateway.verify(incoming_form(fields))[0].outcome is Outcome.PAID


def signed(fake: FakePerfectMoney, **changes) -> dict[str, str]:
    payment = Payment(
        batch="700000001",
        payment_id="41",
        payee="U1234567",
        payer="U7654321",
        amount="10.50",
        units="USD",
        timestamp=int(time.time()),
        memo="",
        status_url="",
    )
    for key, value in changes.items():
        setattr(payment, key, value)
    return fake.status_form(payment)


@pytest.mark.parametrize(
    "changes",
    [
        {"payee": "U9999999"},  # another merchant's account, correctly signed
        {"units": "EUR"},  # units that are not the account's
        {"payment_id": "NULL"},  # no PAYMENT_ID on the entry form
        {"payment_id": "abc"},
        {"batch": "12x"},
        {"amount": "-1.00"},
        {"amount": "ten"},
    ],
)
def test_signed_forms_about_other_things_are_refused(gateway, driver, changes):
    with pytest.raises(BadNotification):
        gateway.verify(incoming_form(signed(driver.fake, **changes)))


def test_unsigned_extra_fields_are_ignored_and_left_out_of_raw(gateway, driver):
    fields = {**signed(driver.fake), "ORDER_NUM": "9801121", "SUGGESTED_MEMO": "hello"}
    [report] = gateway.verify(incoming_form(fields))
    assert report.amount == Decimal("10.50")
    assert set(report.raw) == {
        "PAYMENT_ID",
        "PAYEE_ACCOUNT",
        "PAYMENT_AMOUNT",
        "PAYMENT_UNITS",
        "PAYMENT_BATCH_NUM",
        "PAYER_ACCOUNT",
        "TIMESTAMPGMT",
    }


def test_notifications_from_addresses_off_the_list_are_refused(gateway, driver):
    fields = signed(driver.fake)
    with pytest.raises(BadNotification, match="allow-list"):
        gateway.verify(incoming_form(fields, remote_addr="203.0.113.9"))
    with pytest.raises(BadNotification):
        gateway.verify(incoming_form(fields, remote_addr=""))
    listed = PerfectMoneyGateway({**driver.config(), "allowed_ips": "77.109.141.170, 203.0.113.0/24"})
    assert listed.verify(incoming_form(fields, remote_addr="203.0.113.9"))[0].outcome is Outcome.PAID
    assert listed.verify(incoming_form(fields, remote_addr="::ffff:203.0.113.9"))[0].outcome is Outcome.PAID
    anywhere = PerfectMoneyGateway({**driver.config(), "allowed_ips": ""})
    assert anywhere.verify(incoming_form(fields, remote_addr="198.51.100.1"))[0].outcome is Outcome.PAID


def test_malformed_bodies_are_refused(gateway):
    from billing.gateways.base import Incoming

    for body in (b"\xff\xfe", b"not a form", b""):
        with pytest.raises(BadNotification):
            gateway.verify(Incoming(body=body, headers={}, form={}, query={}, remote_addr="127.0.0.1"))


def test_without_alternate_passphrase_nothing_verifies(driver):
    gateway = PerfectMoneyGateway({**driver.config(), "alternate_passphrase": ""})
    with pytest.raises(BadNotification):
        gateway.verify(incoming_form(signed(driver.fake)))


def test_reply_texts(gateway, driver):
    _, incoming = paid(driver, gateway)
    reports = gateway.verify(incoming)
    assert (gateway.reply(reports).status, gateway.reply(reports).body) == (200, "OK")
    refused = gateway.reply(None, BadNotification("V2_HASH does not match."))
    assert (refused.status, refused.body) == (400, "ERROR")


# --- lookup and test connection ---------------------------------------------------------------


def lookup_request(deposit_id=41, transaction_id="") -> LookupRequest:
    return LookupRequest(
        deposit_id=deposit_id, external_id="", transaction_id=transaction_id, amount=Decimal("10.50"), currency="USD"
    )


def test_lookup_finds_the_payment_in_the_history(gateway, driver):
    _, incoming = paid(driver, gateway)
    [notified] = gateway.verify(incoming)
    found = gateway.lookup(lookup_request())
    assert found.outcome is Outcome.PAID
    assert (found.transaction_id, found.event_id, found.deposit_id) == (
        notified.transaction_id,
        notified.event_id,
        41,
    )
    assert (found.amount, found.currency) == (Decimal("10.50"), "USD")
    assert gateway.lookup(lookup_request(transaction_id=notified.transaction_id)) == found
    # The credentials travel in a POST body, never in the URL.
    api_calls = [r for r in driver.fake.http.requests if r.path.startswith("/acct/")]
    assert api_calls and all(r.method == "POST" for r in api_calls)
    assert not any("PassPhrase" in r.path for r in api_calls)


def test_lookup_of_an_unpaid_deposit_is_none(gateway, driver):
    paid(driver, gateway, deposit_id=40)
    assert gateway.lookup(lookup_request(deposit_id=41)) is None
    assert gateway.lookup(lookup_request(deposit_id=40, transaction_id="999")) is None


def test_lookup_without_api_credentials_is_none(driver):
    gateway = PerfectMoneyGateway({**driver.config(), "account_password": ""}, base_url=driver.base_url)
    assert gateway.lookup(lookup_request()) is None


def test_lookup_with_a_wrong_password_says_so_without_the_password(driver):
    gateway = PerfectMoneyGateway({**driver.config(), "account_password": "wrong-pass-123"}, base_url=driver.base_url)
    with pytest.raises(GatewayError, match="Can not login") as caught:
        gateway.lookup(lookup_request())
    assert "wrong-pass-123" not in str(caught.value)


def test_test_connection(gateway, driver):
    paid(driver, gateway)
    assert gateway.test_connection() == "Connected: U1234567 holds 10.50 USD."


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"account_password": "wrong-pass-123"}, "Can not login"),
        ({"account_id": "7654321"}, "Can not login"),
        ({"account_password": ""}, "Set the member ID"),
        ({"payee_account": "U5555555"}, "not in this Perfect Money account"),
    ],
)
def test_test_connection_failures(driver, change, message):
    gateway = PerfectMoneyGateway({**driver.config(), **change}, base_url=driver.base_url)
    with pytest.raises(GatewayError, match=message) as caught:
        gateway.test_connection()
    for secret in (*SECRETS, "wrong-pass-123"):
        assert secret not in str(caught.value)


def test_a_gateway_that_never_answers_fails_quickly():
    with silent_listener() as url:
        config = {**Driver().config(), "account_password": "fake-api-password"}
        gateway = PerfectMoneyGateway(config, base_url=url, timeout=0.5)
        for call in (gateway.test_connection, lambda: gateway.lookup(lookup_request())):
            began = time.monotonic()
            with pytest.raises(GatewayError, match="did not answer in time") as caught:
                call()
            assert time.monotonic() - began < 3
            assert "fake-api-password" not in str(caught.value) and url not in str(caught.value)


def test_an_unreachable_gateway_is_a_gateway_error():
    with silent_listener() as url:
        pass  # closed: nothing listens there now
    gateway = PerfectMoneyGateway(Driver().config(), base_url=url, timeout=0.5)
    with pytest.raises(GatewayError, match="could not be reached") as caught:
        gateway.test_connection()
    assert "fake-api-password" not in str(caught.value)
    assert caught.value.__suppress_context__


def test_no_secret_reaches_reports_or_errors(gateway, driver):
    _, incoming = paid(driver, gateway)
    reports = [*gateway.verify(incoming), gateway.lookup(lookup_request())]
    text = repr(reports)
    for secret in (*SECRETS, md5_upper(SECRETS[1])):
        assert secret not in text
    assert incoming.form["V2_HASH"] not in text


def test_driver_contract(driver):
    assert driver.code == PerfectMoneyGateway.code
    assert driver.currency in PerfectMoneyGateway.currencies
    assert {f.name for f in PerfectMoneyGateway.fields} >= set(driver.config())
    with pytest.raises(ValueError):
        driver.notification(None, outcome="refunded")
