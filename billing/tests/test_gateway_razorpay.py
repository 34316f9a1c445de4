"""The Razorpay module against the local fake (testing/gateways/razorpay.py), over real HTTP.

No database: the module never touches it. Razorpay's docs publish no webhook test vector; the
official Python client's own tests do (razorpay/razorpay-python, tests/test_client_utility.py:
``test_verify_webhook_signature`` signs tests/mocks/fake_payment_authorized_webhook.json with the
secret "key_secret" as d60e67fd...; ``test_verify_payment_signature`` signs
"fake_order_id|fake_payment_id" as b2335e3b...). Both are used below.
"""

import json
import socket
import time
from dataclasses import replace
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest
import requests

from billing.gateways import gateway_class
from billing.gateways.base import BadNotification, GatewayError, Incoming, LookupRequest, Outcome, StartRequest
from billing.gateways.razorpay import CHECKOUT_JS, RazorpayGateway, minor_units
from testing.fixtures import BROWSER_MARKS, screenshot
from testing.gateways import available_drivers, driver_class
from testing.gateways.razorpay import Driver, FakeRazorpay, sign

SDK_VECTOR = Path(__file__).parent / "data" / "razorpay_sdk_webhook.json"
SDK_SIGNATURE = "d60e67fd884556c045e9be7dad57903e33efc7172c17c6e3ef77db42d2b366e9"


@pytest.fixture
def fake():
    with FakeRazorpay() as server:
        yield server


def config_for(fake: FakeRazorpay, **extra: str) -> dict[str, str]:
    return {
        "key_id": fake.key_id,
        "key_secret": fake.key_secret,
        "webhook_secret": fake.webhook_secret,
        "business_name": "SMM Panel",
        "webhook_ips": "127.0.0.1",
        **extra,
    }


@pytest.fixture
def gateway(fake):
    return RazorpayGateway(config_for(fake), base_url=fake.url)


def start_request(deposit_id: int = 42, amount: str = "499.50", currency: str = "INR") -> StartRequest:
    return StartRequest(
        deposit_id=deposit_id,
        amount=Decimal(amount),
        currency=currency,
        description="Add funds",
        customer_email="buyer@example.com",
        customer_name="Asha Rao",
        return_url="https://panel.example/payments/return/7/",
        cancel_url="https://panel.example/add-funds/",
        notify_url="https://panel.example/payments/notify/7/",
    )


def lookup_for(checkout, amount: str = "499.50") -> LookupRequest:
    return LookupRequest(
        deposit_id=42, external_id=checkout.external_id, transaction_id="", amount=Decimal(amount), currency="INR"
    )


def secrets_of(fake: FakeRazorpay) -> tuple[str, str]:
    return fake.key_secret, fake.webhook_secret


def assert_no_secret(fake: FakeRazorpay, *texts: str) -> None:
    for text in texts:
        for secret in secrets_of(fake):
            assert secret not in text


# -- registry and settings ------------------------------------------------------------------------


def test_the_registry_and_the_driver_list_find_razorpay():
    assert gateway_class("razorpay") is RazorpayGateway
    assert "razorpay" in available_drivers()
    assert driver_class("razorpay") is Driver


def test_settings_mark_the_two_secrets():
    secret = {f.name for f in RazorpayGateway.fields if f.secret}
    assert secret == {"key_secret", "webhook_secret"}
    assert {f.name for f in RazorpayGateway.fields if f.required} == {"key_id", "key_secret", "webhook_secret"}
    assert "INR" in RazorpayGateway.currencies and RazorpayGateway.can_lookup and RazorpayGateway.can_test


def test_repr_shows_no_secret(fake, gateway):
    assert_no_secret(fake, repr(gateway), str(gateway))


# -- start ----------------------------------------------------------------------------------------


