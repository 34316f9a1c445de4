"""billing.gateways.payeer against the local Payeer fake (testing.gateways.payeer): the signed
merchant form (with encrypted m_params), the signed status form, the Payeer API. No database."""

import hashlib
import time
from decimal import Decimal

import pytest

from billing.gateways.base import BadNotification, GatewayError, Incoming, LookupRequest, Outcome, StartRequest
from billing.gateways.payeer import (
    NOTIFY_IPS,
    PayeerBadNotification,
    PayeerGateway,
    encrypt_params,
    form_sign,
    status_sign,
)
from testing.gateways.fakeserver import Answer, FakeHttpServer, silent_listener
from testing.gateways.payeer import Driver, FakePayeer, Operation, incoming_form

SECRETS = ("fake-merchant-secret-key", "fake-params-encryption-key", "fake-api-secret")
URLS = {
    "success_url": "https://panel.example/payments/return/41/",
    "fail_url": "https://panel.example/payments/cancel/41/",
    "status_url": "https://panel.example/payments/notify/3/",
}


def start_request(deposit_id=41, amount=Decimal("10"), currency="USD", description="Test Invoice") -> StartRequest:
    return StartRequest(
        deposit_id=deposit_id,
        amount=amount,
        currency=currency,
        description=description,
        customer_email="buyer@example.com",
        customer_name="Buyer",
        return_url=URLS["success_url"],
        cancel_url=URLS["fail_url"],
        notify_url=URLS["status_url"],
    )


@pytest.fixture
def driver():
    with Driver() as d:
        yield d


@pytest.fixture
def gateway(driver):
    return PayeerGateway(driver.config(), base_url=driver.base_url)


def paid(driver, gateway, deposit_id=41, asked=Decimal("10"), **pay):
    checkout = gateway.start(start_request(deposit_id, asked))
    driver.pay(checkout, **pay)
    return checkout, driver.notification(checkout)


# --- the documented vectors -------------------------------------------------------------------


def test_m_desc_and_m_amount_match_the_documented_invoice_link():
    # Payeer API, "Creating an invoice for payment": m_amount=10 and m_desc "Test Invoice" come back
    # as ...&m_amount=10.00&m_curr=USD&m_desc=VGVzdCBJbnZvaWNl&m_sign=...
    gateway = PayeerGateway({"shop_id": "12345", "secret_key": "merchant-secret"})
    fields = dict(gateway.start(start_request(amount=Decimal("10"))).form_fields)
    assert (fields["m_amount"], fields["m_curr"], fields["m_desc"]) == ("10.00", "USD", "VGVzdCBJbnZvaWNl")


def test_signatures_match_payeers_sample_code():
    # Payeer's sample form and handler (implode(':', $arHash), sha256, strtoupper), run by PHP 8
    # with m_shop 12345, m_orderid 41, m_amount number_format(10, 2, '.', ''), m_curr USD,
    # m_desc base64_encode('Test Invoice'), m_key 'merchant-secret' and the encryption key
    # 'params-key' for $arParams = the three URLs above:
    desc = "VGVzdCBJbnZvaWNl"
    assert form_sign("12345", "41", "10.00", "USD", desc, "merchant-secret") == (
        "120A1923B3C2E6BF4CAB1B84D44F06C0E6423B52D3DA573E361F822338F17F40"
    )
    params = encrypt_params(URLS, "params-key", "41")
    assert params == (
        "xNNMlhwEZuwFLb9U1lgH%2Bu2eiFg7QTBJPnfWpiK6SXD8WzX7o3wdG2YgQidja8a6o67ym2HABDsDb8e3XHRdWK6iFJKN8luPMclqy"
        "KVbF%2BoPUMPBW2ea1sK63bGuaTreZZOczOimuEeyAG%2FjSmxgA2uX3EL2eDAEEGZiw3UuG52Wu1Ab2RsCpYe0CmUY5dzv995mtMo"
        "%2BVUODeJjD3XRTr9RLiLKbPGLBGQDXdXr7f4nCp0pidu5SfbXRBMQ%2FeEC1"
    )
    assert form_sign("12345", "41", "10.00", "USD", desc, "merchant-secret", params) == (
        "EBF224770930BD0AF8E850B8448A7445020A04EF95E773FE29047A891A7D1D96"
    )
    status = {
        "m_operation_id": "928562360",
        "m_operation_ps": "2609",
        "m_operation_date": "20.01.2020 14:05:30",
        "m_operation_pay_date": "20.01.2020 14:05:48",
        "m_shop": "12345",
        "m_orderid": "41",
        "m_amount": "10.00",
        "m_curr": "USD",
        "m_desc": desc,
        "m_status": "success",
    }
    assert status_sign(status, "merchant-secret") == "712A677EC43E005F75E5042E461BB251374E3995201D47C592832EB5233CE9A5"
    # and plainly, the documented colon-joined string:
    plain = "928562360:2609:20.01.2020 14:05:30:20.01.2020 14:05:48:12345:41:10.00:USD:" + desc + ":success"
    assert status_sign(status, "k") == hashlib.sha256(f"{plain}:k".encode()).hexdigest().upper()


