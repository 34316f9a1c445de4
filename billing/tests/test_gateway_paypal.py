"""billing.gateways.paypal against the local fake of PayPal's REST API (testing.gateways.paypal),
over real HTTP. No database: the gateway module never touches it."""

import base64
import json
import socket
import threading
import time
import zlib
from dataclasses import replace
from decimal import Decimal

import pytest

from billing.gateways import base, gateway_class
from billing.gateways import paypal as module
from billing.gateways.base import BadNotification, GatewayError, LookupRequest, Outcome, StartRequest
from billing.gateways.paypal import PayPalGateway
from testing.gateways import driver_class
from testing.gateways.paypal import CLIENT_SECRET, WEBHOOK_ID, Driver, raw_member, signed_message


@pytest.fixture
def driver():
    module._tokens.clear()
    with Driver() as running:
        yield running
    module._tokens.clear()


@pytest.fixture
def fake(driver):
    return driver.fake


@pytest.fixture
def gateway(driver):
    return PayPalGateway(driver.config(), base_url=driver.base_url)


def start_request(deposit_id=42, amount="10.50", currency="USD", **overrides) -> StartRequest:
    values = {
        "deposit_id": deposit_id,
        "amount": Decimal(amount),
        "currency": currency,
        "description": "Add funds #42",
        "customer_email": "buyer@example.com",
        "customer_name": "Buyer",
        "return_url": "https://panel.example/payments/return/42/",
        "cancel_url": "https://panel.example/payments/cancel/42/",
        "notify_url": "https://panel.example/payments/notify/1/",
    }
    return StartRequest(**{**values, **overrides})


def lookup_request(checkout, deposit_id=42, amount="10.50") -> LookupRequest:
    return LookupRequest(
        deposit_id=deposit_id,
        external_id=checkout.external_id,
        transaction_id="",
        amount=Decimal(amount),
        currency="USD",
    )


def paid_checkout(driver, gateway, deposit_id=42, amount="10.50"):
    checkout = gateway.start(start_request(deposit_id, amount))
    driver.pay(checkout)
    return checkout


def secrets_of(fake) -> list[str]:
    return [CLIENT_SECRET, *fake.tokens]


# the registry, the driver, settings


def test_registered_and_driven():
    assert gateway_class("paypal") is PayPalGateway
    assert driver_class("paypal") is Driver
    assert [f.name for f in PayPalGateway.fields if f.secret] == ["client_secret"]
    assert {"client_id", "client_secret", "webhook_id", "mode"} <= {f.name for f in PayPalGateway.fields if f.required}
    assert PayPalGateway.can_lookup and PayPalGateway.can_test


def test_mode_chooses_the_api_address_and_refuses_anything_else():
    assert PayPalGateway({"mode": "live"}).base_url == "https://api-m.paypal.com"
    assert PayPalGateway({"mode": "sandbox"}).base_url == "https://api-m.sandbox.paypal.com"
    complete = {"client_id": "id", "client_secret": "secret", "webhook_id": "WH1"}
    assert PayPalGateway({**complete, "mode": "live"}).configured
    assert not PayPalGateway({**complete, "mode": "live", "webhook_id": ""}).configured
    wrong_mode = PayPalGateway({**complete, "mode": "production-ish"})
    assert not wrong_mode.configured
    with pytest.raises(GatewayError, match="sandbox"):
        wrong_mode.start(start_request())
    wrong_ips = PayPalGateway({**complete, "notify_ips": "173.0.80.0/20, nonsense"})
    assert not wrong_ips.configured
    with pytest.raises(GatewayError, match="not an IP"):
        wrong_ips.test_connection()
    with pytest.raises(BadNotification, match="not an IP"):
        wrong_ips.verify(base.Incoming(body=b"{}", headers={}, form={}, query={}))


def test_checkout_origins_for_the_pages_form_action(driver):
    assert PayPalGateway({"mode": "live"}).checkout_origins == ("https://www.paypal.com",)
    assert PayPalGateway({"mode": "sandbox"}).checkout_origins == ("https://www.sandbox.paypal.com",)
    assert PayPalGateway(driver.config(), base_url=driver.base_url).checkout_origins == (driver.base_url,)


def test_repr_holds_no_secret(driver):
    gateway = PayPalGateway(driver.config(), base_url=driver.base_url)
    assert CLIENT_SECRET not in repr(gateway)


# start