def test_start_creates_one_order_in_paise_with_our_deposit_id(fake, gateway):
    checkout = gateway.start(start_request())
    assert list(fake.orders) == [checkout.external_id]
    order = fake.orders[checkout.external_id]
    assert order["amount"] == 49950 and order["currency"] == "INR"
    assert order["receipt"] == "42" and order["notes"] == {"deposit_id": "42"}
    assert ("POST", "/v1/orders") in fake.requests


def test_start_returns_the_standard_checkout_options_by_default(fake, gateway):
    checkout = gateway.start(start_request())
    assert not checkout.redirect_url and not checkout.pay_address and not checkout.form_action
    options = checkout.client_options
    assert options["key"] == fake.key_id and options["order_id"] == checkout.external_id
    assert options["amount"] == 49950 and options["currency"] == "INR"
    assert options["name"] == "SMM Panel" and options["description"] == "Add funds"
    assert options["prefill"] == {"name": "Asha Rao", "email": "buyer@example.com"}
    assert options["notes"] == {"deposit_id": "42"}
    # No callback_url: Razorpay calls the page's handler, which goes to return_url with a GET.
    assert "callback_url" not in options and "redirect" not in options
    display = options["config"]["display"]
    assert display["sequence"] == ["block.upi"] and display["blocks"]["upi"]["instruments"] == [{"method": "upi"}]
    assert {"method": "upi", "flows": ["collect"]} in display["hide"]
    assert CHECKOUT_JS == "https://checkout.razorpay.com/v1/checkout.js"
    assert_no_secret(fake, repr(checkout), json.dumps(options))


def test_start_returns_the_hosted_checkout_form_when_chosen(fake):
    gateway = RazorpayGateway(config_for(fake, checkout="hosted"), base_url=fake.url)
    checkout = gateway.start(start_request())
    assert not checkout.client_options and not checkout.redirect_url
    assert checkout.form_action == f"{fake.url}/v1/checkout/embedded"
    assert dict(checkout.form_fields) == {
        "key_id": fake.key_id,
        "order_id": checkout.external_id,
        "amount": "49950",
        "currency": "INR",
        "name": "SMM Panel",
        "description": "Add funds",
        "prefill[name]": "Asha Rao",
        "prefill[email]": "buyer@example.com",
        "notes[deposit_id]": "42",
        "callback_url": "https://panel.example/payments/return/7/",
        "cancel_url": "https://panel.example/add-funds/",
    }
    assert_no_secret(fake, repr(checkout))


def test_an_unknown_checkout_choice_is_the_window():
    assert RazorpayGateway({"checkout": "nonsense"}).checkout == "popup"
    assert {value for value, _ in next(f for f in RazorpayGateway.fields if f.name == "checkout").choices} == {
        "popup",
        "hosted",
    }


def test_the_default_address_is_razorpays_api():
    gateway = RazorpayGateway({"key_id": "rzp_test_x", "key_secret": "s", "webhook_secret": "w"})
    assert gateway.base_url == "https://api.razorpay.com"


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("1", "INR", 100),
        ("10.5", "INR", 1050),
        ("0.01", "USD", 1),
        ("500", "JPY", 500),
        ("1.25", "KWD", 1250),  # three decimals: the last digit is always 0
    ],
)
def test_amounts_become_subunits_exactly(amount, currency, minor):
    assert minor_units(Decimal(amount), currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("10.005", "INR"), ("1.5", "JPY"), ("1.255", "KWD"), ("0", "INR"), ("-5", "INR"), ("NaN", "INR"), ("5", "XYZ")],
)
def test_amounts_razorpay_cannot_charge_are_refused_before_any_call(fake, gateway, amount, currency):
    with pytest.raises(GatewayError):
        gateway.start(start_request(amount=amount, currency=currency))
    assert fake.orders == {} and fake.requests == []


def test_a_refusal_by_razorpay_is_a_gateway_error_with_its_description(fake, gateway):
    with pytest.raises(GatewayError, match=r"at least INR 1\.00"):
        gateway.start(start_request(amount="0.50"))