# --- start ------------------------------------------------------------------------------------


def test_start_builds_the_signed_merchant_form(gateway, driver):
    checkout = gateway.start(start_request(amount=Decimal("10.5")))
    fields = dict(checkout.form_fields)
    assert checkout.form_action == f"{driver.base_url}/merchant/"
    assert [name for name, _ in checkout.form_fields] == [
        "m_shop",
        "m_orderid",
        "m_amount",
        "m_curr",
        "m_desc",
        "m_sign",
        "m_params",
        "m_cipher_method",
    ]
    assert (fields["m_shop"], fields["m_orderid"], fields["m_amount"], fields["m_curr"]) == (
        "1234567",
        "41",
        "10.50",
        "USD",
    )
    assert fields["m_cipher_method"] == "AES-256-CBC"
    # The fake (as Payeer) decrypts our m_params to this deposit's URLs.
    assert driver.fake.decrypt_params(fields["m_params"], "41") == URLS
    assert fields["m_sign"] == form_sign(
        "1234567", "41", "10.50", "USD", fields["m_desc"], SECRETS[0], fields["m_params"]
    )


def test_start_without_the_encryption_key_sends_no_m_params(driver):
    config = {**driver.config(), "params_key": ""}
    checkout = PayeerGateway(config, base_url=driver.base_url).start(start_request())
    assert "m_params" not in dict(checkout.form_fields)
    driver.pay(checkout)  # the fake accepts the plain signature too
    assert driver.fake.operation("41").urls == {}


def test_start_defaults_to_payeers_address(driver):
    assert PayeerGateway(driver.config()).start(start_request()).form_action == "https://payeer.com/merchant/"


def test_unicode_description_is_base64_of_utf8(gateway):
    fields = dict(gateway.start(start_request(description="Пополнение #41")).form_fields)
    import base64

    assert base64.b64decode(fields["m_desc"]).decode() == "Пополнение #41"


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        (Decimal("10.001"), "USD"),
        (Decimal("0"), "USD"),
        (Decimal("-1"), "USD"),
        (Decimal("Infinity"), "USD"),
        (Decimal("10"), "GBP"),
    ],
)
def test_start_refuses_amounts_and_currencies_it_cannot_charge(gateway, amount, currency):
    with pytest.raises(GatewayError):
        gateway.start(start_request(amount=amount, currency=currency))


@pytest.mark.parametrize("change", [{"shop_id": ""}, {"shop_id": "shop"}, {"secret_key": ""}])
def test_start_refuses_bad_settings(driver, change):
    with pytest.raises(GatewayError):
        PayeerGateway({**driver.config(), **change}, base_url=driver.base_url).start(start_request())


@pytest.mark.parametrize("currency", ["USD", "EUR", "RUB"])
def test_every_currency_reaches_the_fake(gateway, driver, currency):
    checkout = gateway.start(start_request(amount=Decimal("3.3"), currency=currency))
    driver.pay(checkout)
    assert (driver.fake.operation("41").currency, driver.fake.operation("41").amount) == (currency, "3.30")


# --- verify -----------------------------------------------------------------------------------