def test_start_creates_a_capture_order_carrying_our_deposit_id(driver, fake, gateway):
    checkout = gateway.start(start_request())
    order = fake.orders[checkout.external_id]
    unit = order["purchase_units"][0]
    assert order["intent"] == "CAPTURE"
    assert unit["amount"] == {"currency_code": "USD", "value": "10.50"}
    assert (unit["reference_id"], unit["custom_id"], unit["invoice_id"]) == ("42", "42", "42")
    assert order["return_url"] == "https://panel.example/payments/return/42/"
    assert order["cancel_url"] == "https://panel.example/payments/cancel/42/"
    assert checkout.redirect_url == f"{driver.base_url}/checkoutnow?token={checkout.external_id}"
    assert order["status"] == "PAYER_ACTION_REQUIRED"


@pytest.mark.parametrize(
    ("amount", "currency", "wire"),
    [
        ("10.5", "USD", "10.50"),
        ("1", "EUR", "1.00"),
        ("1000", "JPY", "1000"),
        ("2500", "HUF", "2500"),
        ("7", "TWD", "7"),
    ],
)
def test_amounts_go_out_with_exactly_the_currency_decimals(fake, gateway, amount, currency, wire):
    checkout = gateway.start(start_request(amount=amount, currency=currency))
    assert fake.orders[checkout.external_id]["purchase_units"][0]["amount"]["value"] == wire


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("10.505", "USD", "more decimals"),
        ("10.5", "JPY", "more decimals"),
        ("0", "USD", "positive"),
        ("-5", "USD", "positive"),
        ("10", "RUB", "does not charge in RUB"),
        ("1000000000000000", "USD", "too large"),
    ],
)
def test_bad_amounts_are_refused_before_calling_paypal(fake, gateway, amount, currency, message):
    with pytest.raises(GatewayError, match=message):
        gateway.start(start_request(amount=amount, currency=currency))
    assert ("POST", "/v2/checkout/orders") not in fake.calls


def test_start_is_idempotent_per_deposit_and_amount(fake, gateway):
    first = gateway.start(start_request())
    again = gateway.start(start_request())
    assert first.external_id == again.external_id
    assert len(fake.orders) == 1
    ids = [rid for path, rid in fake.request_ids if path == "/v2/checkout/orders"]
    assert ids[0] == ids[1] and ids[0]


def test_invoice_prefix_keeps_shops_sharing_an_account_apart(driver, fake):
    shop_a = PayPalGateway({**driver.config(), "invoice_prefix": "shopA-"}, base_url=driver.base_url)
    shop_b = PayPalGateway({**driver.config(), "invoice_prefix": "shopB-"}, base_url=driver.base_url)
    a = shop_a.start(start_request())
    b = shop_b.start(start_request())
    assert fake.orders[a.external_id]["purchase_units"][0]["invoice_id"] == "shopA-42"
    assert fake.orders[b.external_id]["purchase_units"][0]["invoice_id"] == "shopB-42"
    # Without prefixes the second shop's deposit 42 is the account's duplicate invoice.
    shop_c = PayPalGateway(driver.config(), base_url=driver.base_url)
    shop_c.start(start_request(notify_url="https://c.example/payments/notify/1/"))
    with pytest.raises(GatewayError, match="DUPLICATE_INVOICE_ID"):
        shop_c.start(start_request(notify_url="https://d.example/payments/notify/1/"))


def test_a_shop_with_a_prefix_leaves_other_shops_payments_alone(driver, fake):
    """Every webhook of an app receives all its events: with prefixes, a panel neither captures
    nor claims what another shop on the same app sold."""
    shop_a = PayPalGateway({**driver.config(), "invoice_prefix": "shopA-"}, base_url=driver.base_url)
    shop_b = PayPalGateway({**driver.config(), "invoice_prefix": "shopB-"}, base_url=driver.base_url)
    theirs = shop_b.start(start_request())
    driver.pay(theirs)
    [ignored] = shop_a.verify(driver.notification(theirs))
    assert ignored.outcome is Outcome.IGNORED and ignored.deposit_id is None
    assert fake.captures == {}
    [paid] = shop_b.verify(driver.notification(theirs))
    assert paid.outcome is Outcome.PAID and paid.deposit_id == 42
    [completed] = shop_a.verify(driver.notification(theirs))
    assert completed.deposit_id is None
    [refund] = shop_a.verify(driver.notification(theirs, outcome="refunded"))
    assert refund.deposit_id is None
    assert shop_a._unit(fake.public_order(fake.orders[theirs.external_id]))[1] is None