def test_wrong_keys_are_a_gateway_error_without_the_secret(fake):
    wrong = RazorpayGateway(config_for(fake, key_secret="not-the-secret-" + fake.key_secret), base_url=fake.url)
    with pytest.raises(GatewayError, match="Authentication failed") as caught:
        wrong.start(start_request())
    assert_no_secret(fake, str(caught.value))
    assert "not-the-secret" not in str(caught.value)


def test_missing_keys_are_refused_without_a_call(fake):
    with pytest.raises(GatewayError, match="not set"):
        RazorpayGateway({}, base_url=fake.url).start(start_request())
    assert fake.requests == []


# -- verify ---------------------------------------------------------------------------------------


@pytest.fixture
def driver(fake):
    driver = Driver()
    driver.fake = fake
    driver.base_url = fake.url
    return driver


@pytest.fixture
def paid(fake, gateway, driver):
    """A checkout paid in full; its order.paid notification."""
    checkout = gateway.start(start_request())
    driver.pay(checkout)
    return checkout, driver.notification(checkout)


def test_order_paid_is_paid_with_the_payment_id_and_what_arrived(fake, gateway, paid):
    checkout, incoming = paid
    [report] = gateway.verify(incoming)
    [payment] = fake.order_payments(checkout.external_id)
    assert report.outcome == Outcome.PAID
    assert report.deposit_id == 42 and report.external_id == checkout.external_id
    assert report.transaction_id == payment["id"] and report.transaction_id.startswith("pay_")
    assert report.amount == Decimal("499.50") and report.currency == "INR"
    assert report.event_id == incoming.headers["x-razorpay-event-id"]
    assert report.raw == json.loads(incoming.body)


def test_payment_captured_reports_the_same_payment_as_order_paid(fake, gateway, paid):
    checkout, incoming = paid
    [payment] = fake.order_payments(checkout.external_id)
    [captured] = gateway.verify(fake.incoming("payment.captured", payment=payment))
    [order_paid] = gateway.verify(incoming)
    assert captured.outcome == Outcome.PAID
    assert captured.transaction_id == order_paid.transaction_id  # billing credits the payment once
    # The payment's notes came through the browser: the order names the deposit instead.
    assert captured.external_id == checkout.external_id and captured.deposit_id is None
    assert captured.event_id != order_paid.event_id


def test_browser_notes_name_the_deposit_only_of_a_payment_without_an_order(fake, gateway, paid):
    checkout, _ = paid
    [payment] = fake.order_payments(checkout.external_id)
    forged = {**payment, "notes": {"deposit_id": "999"}}
    assert gateway.verify(fake.incoming("payment.captured", payment=forged))[0].deposit_id is None
    orderless = {**forged, "order_id": None}
    [report] = gateway.verify(fake.incoming("payment.captured", payment=orderless))
    assert report.deposit_id == 999 and report.external_id == ""


def test_a_replayed_notification_gives_the_same_report(gateway, paid):
    _, incoming = paid
    assert gateway.verify(incoming) == gateway.verify(incoming)


def test_receipt_not_the_browsers_notes_names_the_deposit_in_order_paid(fake, gateway, driver):
    checkout = gateway.start(start_request())
    fake.pay(checkout.external_id, notes={"deposit_id": "999"})  # notes come through the browser
    [report] = gateway.verify(driver.notification(checkout))
    assert report.deposit_id == 42


@pytest.mark.parametrize(("paid_amount", "received"), [(30000, "300.00"), (60000, "600.00")])
def test_the_amount_reported_is_what_razorpay_received(fake, gateway, driver, paid_amount, received):
    checkout = gateway.start(start_request())
    driver.pay(checkout, amount=Decimal(paid_amount) / 100)
    [report] = gateway.verify(driver.notification(checkout))
    assert report.outcome == Outcome.PAID and report.amount == Decimal(received)