def test_verify_a_successful_payment(gateway, driver):
    _, incoming = paid(driver, gateway)
    [report] = gateway.verify(incoming)
    operation = driver.fake.operation("41")
    assert report.outcome is Outcome.PAID
    assert report.deposit_id == 41
    assert report.transaction_id == operation.operation_id
    assert report.event_id == f"{operation.operation_id}:success"
    assert (report.amount, report.currency) == (Decimal("10.00"), "USD")
    assert "m_sign" not in report.raw
    assert report.raw["m_params"] == operation.params


def test_verify_a_failed_payment(gateway, driver):
    checkout = gateway.start(start_request())
    [report] = gateway.verify(driver.notification(checkout, outcome="failed"))
    assert report.outcome is Outcome.FAILED
    assert report.deposit_id == 41


def test_other_signed_statuses_are_ignored(gateway, driver):
    operation = Operation("928562999", "1234567", "41", "10.00", "USD", "VGVzdA==", "processing", 0, 0)
    [report] = gateway.verify(incoming_form(driver.fake.status_form(operation)))
    assert report.outcome is Outcome.IGNORED


def test_the_same_notification_twice_gives_the_same_report(gateway, driver):
    _, incoming = paid(driver, gateway)
    assert gateway.verify(incoming) == gateway.verify(incoming)


def test_verify_reads_the_raw_body_when_no_form_was_parsed(gateway, driver):
    _, incoming = paid(driver, gateway)
    bare = Incoming(body=incoming.body, headers=incoming.headers, form={}, query={}, remote_addr="127.0.0.1")
    assert gateway.verify(bare) == gateway.verify(incoming)


@pytest.mark.parametrize(("amount", "currency"), [(Decimal("4"), None), (Decimal("25"), None), (None, "EUR")])
def test_what_payeer_reports_paid_is_what_is_reported(gateway, driver, amount, currency):
    _, incoming = paid(driver, gateway, amount=amount, currency=currency)
    [report] = gateway.verify(incoming)
    assert report.outcome is Outcome.PAID
    assert report.amount == (amount if amount is not None else Decimal("10.00"))
    assert report.currency == (currency or "USD")


def test_tampered_amount_is_refused(gateway, driver):
    _, incoming = paid(driver, gateway)
    with pytest.raises(PayeerBadNotification, match="m_sign") as caught:
        gateway.verify(driver.tamper(incoming))
    assert caught.value.order_id == "41"


def test_wrong_key_is_refused(gateway, driver):
    paid(driver, gateway)
    forged = driver.fake.status_form(driver.fake.operation("41"), key="guessed")
    with pytest.raises(BadNotification, match="m_sign"):
        gateway.verify(incoming_form(forged))


def test_dropping_m_params_breaks_the_signature(gateway, driver):
    _, incoming = paid(driver, gateway)
    fields = {k: v for k, v in incoming.form.items() if k != "m_params"}
    with pytest.raises(BadNotification, match="m_sign"):
        gateway.verify(incoming_form(fields))


@pytest.mark.parametrize("name", ["m_sign", "m_operation_id", "m_status", "m_amount", "m_curr", "m_shop"])
def test_missing_fields_are_refused(gateway, driver, name):
    _, incoming = paid(driver, gateway)
    fields = dict(incoming.form)
    del fields[name]
    with pytest.raises(BadNotification, match="Missing"):
        gateway.verify(incoming_form(fields))


def test_empty_optional_fields_of_a_failed_payment_are_accepted(gateway, driver):
    fields = {**signed(driver.fake, status="fail"), "m_operation_pay_date": "", "m_desc": ""}
    fields["m_sign"] = status_sign(fields, SECRETS[0])
    [report] = gateway.verify(incoming_form(fields))
    assert report.outcome is Outcome.FAILED


def test_an_empty_description_is_replaced(gateway):
    import base64

    fields = dict(gateway.start(start_request(description="")).form_fields)
    assert base64.b64decode(fields["m_desc"]).decode() == "Deposit 41"


def signed(fake: FakePayeer, **changes) -> dict[str, str]:
    operation = Operation("928562360", fake.shop_id, "41", "10.00", "USD", "VGVzdA==", "success", 0, 0)
    for key, value in changes.items():
        setattr(operation, key, value)
    return fake.status_form(operation)