def test_wrong_credentials_give_a_clear_error_without_the_secret(driver):
    gateway = PayPalGateway({**driver.config(), "client_secret": "EWrongSecret-123456"}, base_url=driver.base_url)
    with pytest.raises(GatewayError) as error:
        gateway.start(start_request())
    assert "invalid_client" in str(error.value)
    assert "EWrongSecret" not in str(error.value) and CLIENT_SECRET not in str(error.value)


def test_the_token_is_reused_and_renewed_when_paypal_stops_accepting_it(fake, gateway):
    gateway.start(start_request(1))
    gateway.start(start_request(2))
    assert fake.calls.count(("POST", "/v1/oauth2/token")) == 1
    fake.tokens.clear()  # revoked, or expired early
    gateway.start(start_request(3))
    assert fake.calls.count(("POST", "/v1/oauth2/token")) == 2
    assert len(fake.orders) == 3


def test_a_paypal_outage_answer_is_retried_with_the_same_request_id(fake, gateway):
    fake.fail("POST", "/v2/checkout/orders", 503)
    checkout = gateway.start(start_request())
    assert checkout.external_id in fake.orders and len(fake.orders) == 1
    ids = [rid for path, rid in fake.request_ids if path == "/v2/checkout/orders"]
    assert len(ids) == 2 and ids[0] == ids[1]


def test_a_paypal_that_never_answers_fails_quickly():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepts connections into the backlog, never answers
    try:
        gateway = PayPalGateway(
            {"client_id": "a-client", "client_secret": "a-secret-value", "webhook_id": "WH1", "mode": "sandbox"},
            base_url=f"http://127.0.0.1:{listener.getsockname()[1]}",
        )
        gateway.timeout = 0.5
        began = time.monotonic()
        with pytest.raises(GatewayError, match=r"did not answer in time|could not be reached") as error:
            gateway.start(start_request())
        assert time.monotonic() - began < 3
        assert "a-secret-value" not in str(error.value)
    finally:
        listener.close()


# verify: signatures


def test_order_approved_is_captured_and_reported_paid(driver, fake, gateway):
    checkout = paid_checkout(driver, gateway)
    incoming = driver.notification(checkout)
    assert json.loads(incoming.body)["event_type"] == "CHECKOUT.ORDER.APPROVED"
    [report] = gateway.verify(incoming)
    capture_id = fake.orders[checkout.external_id]["purchase_units"][0]["payments"]["captures"][0]["id"]
    assert report.outcome is Outcome.PAID
    assert (report.deposit_id, report.transaction_id, report.external_id) == (42, capture_id, checkout.external_id)
    assert (report.amount, report.currency) == (Decimal("10.50"), "USD")
    assert report.event_id == json.loads(incoming.body)["id"]
    assert ("POST", f"/v2/checkout/orders/{checkout.external_id}/capture") in fake.calls
    assert (
        f"/v2/checkout/orders/{checkout.external_id}/capture",
        f"capture-{checkout.external_id}",
    ) in fake.request_ids


def test_replays_report_the_same_event_and_capture(driver, fake, gateway):
    checkout = paid_checkout(driver, gateway)
    incoming = driver.notification(checkout)
    first = gateway.verify(incoming)
    again = gateway.verify(incoming)
    assert first == again
    completed = gateway.verify(driver.notification(checkout))  # PAYMENT.CAPTURE.COMPLETED follows
    assert completed[0].outcome is Outcome.PAID
    assert completed[0].transaction_id == first[0].transaction_id
    assert completed[0].event_id != first[0].event_id
    assert len(fake.captures) == 1


def test_the_same_approval_delivered_20_times_at_once_captures_once(driver, fake, gateway):
    checkout = paid_checkout(driver, gateway)
    incoming = driver.notification(checkout)
    results, errors = [], []

    def deliver():
        try:
            results.append(PayPalGateway(driver.config(), base_url=driver.base_url).verify(incoming))
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(fake.captures) == 1
    assert {r[0].transaction_id for r in results} == set(fake.captures)
    assert {r[0].outcome for r in results} == {Outcome.PAID}


def test_a_tampered_amount_fails_paypal_verification(driver, fake, gateway):
    checkout = paid_checkout(driver, gateway)
    gateway.verify(driver.notification(checkout))
    incoming = driver.notification(checkout)
    with pytest.raises(BadNotification, match="FAILURE"):
        gateway.verify(driver.tamper(incoming))
    with pytest.raises(BadNotification):
        gateway.verify(driver.tamper(driver.notification(checkout, outcome="refunded")))