def test_a_tampered_body_is_refused(gateway, driver, paid):
    _, incoming = paid
    with pytest.raises(BadNotification, match="does not match"):
        gateway.verify(driver.tamper(incoming))


def test_a_body_signed_with_another_secret_is_refused(fake, gateway, paid):
    _, incoming = paid
    forged = {**incoming.headers, "x-razorpay-signature": sign("another-secret", incoming.body)}
    with pytest.raises(BadNotification):
        gateway.verify(replace(incoming, headers=forged))


@pytest.mark.parametrize("value", [None, "", "   ", "abc", "0" * 64])
def test_a_missing_or_wrong_signature_is_refused(gateway, paid, value):
    _, incoming = paid
    headers = {k: v for k, v in incoming.headers.items() if k != "x-razorpay-signature"}
    if value is not None:
        headers["x-razorpay-signature"] = value
    with pytest.raises(BadNotification):
        gateway.verify(replace(incoming, headers=headers))


def test_without_a_webhook_secret_nothing_verifies(fake, paid):
    _, incoming = paid
    gateway = RazorpayGateway(config_for(fake, webhook_secret=""), base_url=fake.url)
    with pytest.raises(BadNotification, match="not set"):
        gateway.verify(incoming)


def test_another_account_is_refused_when_ours_is_set(fake, paid):
    _, incoming = paid
    ours = RazorpayGateway(config_for(fake, account_id=fake.account_id), base_url=fake.url)
    assert ours.verify(incoming)[0].outcome == Outcome.PAID
    bare = RazorpayGateway(config_for(fake, account_id=fake.account_id.removeprefix("acc_")), base_url=fake.url)
    assert bare.verify(incoming)[0].outcome == Outcome.PAID
    other = RazorpayGateway(config_for(fake, account_id="acc_SomeoneElse01"), base_url=fake.url)
    with pytest.raises(BadNotification, match="another Razorpay account"):
        other.verify(incoming)


@pytest.mark.parametrize(
    ("setting", "address", "accepted"),
    [
        ("", "52.66.75.174", True),  # Razorpay's published webhook IPs by default
        ("", "18.96.225.37", True),  # inside the published 18.96.225.0/26
        ("", "::ffff:18.96.225.37", True),  # the same, reaching a dual-stack listener
        ("10.0.0.0/8", "::ffff:10.1.2.3", True),
        ("", "127.0.0.1", False),
        ("", "", False),
        ("", "not-an-ip", False),
        ("*", "203.0.113.9", True),
        ("10.0.0.0/8, 192.0.2.1", "10.1.2.3", True),
        ("10.0.0.0/8, 192.0.2.1", "52.66.75.174", False),
        ("nonsense", "10.1.2.3", False),
    ],
)
def test_the_source_address_must_be_a_razorpay_webhook_ip(fake, paid, setting, address, accepted):
    _, incoming = paid
    gateway = RazorpayGateway(config_for(fake, webhook_ips=setting), base_url=fake.url)
    incoming = replace(incoming, remote_addr=address)
    if accepted:
        assert gateway.verify(incoming)[0].outcome == Outcome.PAID
    else:
        with pytest.raises(BadNotification):
            gateway.verify(incoming)


