"""billing.gateways.paystack against the local fake of Paystack's API (testing.gateways.paystack).

No database. Paystack's webhook page (paystack.com/docs/payments/webhooks, "Verify event origin")
gives the check as PHP: ``$_SERVER['HTTP_X_PAYSTACK_SIGNATURE'] !== hash_hmac('sha512', $input,
SECRET_KEY)``. It publishes no key with a signature, so the vector below was computed by PHP 8.2's
hash_hmac itself over a charge.success event of their documented shape, with the fake's test key.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
import requests

from billing.gateways.base import BadNotification, GatewayError, Incoming, LookupRequest, Outcome, StartRequest
from billing.gateways.paystack import PaystackGateway, subunits
from testing.gateways.jsonfake import silent_listener
from testing.gateways.paystack import SECRET_KEY, WEBHOOK_IPS, Driver, FakePaystack

DOC_CHARGE = (
    '{"event":"charge.success","data":{"id":302961,"domain":"live","status":"success","reference":"dep-42-0a1b2c3d4e5f",'
    '"amount":1050000,"message":null,"gateway_response":"Approved by Financial Institution",'
    '"paid_at":"2026-11-30T21:10:19.000Z","created_at":"2026-11-30T21:09:56.000Z","channel":"card","currency":"NGN",'
    '"ip_address":"41.242.49.37","metadata":{"deposit_id":"42","cancel_action":"https://panel.example/add-funds/"},'
    '"log":null,"fees":15750,"customer":{"id":68324,"first_name":"Ada","last_name":"Obi","email":"ada@example.com",'
    '"customer_code":"CUS_qo38as2hpsgk2r0","phone":null,"metadata":null,"risk_action":"default"},'
    '"authorization":{"authorization_code":"AUTH_f5rnfq9p","bin":"539999","last4":"8877","exp_month":"08",'
    '"exp_year":"2030","card_type":"mastercard DEBIT","bank":"Guaranty Trust Bank","country_code":"NG",'
    '"brand":"mastercard","signature":"SIG_uSYN4fv1adlAuoij8QXh","account_name":"Ada Obi"},"plan":{}}}'
)
DOC_CHARGE_SIGNATURE = (  # hash_hmac('sha512', DOC_CHARGE, SECRET_KEY), printed by PHP 8.2
    "9e2dac01fb0c50068175b568aaf2f60c6f651479bd4a93dadaa97c7341c8cb64"
    "a2e6a2d67e2943a9e1403a9a98a1b824817310a81848f4449f68a3ea6d9240e7"
)


def start_request(
    deposit_id: int = 42, amount: str = "10500.00", currency: str = "NGN", email: str = "ada@example.com"
):
    return StartRequest(
        deposit_id=deposit_id,
        amount=Decimal(amount),
        currency=currency,
        description="Add funds",
        customer_email=email,
        customer_name="Ada",
        return_url="https://panel.example/payments/return/9/",
        cancel_url="https://panel.example/add-funds/",
        notify_url="https://panel.example/payments/notify/9/",
    )


@pytest.fixture
def driver():
    with Driver() as running:
        yield running


@pytest.fixture
def fake(driver) -> FakePaystack:
    return driver.fake


@pytest.fixture
def gateway(driver) -> PaystackGateway:
    return PaystackGateway(driver.config(), base_url=driver.base_url)


def incoming(body: bytes | str, signature: str | None, remote_addr: str = WEBHOOK_IPS[0]) -> Incoming:
    body = body.encode() if isinstance(body, str) else body
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-paystack-signature"] = signature
    return Incoming(body=body, headers=headers, form={}, query={}, remote_addr=remote_addr)


# ------------------------------------------------------------------------------- the vector


def test_the_php_computed_signature_verifies_and_the_charge_is_paid():
    gateway = PaystackGateway({"secret_key": SECRET_KEY})
    [report] = gateway.verify(incoming(DOC_CHARGE, DOC_CHARGE_SIGNATURE))
    assert report.outcome is Outcome.PAID
    assert report.deposit_id == 42
    assert report.transaction_id == "302961" and report.event_id == "charge.success:302961"
    assert report.external_id == "dep-42-0a1b2c3d4e5f"
    assert report.amount == Decimal("10500.00") and report.currency == "NGN"
    # The reusable card authorization never leaves verify().
    assert "AUTH_f5rnfq9p" not in json.dumps(report.raw) and "SIG_uSYN4fv1adlAuoij8QXh" not in json.dumps(report.raw)
    assert report.raw["data"]["authorization"]["last4"] == "8877"


def test_an_upper_case_signature_is_the_same_signature():
    gateway = PaystackGateway({"secret_key": SECRET_KEY})
    assert gateway.verify(incoming(DOC_CHARGE, DOC_CHARGE_SIGNATURE.upper()))


# ------------------------------------------------------------------------------- start


def test_start_initializes_a_transaction_in_subunits(gateway, fake):
    checkout = gateway.start(start_request())
    call = fake.calls[-1]
    assert (call.method, call.path) == ("POST", "/transaction/initialize")
    assert call.headers["authorization"] == f"Bearer {SECRET_KEY}"
    sent = json.loads(call.body)
    assert sent["amount"] == 1050000 and sent["currency"] == "NGN" and sent["email"] == "ada@example.com"
    assert sent["callback_url"] == "https://panel.example/payments/return/9/"
    assert sent["metadata"] == {"deposit_id": "42", "cancel_action": "https://panel.example/add-funds/"}
    assert "channels" not in sent
    assert sent["reference"] == checkout.external_id and checkout.external_id.startswith("dep-42-")
    transaction = fake.transactions[checkout.external_id]
    assert checkout.redirect_url == f"{fake.url}/checkout/{transaction.access_code}"
    assert checkout.client_options == {}


def test_every_checkout_is_its_own_transaction(gateway, fake):
    first, second = gateway.start(start_request()), gateway.start(start_request())
    assert first.external_id != second.external_id and len(fake.transactions) == 2


def test_channels_are_passed_on_and_checked(driver, fake):
    gateway = PaystackGateway({**driver.config(), "channels": "card, Bank_Transfer"}, base_url=driver.base_url)
    gateway.start(start_request())
    assert json.loads(fake.calls[-1].body)["channels"] == ["card", "bank_transfer"]
    with pytest.raises(GatewayError, match="channel"):
        PaystackGateway({**driver.config(), "channels": "card, crypto"}, base_url=driver.base_url).start(
            start_request()
        )


@pytest.mark.parametrize(
    ("amount", "currency", "wire"),
    [("10500", "NGN", 1050000), ("0.01", "GHS", 1), ("19.99", "ZAR", 1999), ("250.5", "KES", 25050), ("5", "usd", 500)],
)
def test_subunits(amount, currency, wire):
    assert subunits(Decimal(amount), currency) == wire


@pytest.mark.parametrize(
    ("amount", "currency", "email"),
    [
        ("10.005", "NGN", "ada@example.com"),
        ("0", "NGN", "ada@example.com"),
        ("-1", "NGN", "ada@example.com"),
        ("10", "EUR", "ada@example.com"),
        ("10", "NGN", ""),
    ],
)
def test_start_refuses_what_paystack_cannot_charge_without_calling(gateway, fake, amount, currency, email):
    with pytest.raises(GatewayError):
        gateway.start(start_request(amount=amount, currency=currency, email=email))
    assert fake.calls == []


def test_a_currency_the_account_does_not_take_is_paystacks_refusal(gateway):
    with pytest.raises(GatewayError, match="Currency not supported by merchant"):
        gateway.start(start_request(currency="GHS", amount="10"))


def test_start_with_a_wrong_key_fails_without_telling_the_key(driver):
    wrong = "sk_test_" + "0" * 40
    with pytest.raises(GatewayError) as caught:
        PaystackGateway({"secret_key": wrong}, base_url=driver.base_url).start(start_request())
    message = str(caught.value)
    assert "401" in message and "Invalid key" in message and wrong not in message


def test_unconfigured_method_refuses():
    with pytest.raises(GatewayError, match="not configured"):
        PaystackGateway({}).start(start_request())
    with pytest.raises(BadNotification):
        PaystackGateway({}).verify(incoming(DOC_CHARGE, DOC_CHARGE_SIGNATURE))


@pytest.mark.parametrize(
    ("setting", "value", "problem"),
    [
        ("secret_key", "pk_test_" + "4f1c" * 10, "public key"),
        ("channels", "card, crypto", "channel"),
        ("webhook_ips", "52.31.139.75 nonsense", "source addresses"),
    ],
)
def test_wrong_settings_make_the_method_unconfigured_with_the_reason(setting, value, problem):
    good = PaystackGateway({"secret_key": SECRET_KEY})
    assert good.configured and good.problem == ""
    assert not PaystackGateway({}).configured
    wrong = PaystackGateway({"secret_key": SECRET_KEY, setting: value})
    assert not wrong.configured and problem in wrong.problem
    with pytest.raises(GatewayError, match=problem):
        wrong.start(start_request())


# ------------------------------------------------------------------------------- verify


def test_a_paid_checkout_is_paid(driver, gateway, fake):
    checkout = gateway.start(start_request())
    driver.pay(checkout)
    [report] = gateway.verify(driver.notification(checkout))
    transaction = fake.transactions[checkout.external_id]
    assert report.outcome is Outcome.PAID and report.deposit_id == 42
    assert report.transaction_id == str(transaction.id) and report.external_id == checkout.external_id
    assert report.amount == Decimal("10500.00") and report.currency == "NGN"


def test_fees_passed_on_to_the_customer_are_not_credited(gateway, fake):
    checkout = gateway.start(start_request())
    fake.pay(checkout.external_id, amount=1050000 + 15850)  # the customer also paid Paystack's fee
    [report] = gateway.verify(fake.sign(fake.charge_success(checkout.external_id)))
    assert report.amount == Decimal("10500.00")


def test_an_underpaid_or_foreign_currency_charge_reports_what_it_was(driver, gateway):
    checkout = gateway.start(start_request())
    driver.pay(checkout, amount=Decimal("100.50"), currency="USD")
    [report] = gateway.verify(driver.notification(checkout))
    assert (report.amount, report.currency) == (Decimal("100.50"), "USD")


def test_a_refund_is_reported(driver, gateway, fake):
    checkout = gateway.start(start_request())
    driver.pay(checkout)
    [report] = gateway.verify(driver.notification(checkout, outcome="refunded"))
    assert report.outcome is Outcome.REFUNDED and report.deposit_id == 42
    assert report.external_id == checkout.external_id
    assert report.amount == Decimal("10500.00") and report.currency == "NGN"
    assert report.event_id.startswith("refund.processed:")
    partial = gateway.verify(fake.sign(fake.refund_processed(checkout.external_id, amount=250000)))[0]
    assert partial.amount == Decimal("2500.00")
    # Each refund is named by its own ID.
    assert report.transaction_id.startswith("refund:") and partial.transaction_id.startswith("refund:")
    assert partial.transaction_id != report.transaction_id


def test_a_chargeback_is_reported(driver, gateway, fake):
    checkout = gateway.start(start_request())
    driver.pay(checkout)
    [report] = gateway.verify(driver.notification(checkout, outcome="chargeback"))
    transaction = fake.transactions[checkout.external_id]
    assert report.outcome is Outcome.CHARGEBACK and report.deposit_id == 42
    # The dispute's own ID, not the payment's: a dispute and each refund are reversals of their own.
    assert report.transaction_id == f"dispute:{report.raw['data']['id']}" != f"dispute:{transaction.id}"
    assert report.amount == Decimal("10500.00") and report.currency == "NGN"
    assert "AUTH_" not in json.dumps(report.raw)


@pytest.mark.parametrize(
    "event",
    [
        "transfer.success",
        "refund.pending",
        "refund.failed",
        "charge.dispute.resolve",
        "subscription.create",
        "invoice.update",
    ],
)
def test_other_events_are_acknowledged_and_ignored(gateway, fake, event):
    checkout = gateway.start(start_request())
    signed = fake.sign({"event": event, "data": {"id": 77, "reference": checkout.external_id, "amount": 5}})
    [report] = gateway.verify(signed)
    assert report.outcome is Outcome.IGNORED and report.event_id == f"{event}:77"
    assert gateway.reply([report]).status == 200


def test_charges_that_are_not_our_deposits_are_ignored(gateway, fake):
    for reference in ("T2154954_412829", "dep-x-0a1b2c3d4e5f", "page_ref_99"):
        event = json.loads(DOC_CHARGE)
        event["data"]["reference"] = reference
        event["data"]["metadata"] = ""
        [report] = gateway.verify(fake.sign(event))
        assert report.outcome is Outcome.IGNORED and report.deposit_id is None


def test_reference_and_metadata_must_agree(gateway, fake):
    event = json.loads(DOC_CHARGE)
    event["data"]["metadata"] = {"deposit_id": "43"}
    with pytest.raises(BadNotification, match="different deposits"):
        gateway.verify(fake.sign(event))
    event["data"]["metadata"] = json.dumps({"deposit_id": "42"})  # metadata sometimes comes as a string
    assert gateway.verify(fake.sign(event))[0].deposit_id == 42


def test_a_replayed_event_is_the_same_report_and_a_lookup_agrees(driver, gateway):
    checkout = gateway.start(start_request())
    driver.pay(checkout)
    event = driver.notification(checkout)
    first, second = gateway.verify(event), gateway.verify(event)
    assert first == second
    looked_up = gateway.lookup(
        LookupRequest(
            deposit_id=42, external_id=checkout.external_id, transaction_id="", amount=Decimal("10500"), currency="NGN"
        )
    )
    assert looked_up.event_id == first[0].event_id and looked_up.transaction_id == first[0].transaction_id


def test_a_tampered_event_is_refused(driver, gateway):
    checkout = gateway.start(start_request())
    driver.pay(checkout)
    for outcome in ("paid", "refunded", "chargeback"):
        with pytest.raises(BadNotification, match="signature"):
            gateway.verify(driver.tamper(driver.notification(checkout, outcome=outcome)))


def test_missing_wrong_or_foreign_signatures_are_refused(gateway, fake):
    checkout = gateway.start(start_request())
    fake.pay(checkout.external_id)
    event = fake.charge_success(checkout.external_id)
    good = fake.sign(event)
    other_account = fake.sign(event, key="sk_test_" + "9" * 40)
    for headers in (
        {},
        {"x-paystack-signature": ""},
        {"x-paystack-signature": "0" * 128},
        {"x-paystack-signature": good.headers["x-paystack-signature"][:-2]},
        {"x-paystack-signature": "not hex " * 16},
        other_account.headers,
    ):
        with pytest.raises(BadNotification):
            gateway.verify(Incoming(**{**good.__dict__, "headers": headers}))


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"event": 1, "data": {}}', b'{"event": "charge.success"}'])
def test_signed_but_malformed_bodies_are_refused(gateway, body):
    from testing.gateways.paystack import hmac_sha512

    with pytest.raises(BadNotification):
        gateway.verify(incoming(body, hmac_sha512(body, SECRET_KEY)))


def test_signed_but_incomplete_charges_are_refused(gateway, fake):
    for change in ({"id": None}, {"reference": None}, {"currency": None}, {"amount": "ten"}, {"amount": 10.5}):
        event = json.loads(DOC_CHARGE)
        event["data"].update(change)
        with pytest.raises(BadNotification):
            gateway.verify(fake.sign(event))


def test_events_come_only_from_paystacks_addresses(fake):
    gateway = PaystackGateway({"secret_key": SECRET_KEY})
    for address in WEBHOOK_IPS:
        assert gateway.verify(incoming(DOC_CHARGE, DOC_CHARGE_SIGNATURE, address))
    for address in ("127.0.0.1", "52.31.139.76", ""):
        with pytest.raises(BadNotification, match="not Paystack"):
            gateway.verify(incoming(DOC_CHARGE, DOC_CHARGE_SIGNATURE, address))
    anywhere = PaystackGateway({"secret_key": SECRET_KEY, "webhook_ips": "*"})
    assert anywhere.verify(incoming(DOC_CHARGE, DOC_CHARGE_SIGNATURE, "198.51.100.7"))


def test_replies():
    gateway = PaystackGateway({"secret_key": SECRET_KEY})
    assert (gateway.reply([]).status, gateway.reply([]).body) == (200, "ok")
    assert gateway.reply(None, BadNotification("x")).status == 400


# ------------------------------------------------------------------------------- lookup and test


@pytest.mark.parametrize(
    ("act", "outcome"),
    [(None, Outcome.PENDING), ("pay", Outcome.PAID), ("fail", Outcome.FAILED), ("refund", Outcome.REFUNDED)],
)
def test_lookup_maps_the_transactions_status(gateway, fake, act, outcome):
    checkout = gateway.start(start_request())
    if act == "pay":
        fake.pay(checkout.external_id)
    elif act == "fail":
        fake.fail(checkout.external_id)
    elif act == "refund":
        fake.pay(checkout.external_id)
        fake.refund_processed(checkout.external_id)
    report = gateway.lookup(
        LookupRequest(
            deposit_id=42, external_id=checkout.external_id, transaction_id="", amount=Decimal("10500"), currency="NGN"
        )
    )
    assert report.outcome is outcome and report.deposit_id == 42
    assert fake.calls[-1].path == f"/transaction/verify/{checkout.external_id}"
    assert "authorization_code" not in json.dumps(report.raw)


def test_lookup_of_an_unknown_reference_is_none(gateway):
    unknown = LookupRequest(
        deposit_id=1, external_id="dep-1-000000000000", transaction_id="", amount=Decimal(1), currency="NGN"
    )
    assert gateway.lookup(unknown) is None
    assert (
        gateway.lookup(
            LookupRequest(deposit_id=1, external_id="", transaction_id="", amount=Decimal(1), currency="NGN")
        )
        is None
    )


def test_test_connection_reads_the_balance(gateway, fake):
    assert gateway.test_connection() == "Connected to Paystack. Balance: 17,000.00 NGN."
    assert fake.calls[-1].path == "/balance"


def test_test_connection_with_a_wrong_key(driver):
    wrong = "sk_live_" + "1" * 40
    with pytest.raises(GatewayError) as caught:
        PaystackGateway({"secret_key": wrong}, base_url=driver.base_url).test_connection()
    assert "Invalid key" in str(caught.value) and wrong not in str(caught.value)


def test_a_gateway_that_never_answers_fails_quickly():
    with silent_listener() as url:
        gateway = PaystackGateway({"secret_key": SECRET_KEY}, base_url=url)
        gateway.timeout = 0.3
        began = time.monotonic()
        with pytest.raises(GatewayError, match="did not answer"):
            gateway.start(start_request())
        with pytest.raises(GatewayError, match="did not answer"):
            gateway.test_connection()
        assert time.monotonic() - began < 5


def test_no_secret_in_errors_reports_or_repr(driver, gateway, fake):
    checkout = gateway.start(start_request())
    driver.pay(checkout)
    [report] = gateway.verify(driver.notification(checkout))
    assert SECRET_KEY not in json.dumps(report.raw) and SECRET_KEY not in report.note
    assert SECRET_KEY not in repr(gateway) and SECRET_KEY not in repr(report)
    with pytest.raises(BadNotification) as caught:
        gateway.verify(driver.tamper(driver.notification(checkout)))
    assert SECRET_KEY not in str(caught.value)


# ------------------------------------------------------------------------------- the fake's checkout


def test_the_fakes_checkout_pays_and_returns_with_the_reference(gateway, fake):
    checkout = gateway.start(start_request())
    page = requests.get(checkout.redirect_url, timeout=5)
    assert page.status_code == 200 and "NGN 10,500.00" in page.text
    paid = requests.post(checkout.redirect_url, timeout=5, allow_redirects=False)
    assert paid.status_code == 302
    assert paid.headers["Location"] == (
        f"https://panel.example/payments/return/9/?trxref={checkout.external_id}&reference={checkout.external_id}"
    )
    assert fake.transactions[checkout.external_id].status == "success"