def test_a_signature_from_another_notification_fails(driver, gateway):
    checkout = paid_checkout(driver, gateway)
    one = driver.notification(checkout)
    other = driver.notification(checkout)
    mixed = replace(one, headers={**one.headers, "paypal-transmission-sig": other.headers["paypal-transmission-sig"]})
    with pytest.raises(BadNotification, match="FAILURE"):
        gateway.verify(mixed)
    garbage = replace(one, headers={**one.headers, "paypal-transmission-sig": base64.b64encode(b"x" * 256).decode()})
    with pytest.raises(BadNotification):
        gateway.verify(garbage)


@pytest.mark.parametrize(
    "header",
    [
        "paypal-transmission-sig",
        "paypal-transmission-id",
        "paypal-transmission-time",
        "paypal-cert-url",
        "paypal-auth-algo",
    ],
)
def test_a_missing_signature_header_is_refused_without_asking_paypal(driver, fake, gateway, header):
    checkout = paid_checkout(driver, gateway)
    incoming = driver.notification(checkout)
    headers = {k: v for k, v in incoming.headers.items() if k != header}
    with pytest.raises(BadNotification, match=header):
        gateway.verify(replace(incoming, headers=headers))
    assert fake.verifications == []


def test_a_certificate_outside_paypal_is_refused(driver, fake, gateway):
    checkout = paid_checkout(driver, gateway)
    incoming = driver.notification(checkout)
    for url in ("https://evil.example/cert.pem", "http://api.paypal.com/cert", "https://paypal.com.evil.example/c"):
        with pytest.raises(BadNotification, match="CERT-URL"):
            gateway.verify(replace(incoming, headers={**incoming.headers, "paypal-cert-url": url}))
    assert fake.verifications == []
    live = PayPalGateway({"mode": "live"})
    assert live._trusted_cert_url("https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77")


def test_an_event_signed_for_another_webhook_fails(driver, fake, gateway):
    """The signed string holds the webhook ID: what PayPal sent to another listener (another app,
    another panel) does not verify against ours."""
    checkout = paid_checkout(driver, gateway)
    event = fake.order_approved_event(checkout.external_id)
    with pytest.raises(BadNotification, match="FAILURE"):
        gateway.verify(fake.sign(event, webhook_id="9XY12345AB678901C"))
    other_app = PayPalGateway({**driver.config(), "webhook_id": "9XY12345AB678901C"}, base_url=driver.base_url)
    with pytest.raises(BadNotification):
        other_app.verify(fake.sign(event))
    assert checkout.external_id not in {
        c["supplementary_data"]["related_ids"]["order_id"] for c in fake.captures.values()
    }


def test_an_event_for_a_webhook_of_another_app_fails(driver, fake):
    fake.add_app("AnotherAppClientId", "another-secret-value", "5GP028458E2496506")
    ours = PayPalGateway({**driver.config()}, base_url=driver.base_url)
    theirs = PayPalGateway(
        {"client_id": "AnotherAppClientId", "client_secret": "another-secret-value", "webhook_id": "5GP028458E2496506"},
        base_url=driver.base_url,
    )
    checkout = ours.start(start_request())
    driver.pay(checkout)
    incoming = fake.sign(fake.order_approved_event(checkout.external_id), webhook_id="5GP028458E2496506")
    with pytest.raises(BadNotification):
        ours.verify(incoming)
    assert theirs.test_connection().startswith("PayPal sandbox: credentials accepted")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"id": "WH-1", "event_type": "X"}',
        b'{"id": 5, "event_type": "X", "resource": {}}',
        b"\xff",
    ],
)
def test_malformed_bodies_are_refused(driver, gateway, body):
    checkout = paid_checkout(driver, gateway)
    incoming = driver.notification(checkout)
    with pytest.raises(BadNotification):
        gateway.verify(replace(incoming, body=body))


def test_the_event_goes_back_to_paypal_byte_for_byte(driver, fake, gateway):
    """PayPal signs the CRC32 of the body as sent; a re-serialised copy would not verify. This body
    has spacing, key order, escapes and number forms that json.dumps would change."""
    checkout = paid_checkout(driver, gateway)
    capture = fake.capture_now(checkout.external_id)
    resource = json.dumps(capture, indent=3, ensure_ascii=False)
    body = (
        '{ "summary" : "Payment completed for \\u20ac 10.50 — ok", "id":"WH-2WR32451HC0233532-67976317FL4543714",'
        f'"resource":{resource}, "event_version":"1.0", "fee": 1.10, "event_type":"PAYMENT.CAPTURE.COMPLETED"}}'
    ).encode()
    [report] = gateway.verify(fake.sign(body))
    assert report.outcome is Outcome.PAID and report.transaction_id == capture["id"]
    sent = fake.verifications[-1].decode()
    assert raw_member(sent, "webhook_event").encode() == body