@pytest.mark.parametrize(
    "changes",
    [
        {"shop": "7654321"},  # another merchant, correctly signed
        {"order_id": "order-41"},
        {"amount": "ten"},
        {"amount": "0.00"},
        {"currency": "US DOLLAR"},
    ],
)
def test_signed_forms_about_other_things_are_refused(gateway, driver, changes):
    with pytest.raises(BadNotification):
        gateway.verify(incoming_form(signed(driver.fake, **changes)))


def test_unsigned_extra_fields_are_ignored_and_left_out_of_raw(gateway, driver):
    fields = {**signed(driver.fake), "summa_out": "0.01", "client_email": "someone@example.com"}
    [report] = gateway.verify(incoming_form(fields))
    assert report.amount == Decimal("10.00")
    assert "summa_out" not in report.raw and "client_email" not in report.raw


def test_only_payeers_addresses_by_default(driver):
    gateway = PayeerGateway({**driver.config(), "allowed_ips": ""})
    fields = signed(driver.fake)
    for address in NOTIFY_IPS:
        assert gateway.verify(incoming_form(fields, remote_addr=address))[0].outcome is Outcome.PAID
        # The same address as a dual-stack listener reports it (IPv4-mapped IPv6).
        assert gateway.verify(incoming_form(fields, remote_addr=f"::ffff:{address}"))[0].outcome is Outcome.PAID
    for address in ("127.0.0.1", "185.71.65.93", "", "not-an-ip"):
        with pytest.raises(PayeerBadNotification) as caught:
            gateway.verify(incoming_form(fields, remote_addr=address))
        assert caught.value.order_id == "41"


def test_a_configured_list_replaces_payeers(gateway, driver):
    fields = signed(driver.fake)
    with pytest.raises(BadNotification, match="allow-list"):
        gateway.verify(incoming_form(fields, remote_addr="185.71.65.92"))
    networks = PayeerGateway({**driver.config(), "allowed_ips": "10.0.0.0/8 192.0.2.7"})
    assert networks.verify(incoming_form(fields, remote_addr="10.1.2.3"))[0].outcome is Outcome.PAID
    anywhere = PayeerGateway({**driver.config(), "allowed_ips": "*"})
    assert anywhere.verify(incoming_form(fields, remote_addr="198.51.100.1"))[0].outcome is Outcome.PAID


def test_an_unreadable_allow_list_refuses_notifications(driver):
    gateway = PayeerGateway({**driver.config(), "allowed_ips": "payeer.com"})
    with pytest.raises(BadNotification):
        gateway.verify(incoming_form(signed(driver.fake)))


def test_malformed_bodies_are_refused(gateway):
    for body in (b"\xff\xfe", b"garbage", b""):
        with pytest.raises(BadNotification):
            gateway.verify(Incoming(body=body, headers={}, form={}, query={}, remote_addr="127.0.0.1"))


def test_reply_texts_are_payeers(gateway, driver):
    checkout, incoming = paid(driver, gateway)
    assert gateway.reply(gateway.verify(incoming)).body == "41|success"
    assert gateway.reply(gateway.verify(incoming)).status == 200
    failed = gateway.verify(driver.notification(checkout, outcome="failed"))
    assert gateway.reply(failed).body == "41|error"
    with pytest.raises(PayeerBadNotification) as caught:
        gateway.verify(driver.tamper(incoming))
    assert gateway.reply(None, caught.value).body == "41|error"
    assert gateway.reply(None, BadNotification("no fields")).body == "|error"
    # What we echo is cleaned: no markup or line breaks from a forged m_orderid.
    hostile = incoming_form({**incoming.form, "m_orderid": "<b>41</b>\r\nX"})
    with pytest.raises(PayeerBadNotification) as caught:
        gateway.verify(hostile)
    assert gateway.reply(None, caught.value).body == "b41bX|error"


# --- lookup and test connection ---------------------------------------------------------------


def lookup_request(deposit_id=41, transaction_id="") -> LookupRequest:
    return LookupRequest(
        deposit_id=deposit_id, external_id="", transaction_id=transaction_id, amount=Decimal("10.00"), currency="USD"
    )