def signed(fake: FakeRazorpay, body: bytes) -> Incoming:
    headers = {"x-razorpay-signature": sign(fake.webhook_secret, body), "x-razorpay-event-id": "Evt0000000001"}
    return Incoming(body=body, headers=headers, form={}, query={}, remote_addr="127.0.0.1")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"entity": "event"}',
        b'{"entity": "payment", "event": "order.paid", "payload": {}}',
        b'{"entity": "event", "event": "order.paid", "payload": []}',
        b'{"entity": "event", "event": "order.paid", "payload": {}}',
        b'{"entity": "event", "event": "payment.captured", "payload": {"payment": {"entity": {"id": "pay_1",'
        b' "amount": "100", "currency": "INR", "status": "captured"}}}}',
        b'{"entity": "event", "event": "payment.captured", "payload": {"payment": {"entity": {"id": "pay_1",'
        b' "amount": 100, "currency": "INR", "status": "created"}}}}',
        b'{"entity": "event", "event": "refund.processed", "payload": {"refund": {"entity": {"id": "rfnd_1",'
        b' "payment_id": "pay_2", "amount": 100, "currency": "INR"}}, "payment": {"entity": {"id": "pay_1"}}}}',
    ],
)
def test_a_signed_but_malformed_event_is_refused(fake, gateway, body):
    with pytest.raises(BadNotification):
        gateway.verify(signed(fake, body))


def test_order_paid_for_a_payment_of_another_order_is_refused(fake, gateway, driver):
    first, second = gateway.start(start_request(1)), gateway.start(start_request(2))
    payment = fake.pay(first.external_id)
    with pytest.raises(BadNotification):
        gateway.verify(fake.incoming("order.paid", payment=payment, order=fake.orders[second.external_id]))


def test_a_failed_attempt_is_failed_without_a_transaction_and_a_later_capture_still_pays(fake, gateway, driver):
    checkout = gateway.start(start_request())
    failed = fake.pay(checkout.external_id, status="failed")
    [report] = gateway.verify(fake.incoming("payment.failed", payment=failed))
    assert report.outcome == Outcome.FAILED and report.transaction_id == ""
    assert report.deposit_id is None and report.external_id == checkout.external_id
    assert "Payment failed" in report.note
    # Razorpay documents payment.failed followed by payment.captured for the same payment (UPI retries).
    captured = {**failed, "status": "captured", "captured": True}
    [later] = gateway.verify(fake.incoming("payment.captured", payment=captured))
    assert later.outcome == Outcome.PAID and later.transaction_id == failed["id"]


def test_an_authorised_payment_is_pending(gateway, driver):
    checkout = gateway.start(start_request())
    [report] = gateway.verify(driver.notification(checkout, outcome="pending"))
    assert report.outcome == Outcome.PENDING and report.transaction_id == ""


def test_a_processed_refund_is_refunded_with_the_refund_id_and_amount(fake, gateway, paid):
    checkout, _ = paid
    [payment] = fake.order_payments(checkout.external_id)
    refund = fake.refund(payment["id"], amount=10000)  # a partial refund: 100.00 of 499.50
    [report] = gateway.verify(fake.incoming("refund.processed", refund=refund, payment=fake.payments[payment["id"]]))
    assert report.outcome == Outcome.REFUNDED
    assert report.transaction_id == refund["id"] and report.transaction_id.startswith("rfnd_")
    assert report.amount == Decimal("100.00") and report.currency == "INR"
    assert report.deposit_id is None and report.external_id == checkout.external_id
    # The older payment.refunded, when it carries the refund, names the same refund.
    [legacy] = gateway.verify(fake.incoming("payment.refunded", payment=fake.payments[payment["id"]], refund=refund))
    assert legacy.outcome == Outcome.REFUNDED and legacy.transaction_id == refund["id"]
    [bare] = gateway.verify(fake.incoming("payment.refunded", payment=fake.payments[payment["id"]]))
    assert bare.outcome == Outcome.IGNORED


def test_a_dispute_is_a_chargeback_with_the_dispute_id_and_amount(gateway, driver, paid):
    checkout, _ = paid
    [report] = gateway.verify(driver.notification(checkout, outcome="chargeback"))
    assert report.outcome == Outcome.CHARGEBACK and report.transaction_id.startswith("disp_")
    assert report.amount == Decimal("499.50") and report.deposit_id is None
    assert report.external_id == checkout.external_id