def test_the_postback_has_exactly_the_documented_fields(driver, fake, gateway):
    """The request example of https://developer.paypal.com/api/webhooks/v1/#verify-webhook-signature_post
    (its transmission_id, transmission_time, auth_algo, transmission_sig): our postback carries those
    header values and our webhook ID unchanged, and nothing else. The example's signature was made with
    PayPal's key, so PayPal (here, its fake) answers FAILURE and the event is refused."""
    checkout = paid_checkout(driver, gateway)
    incoming = driver.notification(checkout)
    documented = {
        "paypal-transmission-id": "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
        "paypal-transmission-time": "2016-02-18T20:01:35Z",
        "paypal-auth-algo": "SHA256withRSA",
        "paypal-transmission-sig": (
            "lmI95Jx3Y9nhR5SJWlHVIWpg4AgFk7n9bCHSRxbrd8A9zrhdu2rMyFrmz+Zjh3s3boXB07VXCXUZy/UFzUlnGJn0wD"
            "ugt7FlSvdKeIJenLRemUxYCPVoEZzg9VFNqOa48gMkvF+XTpxBeUx/kWy6B5cp7GkT2+pOowfRK7OaynuxUoKW3JcM"
            "Ww272VKjLTtTAShncla7tGF+55rxyt2KNZIIqxNMJ48RDZheGU5w1npu9dZHnPgTXB9iomeVRoD8O/jhRpnKsGrDsc"
            "hyNdkeh81BJJMH4Ctc6lnCCquoP/GzCzz33MMsNdid7vL/NIWaCsekQpW26FpWPi/tfj8nLA=="
        ),
    }
    with pytest.raises(BadNotification, match="FAILURE"):
        gateway.verify(replace(incoming, headers={**incoming.headers, **documented}))
    sent = json.loads(fake.verifications[-1])
    assert sorted(sent) == sorted(
        [
            "auth_algo",
            "cert_url",
            "transmission_id",
            "transmission_sig",
            "transmission_time",
            "webhook_id",
            "webhook_event",
        ]
    )
    assert sent["transmission_id"] == "69cd13f0-d67a-11e5-baa3-778b53f4ae55"
    assert sent["transmission_time"] == "2016-02-18T20:01:35Z"
    assert sent["transmission_sig"] == documented["paypal-transmission-sig"]
    assert sent["webhook_id"] == WEBHOOK_ID
    assert sent["webhook_event"] == json.loads(incoming.body)


def test_the_fake_signs_the_documented_string():
    """ "transmission_id|transmission_time|webhook_id|crc32", the CRC32 of the raw body in decimal
    (https://developer.paypal.com/api/rest/webhooks/rest/, self-verification)."""
    assert zlib.crc32(b"hello") == 907060870
    assert signed_message("tid", "2016-02-18T20:01:35Z", "1JE4291016473214C", b"hello") == (
        b"tid|2016-02-18T20:01:35Z|1JE4291016473214C|907060870"
    )


def test_notify_ips_when_configured(driver, gateway):
    checkout = paid_checkout(driver, gateway)
    incoming = driver.notification(checkout)
    strict = PayPalGateway({**driver.config(), "notify_ips": "173.0.80.0/20, 64.4.240.0/21"}, base_url=driver.base_url)
    with pytest.raises(BadNotification, match="not an allowed"):
        strict.verify(incoming)
    with pytest.raises(BadNotification, match="unknown address"):
        strict.verify(replace(incoming, remote_addr=""))
    anyone = PayPalGateway({**driver.config(), "notify_ips": "*"}, base_url=driver.base_url)
    assert anyone.verify(incoming)[0].outcome is Outcome.PAID
    allowed = PayPalGateway({**driver.config(), "notify_ips": "127.0.0.1"}, base_url=driver.base_url)
    assert allowed.verify(incoming)[0].outcome is Outcome.PAID