def test_lookup_finds_the_paid_invoice(gateway, driver):
    _, incoming = paid(driver, gateway)
    [notified] = gateway.verify(incoming)
    found = gateway.lookup(lookup_request())
    assert found.outcome is Outcome.PAID
    assert (found.transaction_id, found.event_id, found.deposit_id) == (
        notified.transaction_id,
        notified.event_id,
        41,
    )
    assert (found.amount, found.currency) == (Decimal("10"), "USD")
    assert "clientEmail" not in found.raw
    api_calls = [r for r in driver.fake.http.requests if r.path == "/ajax/api/api.php"]
    assert api_calls and all(r.method == "POST" and "apiPass" not in r.path for r in api_calls)


def test_lookup_of_an_unpaid_or_failed_invoice_is_none(gateway, driver):
    checkout = gateway.start(start_request())
    assert gateway.lookup(lookup_request()) is None
    driver.notification(checkout, outcome="failed")
    assert gateway.lookup(lookup_request()) is None


def test_lookup_without_api_settings_is_none(driver):
    gateway = PayeerGateway({**driver.config(), "api_pass": ""}, base_url=driver.base_url)
    assert gateway.lookup(lookup_request()) is None


def test_lookup_with_a_wrong_api_key_says_so_without_the_key(driver):
    gateway = PayeerGateway({**driver.config(), "api_pass": "wrong-api-key-9"}, base_url=driver.base_url)
    with pytest.raises(GatewayError, match="Auth error") as caught:
        gateway.lookup(lookup_request())
    assert "wrong-api-key-9" not in str(caught.value)


def test_lookup_for_another_merchant_is_an_error(driver):
    gateway = PayeerGateway({**driver.config(), "shop_id": "999"}, base_url=driver.base_url)
    with pytest.raises(GatewayError, match="Merchant not found"):
        gateway.lookup(lookup_request())


def test_test_connection(gateway, driver):
    paid(driver, gateway)
    assert gateway.test_connection() == "Connected: available EUR 0.0, RUB 0.0, USD 10.0."


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"api_pass": "wrong-api-key-9"}, "Auth error"),
        ({"api_id": "54321"}, "Auth error"),
        ({"account": "P2000000"}, "Auth error"),
        ({"api_pass": ""}, "Set the account number"),
    ],
)
def test_test_connection_failures(driver, change, message):
    gateway = PayeerGateway({**driver.config(), **change}, base_url=driver.base_url)
    with pytest.raises(GatewayError, match=message) as caught:
        gateway.test_connection()
    for secret in (*SECRETS, "wrong-api-key-9"):
        assert secret not in str(caught.value)


def test_a_gateway_that_never_answers_fails_quickly():
    with silent_listener() as url:
        gateway = PayeerGateway(Driver().config(), base_url=url, timeout=0.5)
        for call in (gateway.test_connection, lambda: gateway.lookup(lookup_request())):
            began = time.monotonic()
            with pytest.raises(GatewayError, match="did not answer in time") as caught:
                call()
            assert time.monotonic() - began < 3
            assert not any(secret in str(caught.value) for secret in SECRETS) and url not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "body"),
    [(200, "<html>Maintenance</html>"), (200, "[1, 2]"), (503, "busy"), (404, "Not found")],
)
def test_api_answers_that_are_not_the_documented_json_are_gateway_errors(driver, status, body):
    server = FakeHttpServer({"/ajax/api/api.php": lambda fields, request: Answer(status, body)}).start()
    try:
        gateway = PayeerGateway(driver.config(), base_url=server.url)
        with pytest.raises(GatewayError):
            gateway.test_connection()
    finally:
        server.stop()


def test_no_secret_reaches_reports_or_errors(gateway, driver):
    _, incoming = paid(driver, gateway)
    text = repr([*gateway.verify(incoming), gateway.lookup(lookup_request())])
    for secret in SECRETS:
        assert secret not in text
    assert incoming.form["m_sign"] not in text


def test_driver_contract(driver):
    assert driver.code == PayeerGateway.code
    assert driver.currency in PayeerGateway.currencies
    assert {f.name for f in PayeerGateway.fields} >= set(driver.config())
    with pytest.raises(ValueError):
        driver.notification(None, outcome="chargeback")