@pytest.mark.parametrize("event", ["payment.dispute.won", "refund.created", "refund.failed", "order.notified"])
def test_other_verified_events_are_ignored(fake, gateway, paid, event):
    checkout, _ = paid
    [payment] = fake.order_payments(checkout.external_id)
    [report] = gateway.verify(fake.incoming(event, payment=payment))
    assert report.outcome == Outcome.IGNORED and report.transaction_id == ""


def test_the_official_clients_webhook_vector_verifies():
    body = SDK_VECTOR.read_bytes()
    gateway = RazorpayGateway({"key_id": "key_id", "key_secret": "key_secret", "webhook_secret": "key_secret"})
    gateway.webhook_ips = "*"
    incoming = Incoming(
        body=body, headers={"x-razorpay-signature": SDK_SIGNATURE, "x-razorpay-event-id": "E1"}, form={}, query={}
    )
    [report] = gateway.verify(incoming)
    assert report.outcome == Outcome.PENDING and report.amount == Decimal("10000.00")  # payment.authorized
    with pytest.raises(BadNotification):
        gateway.verify(replace(incoming, body=body.replace(b"1000000", b"1000001")))


def test_the_fakes_checkout_signature_matches_the_official_clients_vector():
    fake = FakeRazorpay(key_secret="key_secret")
    expected = "b2335e3b0801106b84a7faff035df56ecffde06918c9ddd1f0fafbb37a51cc89"
    assert fake.callback_signature("fake_order_id", "fake_payment_id") == expected


def test_no_secret_in_reports_or_refusals(fake, gateway, driver, paid):
    checkout, incoming = paid
    texts = []
    for outcome in ("paid", "failed", "pending", "refunded", "chargeback"):
        for report in gateway.verify(driver.notification(checkout, outcome=outcome)):
            texts += [json.dumps(report.raw), report.note, repr(report)]
            assert incoming.headers["x-razorpay-signature"] not in json.dumps(report.raw)
    for bad in (driver.tamper(incoming), replace(incoming, headers={}), replace(incoming, remote_addr="10.9.9.9")):
        with pytest.raises(BadNotification) as caught:
            gateway.verify(bad)
        texts.append(str(caught.value))
    assert_no_secret(fake, *texts)


# -- reply ----------------------------------------------------------------------------------------


def test_reply_is_2xx_for_what_we_took_and_400_for_what_we_refused(gateway, paid):
    _, incoming = paid
    assert gateway.reply(gateway.verify(incoming)).status == 200
    assert gateway.reply([]).status == 200 and gateway.reply(None).status == 200
    refused = gateway.reply(None, BadNotification("bad"))
    assert refused.status == 400 and "bad" not in refused.body


# -- lookup ---------------------------------------------------------------------------------------


def test_lookup_of_an_unpaid_order_is_pending(fake, gateway):
    checkout = gateway.start(start_request())
    report = gateway.lookup(lookup_for(checkout))
    assert report.outcome == Outcome.PENDING and report.deposit_id == 42 and report.transaction_id == ""
    assert ("GET", f"/v1/orders/{checkout.external_id}/payments") in fake.requests


def test_lookup_of_a_captured_payment_is_paid_with_what_arrived(fake, gateway):
    checkout = gateway.start(start_request())
    fake.pay(checkout.external_id, status="failed")
    payment = fake.pay(checkout.external_id, amount=30000)
    report = gateway.lookup(lookup_for(checkout))
    assert report.outcome == Outcome.PAID and report.transaction_id == payment["id"]
    assert report.amount == Decimal("300.00") and report.currency == "INR"
    assert report.deposit_id == 42 and report.external_id == checkout.external_id
    assert gateway.lookup(lookup_for(checkout)).event_id == report.event_id  # stable across lookups


def test_lookup_of_a_refunded_payment_still_reports_the_money_that_arrived(fake, gateway):
    checkout = gateway.start(start_request())
    payment = fake.pay(checkout.external_id)
    fake.refund(payment["id"])
    report = gateway.lookup(lookup_for(checkout))
    assert report.outcome == Outcome.PAID and report.transaction_id == payment["id"]