def test_no_webhook_id_configured_refuses_notifications(driver, gateway):
    checkout = paid_checkout(driver, gateway)
    unconfigured = PayPalGateway({**driver.config(), "webhook_id": ""}, base_url=driver.base_url)
    with pytest.raises(BadNotification, match="no webhook ID"):
        unconfigured.verify(driver.notification(checkout))


def test_paypal_unreachable_while_verifying_is_a_gateway_error_to_retry(driver, fake, gateway):
    checkout = paid_checkout(driver, gateway)
    incoming = driver.notification(checkout)
    fake.fail("POST", "/v1/notifications/verify-webhook-signature", 503, times=3)
    with pytest.raises(GatewayError):
        gateway.verify(incoming)
    assert gateway.verify(incoming)[0].outcome is Outcome.PAID


# verify: every outcome


def test_capture_pending_and_declined(driver, fake, gateway):
    pending = gateway.start(start_request(1))
    [report] = gateway.verify(driver.notification(pending, outcome="pending"))
    assert report.outcome is Outcome.PENDING and report.deposit_id == 1
    assert "PENDING_REVIEW" in report.note
    declined = gateway.start(start_request(2))
    [report] = gateway.verify(driver.notification(declined, outcome="failed"))
    assert report.outcome is Outcome.FAILED and report.deposit_id == 2 and report.transaction_id


def test_the_driver_sends_no_decline_for_a_completed_capture(driver, gateway):
    checkout = paid_checkout(driver, gateway)
    gateway.verify(driver.notification(checkout))
    with pytest.raises(ValueError, match="COMPLETED"):
        driver.notification(checkout, outcome="failed")


def test_capture_denied_is_failed(driver, fake, gateway):
    checkout = gateway.start(start_request())
    driver.pay(checkout)
    capture = fake.capture_now(checkout.external_id)
    capture["status"] = "DECLINED"
    [report] = gateway.verify(fake.sign(fake.capture_event(capture["id"], "PAYMENT.CAPTURE.DENIED")))
    assert report.outcome is Outcome.FAILED and report.transaction_id == capture["id"] and report.deposit_id == 42


def test_a_refused_capture_is_failed_for_the_deposit(driver, fake, gateway):
    checkout = gateway.start(start_request())
    fake.approve(checkout.external_id, refuse_with="INSTRUMENT_DECLINED")
    [report] = gateway.verify(driver.notification(checkout))
    assert report.outcome is Outcome.FAILED and report.deposit_id == 42
    assert "INSTRUMENT_DECLINED" in report.note and report.transaction_id == ""


@pytest.mark.parametrize(("paid", "outcome"), [("4.00", Outcome.PAID), ("25.00", Outcome.PAID)])
def test_the_amount_reported_is_what_was_captured(driver, gateway, paid, outcome):
    checkout = gateway.start(start_request())
    driver.pay(checkout, amount=Decimal(paid))
    [report] = gateway.verify(driver.notification(checkout))
    assert report.outcome is outcome and report.amount == Decimal(paid)


def test_another_currency_is_reported_as_such(driver, gateway):
    checkout = gateway.start(start_request())
    driver.pay(checkout, currency="EUR")
    [report] = gateway.verify(driver.notification(checkout))
    assert (report.amount, report.currency) == (Decimal("10.50"), "EUR")


def test_an_approval_already_captured_reports_the_capture(driver, fake, gateway):
    checkout = paid_checkout(driver, gateway)
    incoming = driver.notification(checkout)  # CHECKOUT.ORDER.APPROVED
    capture = fake.capture_now(checkout.external_id)  # captured meanwhile, by the return's lookup
    [report] = gateway.verify(incoming)
    assert report.outcome is Outcome.PAID and report.transaction_id == capture["id"]


def test_refunds_full_and_partial(driver, fake, gateway):
    checkout = paid_checkout(driver, gateway)
    [paid] = gateway.verify(driver.notification(checkout))
    capture_id = paid.transaction_id
    partial = fake.refund(capture_id, amount=Decimal("3.25"))
    [report] = gateway.verify(fake.sign(fake.event("PAYMENT.CAPTURE.REFUNDED", partial, resource_type="refund")))
    assert report.outcome is Outcome.REFUNDED
    assert (report.deposit_id, report.transaction_id, report.amount) == (42, partial["id"], Decimal("3.25"))
    assert report.external_id == checkout.external_id and report.raw["capture_id"] == capture_id
    [full] = gateway.verify(driver.notification(checkout, outcome="refunded"))
    assert full.outcome is Outcome.REFUNDED and full.amount == Decimal("10.50") and full.transaction_id != partial["id"]