def test_lookup_of_an_authorised_payment_is_pending(fake, gateway):
    checkout = gateway.start(start_request())
    fake.pay(checkout.external_id, status="authorized")
    report = gateway.lookup(lookup_for(checkout))
    assert report.outcome == Outcome.PENDING and report.transaction_id == ""


def test_lookup_of_only_failed_attempts_is_failed(fake, gateway):
    checkout = gateway.start(start_request())
    fake.pay(checkout.external_id, status="failed")
    report = gateway.lookup(lookup_for(checkout))
    assert report.outcome == Outcome.FAILED and report.transaction_id == ""


def test_lookup_of_an_unknown_order_is_a_gateway_error(fake, gateway):
    with pytest.raises(GatewayError, match="does not exist"):
        gateway.lookup(LookupRequest(1, "order_Unknown0000000", "", Decimal("1"), "INR"))
    with pytest.raises(GatewayError):
        gateway.lookup(LookupRequest(1, "", "", Decimal("1"), "INR"))
    with pytest.raises(GatewayError):
        gateway.lookup(LookupRequest(1, "order_x/../../v1/payments", "", Decimal("1"), "INR"))


# -- test connection, timeouts ---------------------------------------------------------------------


def test_test_connection_with_good_keys(fake, gateway):
    message = gateway.test_connection()
    assert "test mode" in message and ("GET", "/v1/orders") in fake.requests
    assert_no_secret(fake, message)


def test_test_connection_with_a_wrong_secret(fake):
    wrong = RazorpayGateway(config_for(fake, key_secret="wrong-" + fake.key_secret[:6]), base_url=fake.url)
    with pytest.raises(GatewayError, match="Authentication failed") as caught:
        wrong.test_connection()
    assert_no_secret(fake, str(caught.value))
    assert fake.key_secret[:6] not in str(caught.value)


def test_a_gateway_that_never_answers_is_a_quick_gateway_error(fake, gateway):
    fake.hang_seconds = 5
    gateway.timeout = 0.3
    began = time.monotonic()
    with pytest.raises(GatewayError, match="did not answer"):
        gateway.start(start_request())
    with pytest.raises(GatewayError, match="did not answer"):
        gateway.test_connection()
    assert time.monotonic() - began < 3


def test_an_unreachable_gateway_is_a_gateway_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gateway = RazorpayGateway(
        {"key_id": "rzp_test_x", "key_secret": "s3cret-value"}, base_url=f"http://127.0.0.1:{port}"
    )
    gateway.timeout = 1
    with pytest.raises(GatewayError, match="Could not reach") as caught:
        gateway.test_connection()
    assert "s3cret-value" not in str(caught.value)


# -- the fake's Hosted Checkout and the driver ----------------------------------------------------


def test_the_fakes_hosted_checkout_posts_back_like_razorpay(fake):
    gateway = RazorpayGateway(config_for(fake, checkout="hosted"), base_url=fake.url)
    checkout = gateway.start(start_request())
    page = requests.post(checkout.form_action, data=dict(checkout.form_fields), timeout=5)
    assert page.status_code == 200 and "499.50 INR" in page.text
    back = requests.post(
        f"{fake.url}/_fake/checkout/pay",
        data={"order_id": checkout.external_id, "callback_url": "https://panel.example/payments/return/7/"},
        timeout=5,
    )
    [payment] = fake.order_payments(checkout.external_id)
    assert 'action="https://panel.example/payments/return/7/"' in back.text.replace("'", '"')
    assert fake.callback_signature(checkout.external_id, payment["id"]) in back.text
    assert gateway.lookup(lookup_for(checkout)).outcome == Outcome.PAID


def test_the_driver_plays_customer_and_razorpay():
    with Driver() as driver:
        gateway = RazorpayGateway(driver.config(), base_url=driver.base_url)
        checkout = gateway.start(start_request(7, "120", driver.currency))
        driver.pay(checkout)
        outcomes = {o: gateway.verify(driver.notification(checkout, outcome=o))[0].outcome for o in ("paid", "failed")}
        assert outcomes == {"paid": Outcome.PAID, "failed": Outcome.FAILED}
        with pytest.raises(BadNotification):
            gateway.verify(driver.tamper(driver.notification(checkout)))
        with pytest.raises(ValueError):
            driver.notification(checkout, outcome="expired")


# -- the fake's checkout.js in a real browser ----------------------------------------------------

PAGE_JS = b"""
var options = JSON.parse(document.getElementById("options").textContent);
options.handler = function (response) {
  document.getElementById("result").textContent = "paid " + response.razorpay_payment_id + " " +
    response.razorpay_signature;
};
options.modal = {ondismiss: function () { document.getElementById("result").textContent = "dismissed"; }};
var rzp = new window.Razorpay(options);
rzp.on("payment.failed", function (response) {
  document.getElementById("result").textContent = "failed " + response.error.metadata.payment_id;
});
document.getElementById("open").addEventListener("click", function () { rzp.open(); });
"""


@pytest.fixture
def merchant_page(fake):
    """A page of 'ours' under a CSP like the panel's (no inline script; the fake's origin allowed
    for the checkout script and its frame), opening Standard Checkout with the given options."""
    state = {"options": {}}

    class Page(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path == "/page.js":
                body, kind = PAGE_JS, "application/javascript"
            else:
                options = json.dumps(state["options"]).replace("<", "\\u003c")
                body = (
                    f'<!DOCTYPE html><html><body><button id="open">Pay</button><p id="result"></p>'
                    f'<script type="application/json" id="options">{options}</script>'
                    f'<script src="{fake.url}/v1/checkout.js"></script><script src="/page.js"></script>'
                    f"</body></html>"
                ).encode()
                kind = "text/html"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header(
                "Content-Security-Policy",
                f"default-src 'self'; script-src 'self' {fake.url}; frame-src {fake.url}; connect-src 'self'",
            )
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("button", [pytest.param(b, marks=BROWSER_MARKS) for b in ("pay", "fail", "close")])
def test_the_fakes_checkout_window_answers_the_page_like_razorpay(fake, gateway, browser, merchant_page, button):
    state, url = merchant_page
    checkout = gateway.start(start_request())
    state["options"] = checkout.client_options
    page = browser.new_page(viewport={"width": 420, "height": 760})
    page.set_default_timeout(10_000)
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    assert fake.checkout_js == f"{fake.url}/v1/checkout.js"
    page.goto(url)
    page.click("#open")
    frame = page.frame_locator("#razorpay-checkout-frame")
    frame.locator("#amount").wait_for()
    assert frame.locator("#amount").inner_text() == "499.50 INR"
    if button == "pay":
        screenshot(page, "razorpay-fake-checkout-window")
    frame.locator(f"#{button}").click()
    result = page.locator("#result")
    if button == "pay":
        result.filter(has_text="paid").wait_for()
        [payment] = fake.order_payments(checkout.external_id)
        signature = fake.callback_signature(checkout.external_id, payment["id"])
        assert result.inner_text() == f"paid {payment['id']} {signature}"
        assert gateway.lookup(lookup_for(checkout)).outcome == Outcome.PAID
    elif button == "fail":
        result.filter(has_text="failed").wait_for()
        [payment] = fake.order_payments(checkout.external_id)
        assert result.inner_text() == f"failed {payment['id']}"
        assert gateway.lookup(lookup_for(checkout)).outcome == Outcome.FAILED
    else:
        result.filter(has_text="dismissed").wait_for()
        assert fake.order_payments(checkout.external_id) == []
    assert errors == []
    page.close()