def test_a_refund_carrying_our_custom_id_needs_no_capture_lookup(driver, fake, gateway):
    checkout = paid_checkout(driver, gateway)
    [paid] = gateway.verify(driver.notification(checkout))
    refund = {**fake.refund(paid.transaction_id), "custom_id": "42", "invoice_id": "42"}
    before = len(fake.calls)
    [report] = gateway.verify(fake.sign(fake.event("PAYMENT.CAPTURE.REFUNDED", refund, resource_type="refund")))
    assert report.deposit_id == 42
    assert [c for c in fake.calls[before:] if c[1].startswith("/v2/payments/captures/")] == []


def test_reversal_and_dispute_are_chargebacks(driver, gateway):
    checkout = paid_checkout(driver, gateway)
    gateway.verify(driver.notification(checkout))
    [reversal] = gateway.verify(driver.notification(checkout, outcome="reversed"))
    assert reversal.outcome is Outcome.CHARGEBACK and reversal.deposit_id == 42 and reversal.amount == Decimal("10.50")
    incoming = driver.notification(checkout, outcome="chargeback")
    [dispute] = gateway.verify(incoming)
    event = json.loads(incoming.body)
    assert dispute.outcome is Outcome.CHARGEBACK and dispute.deposit_id == 42
    assert dispute.transaction_id == event["resource"]["dispute_id"] and dispute.amount == Decimal("10.50")
    assert dispute.external_id == checkout.external_id and dispute.event_id == event["id"]


def test_a_dispute_over_two_captures_reports_each(driver, fake, gateway):
    one = paid_checkout(driver, gateway, 1)
    two = paid_checkout(driver, gateway, 2, amount="5.00")
    c1, c2 = fake.capture_now(one.external_id), fake.capture_now(two.external_id)
    dispute = fake.dispute(c1["id"])
    dispute["disputed_transactions"] = [
        {"seller_transaction_id": c1["id"], "gross_amount": c1["amount"], "custom": "1"},
        {"seller_transaction_id": c2["id"], "gross_amount": c2["amount"]},
    ]
    reports = gateway.verify(fake.sign(fake.event("CUSTOMER.DISPUTE.CREATED", dispute, resource_type="dispute")))
    assert [(r.deposit_id, r.amount) for r in reports] == [(1, Decimal("10.50")), (2, Decimal("5.00"))]
    assert len({r.transaction_id for r in reports}) == 2 and len({r.event_id for r in reports}) == 2


def test_other_verified_events_are_ignored(driver, fake, gateway):
    event = fake.event("PAYMENT.PAYOUTS-ITEM.SUCCEEDED", {"payout_item_id": "8AELMXH8UB2P8"})
    [report] = gateway.verify(fake.sign(event))
    assert report.outcome is Outcome.IGNORED and report.event_id == event["id"] and report.deposit_id is None


def test_a_verified_event_that_does_not_read_as_documented_is_refused(driver, fake, gateway):
    for event_type, resource in [
        ("PAYMENT.CAPTURE.COMPLETED", {"id": "5X9", "status": "COMPLETED"}),
        ("PAYMENT.CAPTURE.COMPLETED", {"id": "5X9", "amount": {"currency_code": "USD", "value": "1e3"}}),
        ("PAYMENT.CAPTURE.REFUNDED", {"amount": {"currency_code": "USD", "value": "1.00"}}),
        ("CUSTOMER.DISPUTE.CREATED", {"dispute_id": "PP-D-1", "disputed_transactions": []}),
        ("CHECKOUT.ORDER.APPROVED", {"id": "../../v1/oauth2/token"}),
    ]:
        with pytest.raises(BadNotification):
            gateway.verify(fake.sign(fake.event(event_type, resource)))


def test_other_peoples_payments_on_the_account_carry_no_deposit(driver, fake, gateway):
    checkout = paid_checkout(driver, gateway)
    capture = dict(fake.capture_now(checkout.external_id))
    capture["custom_id"] = "invoice-INV2-XXXX"
    capture["invoice_id"] = "INV2-XXXX"
    [report] = gateway.verify(fake.sign(fake.event("PAYMENT.CAPTURE.COMPLETED", capture, resource_type="capture")))
    assert report.outcome is Outcome.PAID and report.deposit_id is None


# reply


def test_reply_acknowledges_with_2xx_and_refuses_with_400(gateway):
    assert gateway.reply([]) == base.Reply(status=200, body="")
    assert gateway.reply(None, BadNotification("no")).status == 400


# lookup


def test_lookup_before_and_after_approval(driver, fake, gateway):
    checkout = gateway.start(start_request())
    waiting = gateway.lookup(lookup_request(checkout))
    assert waiting.outcome is Outcome.PENDING and waiting.deposit_id == 42 and not waiting.transaction_id
    driver.pay(checkout)
    paid = gateway.lookup(lookup_request(checkout))
    assert paid.outcome is Outcome.PAID and paid.transaction_id in fake.captures and paid.amount == Decimal("10.50")
    assert gateway.lookup(lookup_request(checkout)).transaction_id == paid.transaction_id
    assert len(fake.captures) == 1
    [webhook] = gateway.verify(driver.notification(checkout))
    assert webhook.transaction_id == paid.transaction_id


def test_lookup_of_refused_refunded_and_unknown_orders(driver, fake, gateway):
    assert gateway.lookup(LookupRequest(42, "", "", Decimal("1"), "USD")) is None
    gone = gateway.lookup(LookupRequest(42, "0VF52814937998046", "", Decimal("1"), "USD"))
    assert gone.outcome is Outcome.EXPIRED and gone.deposit_id == 42
    refused = gateway.start(start_request(7))
    fake.approve(refused.external_id, refuse_with="INSTRUMENT_DECLINED")
    assert gateway.lookup(lookup_request(refused, 7)).outcome is Outcome.FAILED
    refunded = paid_checkout(driver, gateway, 8)
    capture = fake.capture_now(refunded.external_id)
    refund = fake.refund(capture["id"])
    report = gateway.lookup(lookup_request(refunded, 8))
    assert report.outcome is Outcome.REFUNDED and report.transaction_id == refund["id"]


def test_lookup_refuses_an_order_of_another_deposit(driver, gateway):
    checkout = gateway.start(start_request(42))
    with pytest.raises(GatewayError, match="another deposit"):
        gateway.lookup(lookup_request(checkout, deposit_id=43))
    with pytest.raises(GatewayError):
        gateway.lookup(LookupRequest(42, "../v1/oauth2/token", "", Decimal("1"), "USD"))


# test_connection


def test_connection_checks_credentials_and_the_webhook(driver, fake, gateway):
    text = gateway.test_connection()
    assert "credentials accepted" in text and WEBHOOK_ID in text and "Not subscribed" not in text
    fake.webhooks[WEBHOOK_ID]["event_types"] = [{"name": "PAYMENT.CAPTURE.COMPLETED"}]
    assert "Not subscribed: CHECKOUT.ORDER.APPROVED" in gateway.test_connection()
    unknown = PayPalGateway({**driver.config(), "webhook_id": "1AB23456CD789012E"}, base_url=driver.base_url)
    with pytest.raises(GatewayError, match="no webhook 1AB23456CD789012E"):
        unknown.test_connection()


def test_connection_with_bad_credentials(driver):
    bad = PayPalGateway({**driver.config(), "client_secret": "EBadSecret-abcdef"}, base_url=driver.base_url)
    with pytest.raises(GatewayError) as error:
        bad.test_connection()
    assert "invalid_client" in str(error.value) and "client ID and secret" in str(error.value)
    assert "EBadSecret" not in str(error.value)
    with pytest.raises(GatewayError, match="not set"):
        PayPalGateway({"mode": "sandbox"}, base_url=driver.base_url).test_connection()


# secrets


def test_no_secret_in_reports_or_errors(driver, fake, gateway):
    checkout = paid_checkout(driver, gateway)
    reports = gateway.verify(driver.notification(checkout))
    reports += gateway.verify(driver.notification(checkout))
    reports += gateway.verify(driver.notification(checkout, outcome="refunded"))
    reports += gateway.verify(driver.notification(checkout, outcome="chargeback"))
    reports.append(gateway.lookup(lookup_request(checkout)))
    incoming = driver.notification(checkout)
    messages = []
    for broken in (driver.tamper(incoming), replace(incoming, body=b"{")):
        try:
            gateway.verify(broken)
        except BadNotification as error:
            messages.append(str(error))
    dumped = json.dumps([r.raw for r in reports]) + " ".join(r.note for r in reports) + " ".join(messages)
    for secret in secrets_of(fake):
        assert secret not in dumped
    assert incoming.headers["paypal-transmission-sig"] not in dumped
    assert "paypal-transmission-sig" not in dumped
