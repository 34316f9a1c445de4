"""billing.gateways.cryptomus against the local fake of Cryptomus' API (testing.gateways.cryptomus).

No database: the gateway module never touches it. The signature vectors below were computed by
PHP 8.2 itself, following Cryptomus' documented recipes word for word:

- request sign (doc.cryptomus.com/business/general/request-format): ``$data = json_encode($data);
  $sign = md5(base64_encode($data) . $API_KEY);`` and, for a call without parameters,
  ``md5(base64_encode('') . $API_KEY)``; the body encoded as their PHP SDK sends it
  (``json_encode($data, JSON_UNESCAPED_UNICODE)``);
- webhook sign (doc.cryptomus.com/business/payments/webhook, "verifying the signature"):
  ``$data = json_decode($body, true); unset($data['sign']);
  md5(base64_encode(json_encode($data, JSON_UNESCAPED_UNICODE)) . $apiKey)``.

The key is the example payment key of their PHP SDK's README (github.com/CryptomusCom/api-php-sdk);
the webhook is the example of their webhook page with ``additional_data`` set to a URL with
slashes and Cyrillic text and an empty object added, the cases where a naive ``json.dumps`` differs
from PHP. Their pages publish no key together with a signature, so no vector comes from them directly.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from billing.gateways.base import BadNotification, GatewayError, Incoming, LookupRequest, Outcome, StartRequest
from billing.gateways.cryptomus import CryptomusGateway, php_json, signature, wire_amount
from testing.gateways.cryptomus import API_KEY, MERCHANT, WEBHOOK_IP, Driver, FakeCryptomus
from testing.gateways.jsonfake import silent_listener

PHP_KEY = API_KEY
DOC_WEBHOOK = (
    '{"type":"payment","uuid":"62f88b36-a9d5-4fa6-aa26-e040c3dbf26d","order_id":"97a75bf8eda3a4f9f5e6f3a9a8c0d5e2",'
    '"amount":"3.00000000","payment_amount":"3.00000000","payment_amount_usd":"0.23","merchant_amount":"2.94000000",'
    '"commission":"0.06000000","is_final":true,"status":"paid","from":"THgEWubVc8tPKXLJ4VZ5zbiiAK7AgqSeGH",'
    '"wallet_address_uuid":null,"network":"tron","currency":"TRX","payer_currency":"TRX",'
    '"additional_data":"https://shop.example/оплата?x=1","extra":{},"convert":{"to_currency":"USDT",'
    '"commission":null,"rate":"0.07700000","amount":"0.22638000"},'
    '"txid":"6f0d9c8374db57cac0d806251473de754f361c83a03cd805f74aa9da3193486b",'
    '"sign":"e40293356c36bc4104040a567e19a045"}'
)
# json_encode($data, JSON_UNESCAPED_UNICODE) of that webhook without sign, as PHP printed it.
DOC_WEBHOOK_PHP = (
    '{"type":"payment","uuid":"62f88b36-a9d5-4fa6-aa26-e040c3dbf26d","order_id":"97a75bf8eda3a4f9f5e6f3a9a8c0d5e2",'
    '"amount":"3.00000000","payment_amount":"3.00000000","payment_amount_usd":"0.23","merchant_amount":"2.94000000",'
    '"commission":"0.06000000","is_final":true,"status":"paid","from":"THgEWubVc8tPKXLJ4VZ5zbiiAK7AgqSeGH",'
    '"wallet_address_uuid":null,"network":"tron","currency":"TRX","payer_currency":"TRX",'
    '"additional_data":"https:\\/\\/shop.example\\/оплата?x=1","extra":[],"convert":{"to_currency":"USDT",'
    '"commission":null,"rate":"0.07700000","amount":"0.22638000"},'
    '"txid":"6f0d9c8374db57cac0d806251473de754f361c83a03cd805f74aa9da3193486b"}'
)
SDK_REQUEST = {
    "amount": "16",
    "currency": "USD",
    "network": "ETH",
    "order_id": "555123",
    "url_return": "https://example.com/return",
    "url_callback": "https://example.com/callback",
    "is_payment_multiple": False,
    "lifetime": "7200",
    "to_currency": "ETH",
}
SDK_REQUEST_PHP = (
    '{"amount":"16","currency":"USD","network":"ETH","order_id":"555123","url_return":"https:\\/\\/example.com\\/return",'
    '"url_callback":"https:\\/\\/example.com\\/callback","is_payment_multiple":false,"lifetime":"7200","to_currency":"ETH"}'
)


def start_request(deposit_id: int = 42, amount: str = "10.50", currency: str = "USD") -> StartRequest:
    return StartRequest(
        deposit_id=deposit_id,
        amount=Decimal(amount),
        currency=currency,
        description="Add funds",
        customer_email="buyer@example.com",
        customer_name="Buyer",
        return_url="https://panel.example/payments/return/7/",
        cancel_url="https://panel.example/add-funds/",
        notify_url="https://panel.example/payments/notify/7/",
    )


@pytest.fixture
def driver():
    with Driver() as running:
        yield running


@pytest.fixture
def fake(driver) -> FakeCryptomus:
    return driver.fake


@pytest.fixture
def gateway(driver) -> CryptomusGateway:
    return CryptomusGateway(driver.config(), base_url=driver.base_url)


def webhook(fake: FakeCryptomus, checkout, **kwargs) -> Incoming:
    return fake.webhook(checkout.external_id, **kwargs)


# ------------------------------------------------------------------------------- test vectors


def test_php_encoding_matches_php_json_encode():
    data = json.loads(DOC_WEBHOOK)
    del data["sign"]
    assert php_json(data) == DOC_WEBHOOK_PHP
    assert php_json(SDK_REQUEST) == SDK_REQUEST_PHP


def test_signatures_match_phps():
    assert signature(DOC_WEBHOOK_PHP.encode(), PHP_KEY) == "e40293356c36bc4104040a567e19a045"
    assert signature(b"", PHP_KEY) == "68314d2774fc9f488b270183cfa5dea5"  # md5(base64_encode('') . key)
    assert signature(SDK_REQUEST_PHP.encode(), PHP_KEY) == "815a2f26ae9016f9a63ed79597442947"


def test_the_documented_webhook_verifies():
    gateway = CryptomusGateway({"merchant": MERCHANT, "api_key": PHP_KEY})
    incoming = Incoming(body=DOC_WEBHOOK.encode(), headers={}, form={}, query={}, remote_addr=WEBHOOK_IP)
    [report] = gateway.verify(incoming)
    assert report.outcome is Outcome.PAID
    assert report.amount == Decimal("3.00000000") and report.currency == "TRX"
    assert report.transaction_id == "62f88b36-a9d5-4fa6-aa26-e040c3dbf26d"
    assert report.deposit_id is None  # their example's order_id is not one of ours
    assert "sign" not in report.raw


# ------------------------------------------------------------------------------- start


def test_start_creates_a_signed_invoice_and_redirects_to_it(gateway, fake):
    checkout = gateway.start(start_request())
    call = fake.calls[-1]
    assert call.path == "/v1/payment"
    assert call.headers["merchant"] == MERCHANT
    assert call.headers["sign"] == signature(call.body, API_KEY)
    assert b"https:\\/\\/panel.example" in call.body  # encoded as their PHP SDK encodes it
    sent = json.loads(call.body)
    assert sent == {
        "amount": "10.50",
        "currency": "USD",
        "order_id": "42",
        "url_callback": "https://panel.example/payments/notify/7/",
        "url_return": "https://panel.example/add-funds/",
        "url_success": "https://panel.example/payments/return/7/",
    }
    invoice = fake.invoices[checkout.external_id]
    assert checkout.redirect_url == f"{fake.url}/pay/{invoice.uuid}"
    assert checkout.pay_address == "" and checkout.pay_amount is None
    assert checkout.expires_at.startswith(time.strftime("%Y-"))


def test_start_with_a_coin_gives_the_address_and_coin_amount_too(driver, fake):
    config = {**driver.config(), "to_currency": "btc", "network": "btc", "lifetime": "900"}
    gateway = CryptomusGateway(config, base_url=driver.base_url)
    checkout = gateway.start(start_request(amount="100.00"))
    sent = json.loads(fake.calls[-1].body)
    assert sent["to_currency"] == "BTC" and sent["network"] == "btc" and sent["lifetime"] == 900
    invoice = fake.invoices[checkout.external_id]
    assert checkout.redirect_url.endswith(invoice.uuid)
    assert checkout.pay_address == invoice.address == checkout.qr_payload
    assert checkout.pay_amount == Decimal("0.00125000") and checkout.pay_currency == "BTC"


def test_the_address_can_be_shown_in_the_panel_instead_of_a_redirect(driver, fake):
    config = {**driver.config(), "to_currency": "USDT", "network": "tron", "checkout": "address"}
    checkout = CryptomusGateway(config, base_url=driver.base_url).start(start_request())
    invoice = fake.invoices[checkout.external_id]
    assert checkout.redirect_url == ""
    assert (checkout.pay_address, checkout.pay_amount, checkout.pay_currency) == (
        invoice.address,
        Decimal("10.5"),
        "USDT",
    )
    assert checkout.qr_payload == invoice.address and checkout.expires_at
    assert "coin" in CryptomusGateway({**config, "to_currency": ""}).problem
    assert "page" in CryptomusGateway({**config, "checkout": "popup"}).problem


def test_start_twice_returns_the_same_invoice(gateway, fake):
    first = gateway.start(start_request())
    second = gateway.start(start_request())
    assert first.external_id == second.external_id and len(fake.invoices) == 1


def test_an_old_invoice_with_another_amount_under_the_same_order_id_is_refused(gateway, fake):
    gateway.start(start_request(amount="10.50"))
    with pytest.raises(GatewayError, match="already has an invoice"):
        gateway.start(start_request(amount="20.00"))


def test_order_prefix_keeps_panels_sharing_a_merchant_apart(driver, fake):
    panel_a = CryptomusGateway({**driver.config(), "order_prefix": "panelA-"}, base_url=driver.base_url)
    panel_b = CryptomusGateway({**driver.config(), "order_prefix": "panelB_"}, base_url=driver.base_url)
    a = panel_a.start(start_request(amount="10.50"))
    b = panel_b.start(start_request(amount="20.00"))
    assert a.external_id != b.external_id
    assert {i.order_id for i in fake.invoices.values()} == {"panelA-42", "panelB_42"}
    fake.pay(a.external_id)
    [report] = panel_a.verify(webhook(fake, a))
    assert report.deposit_id == 42
    # The other panel's order IDs are not its deposits.
    assert panel_b.deposit_of("panelA-42") is None
    with pytest.raises(GatewayError, match="prefix"):
        CryptomusGateway({**driver.config(), "order_prefix": "bad prefix"}).start(start_request())


@pytest.mark.parametrize(
    ("amount", "currency", "wire"),
    [("10.5", "USD", "10.50"), ("7", "EUR", "7.00"), ("1500", "JPY", "1500"), ("0.00012345", "BTC", "0.00012345")],
)
def test_wire_amounts(amount, currency, wire):
    assert wire_amount(Decimal(amount), currency) == wire


@pytest.mark.parametrize(
    ("amount", "currency"), [("10.505", "USD"), ("0", "USD"), ("-5", "USD"), ("1.5", "JPY"), ("0.123456789", "BTC")]
)
def test_start_refuses_amounts_the_currency_cannot_hold_without_calling(gateway, fake, amount, currency):
    with pytest.raises(GatewayError):
        gateway.start(start_request(amount=amount, currency=currency))
    assert fake.calls == []


def test_start_refuses_urls_cryptomus_would_refuse(gateway, fake):
    request = start_request()
    long_request = StartRequest(**{**request.__dict__, "notify_url": "https://panel.example/" + "x" * 300})
    with pytest.raises(GatewayError, match="255"):
        gateway.start(long_request)
    with pytest.raises(GatewayError, match="lifetime"):
        CryptomusGateway({**gateway_config(gateway), "lifetime": "60"}, base_url=fake.url).start(request)
    assert fake.calls == []


def gateway_config(gateway: CryptomusGateway) -> dict[str, str]:
    return {"merchant": gateway.merchant, "api_key": API_KEY}


def test_start_with_a_wrong_key_fails_without_telling_the_key(driver):
    wrong = "k" * 40
    gateway = CryptomusGateway({**driver.config(), "api_key": wrong}, base_url=driver.base_url)
    with pytest.raises(GatewayError) as caught:
        gateway.start(start_request())
    message = str(caught.value)
    assert "401" in message and "Invalid Sign" in message
    assert wrong not in message and API_KEY not in message


def test_validation_errors_are_reported_by_field(gateway, fake, monkeypatch):
    # The fake refuses an order ID Cryptomus would refuse; the module never sends one, so ask directly.
    status, answer = gateway._post("/v1/payment", {"amount": "1.00", "currency": "USD", "order_id": "a b"}, safe=True)
    assert status == 422
    with pytest.raises(GatewayError, match="order_id"):
        gateway._result(status, answer)


def test_unconfigured_method_refuses_to_start():
    with pytest.raises(GatewayError, match="not configured"):
        CryptomusGateway({}).start(start_request())


@pytest.mark.parametrize(
    ("setting", "value", "problem"),
    [
        ("webhook_ips", "91.227.144.54, nonsense", "source addresses"),
        ("lifetime", "60", "lifetime"),
        ("lifetime", "an hour", "lifetime"),
        ("order_prefix", "panel a/", "prefix"),
    ],
)
def test_wrong_settings_make_the_method_unconfigured_with_the_reason(setting, value, problem):
    good = CryptomusGateway({"merchant": MERCHANT, "api_key": API_KEY})
    assert good.configured and good.problem == ""
    assert not CryptomusGateway({"merchant": MERCHANT}).configured
    wrong = CryptomusGateway({"merchant": MERCHANT, "api_key": API_KEY, setting: value})
    assert not wrong.configured and problem in wrong.problem
    with pytest.raises(GatewayError, match=problem):
        wrong.start(start_request())


# ------------------------------------------------------------------------------- verify


def test_full_payment_is_paid_with_the_invoice_amount(gateway, fake):
    checkout = gateway.start(start_request())
    fake.pay(checkout.external_id)
    [report] = gateway.verify(webhook(fake, checkout))
    assert report.outcome is Outcome.PAID
    assert report.deposit_id == 42
    assert report.amount == Decimal("10.50") and report.currency == "USD"
    assert report.transaction_id == report.external_id == checkout.external_id
    assert report.event_id == f"{checkout.external_id}:paid:10.50000000"
    assert "sign" not in report.raw and report.raw["status"] == "paid"


def test_overpayment_is_paid_with_what_arrived(gateway, fake):
    checkout = gateway.start(start_request())
    fake.pay(checkout.external_id, amount=Decimal("12.25"))
    [report] = gateway.verify(webhook(fake, checkout))
    assert report.raw["status"] == "paid_over"
    assert report.outcome is Outcome.PAID and report.amount == Decimal("12.25")


def test_underpayment_is_partial_with_what_arrived(gateway, fake):
    checkout = gateway.start(start_request())
    fake.pay(checkout.external_id, amount=Decimal("4"))
    [report] = gateway.verify(webhook(fake, checkout))
    assert report.raw["status"] == "wrong_amount"
    assert report.outcome is Outcome.PARTIAL and report.amount == Decimal("4.00") and report.currency == "USD"


def test_a_payment_in_a_coin_is_reported_in_the_invoice_currency(gateway, fake):
    checkout = gateway.start(start_request(amount="100.00"))
    fake.pay(checkout.external_id, amount=Decimal("60"), coin="BTC")  # 0.00075 BTC of 0.00125 asked
    [report] = gateway.verify(webhook(fake, checkout))
    assert report.raw["payer_currency"] == "BTC" and report.raw["payment_amount"] == "0.00075000"
    assert report.outcome is Outcome.PARTIAL
    assert report.amount == Decimal("60.00") and report.currency == "USD"


def test_received_amounts_round_down_to_the_currency(gateway):
    data = {"payment_amount": "0.00033333", "payer_currency": "BTC", "payer_amount": "0.00100000"}
    assert gateway._received(data, Decimal("10.00"), "USD", Decimal("0.00033333")) == Decimal("3.33")
    # Without the asked coin amount, a USD invoice falls back on payment_amount_usd.
    usd = {"payer_currency": "BTC", "payment_amount_usd": "3.41"}
    assert gateway._received(usd, Decimal("10.00"), "USD", Decimal("0.0003")) == Decimal("3.41")
    assert gateway._received({"payer_currency": "BTC"}, Decimal("10.00"), "EUR", Decimal("0.0003")) is None


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("paid", Outcome.PAID),
        ("paid_over", Outcome.PAID),
        ("wrong_amount", Outcome.PARTIAL),
        ("process", Outcome.PENDING),
        ("check", Outcome.PENDING),
        ("confirm_check", Outcome.PENDING),
        ("wrong_amount_waiting", Outcome.PENDING),
        ("locked", Outcome.PENDING),
        ("fail", Outcome.FAILED),
        ("system_fail", Outcome.FAILED),
        ("cancel", Outcome.FAILED),
        ("refund_process", Outcome.IGNORED),
        ("refund_fail", Outcome.IGNORED),
        ("refund_paid", Outcome.REFUNDED),
        ("something_new", Outcome.IGNORED),
    ],
)
def test_every_documented_status_maps_to_an_outcome(gateway, fake, status, outcome):
    checkout = gateway.start(start_request())
    fake.pay(checkout.external_id)
    [report] = gateway.verify(webhook(fake, checkout, status=status))
    assert report.outcome is outcome
    assert report.deposit_id == 42 and report.transaction_id == checkout.external_id
    assert status in report.note


def test_a_refund_reports_the_refunded_amount(gateway, fake):
    checkout = gateway.start(start_request())
    fake.pay(checkout.external_id)
    [report] = gateway.verify(webhook(fake, checkout, status="refund_paid"))
    assert report.outcome is Outcome.REFUNDED and report.amount == Decimal("10.50") and report.currency == "USD"


def test_a_replayed_webhook_reports_the_same_event_and_transaction(gateway, fake):
    checkout = gateway.start(start_request())
    fake.pay(checkout.external_id)
    incoming = webhook(fake, checkout)
    first, second = gateway.verify(incoming), gateway.verify(incoming)
    assert first == second
    pending = gateway.verify(webhook(fake, checkout, status="confirm_check"))[0]
    assert pending.event_id != first[0].event_id and pending.transaction_id == first[0].transaction_id


def test_a_lookup_and_the_webhook_agree_on_the_event(gateway, fake):
    checkout = gateway.start(start_request())
    fake.pay(checkout.external_id)
    [from_webhook] = gateway.verify(webhook(fake, checkout))
    looked_up = gateway.lookup(
        LookupRequest(
            deposit_id=42, external_id=checkout.external_id, transaction_id="", amount=Decimal("10.50"), currency="USD"
        )
    )
    assert looked_up.event_id == from_webhook.event_id
    assert (looked_up.outcome, looked_up.amount, looked_up.currency) == (Outcome.PAID, Decimal("10.50"), "USD")


def test_a_tampered_amount_is_refused(driver, gateway, fake):
    checkout = gateway.start(start_request())
    driver.pay(checkout)
    with pytest.raises(BadNotification, match="signature"):
        gateway.verify(driver.tamper(driver.notification(checkout)))


def test_a_wrong_missing_or_foreign_signature_is_refused(gateway, fake):
    checkout = gateway.start(start_request())
    fake.pay(checkout.external_id)
    fields = fake.webhook_fields(fake.invoices[checkout.external_id])
    foreign = fake.signed_body(fields, key="another-merchants-key")  # another merchant's webhook
    unsigned = json.dumps(fields).encode()
    wrong = json.dumps({**fields, "sign": "0" * 32}).encode()
    not_text = json.dumps({**fields, "sign": 12345}).encode()
    for body in (foreign, unsigned, wrong, not_text):
        with pytest.raises(BadNotification):
            gateway.verify(Incoming(body=body, headers={}, form={}, query={}, remote_addr=WEBHOOK_IP))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"paid"',
        b'{"sign": "a", "sign": "b"}',
        b'{"amount": NaN, "sign": "x"}',
        b"\xff\xfe",
    ],
)
def test_malformed_bodies_are_refused(gateway, body):
    with pytest.raises(BadNotification):
        gateway.verify(Incoming(body=body, headers={}, form={}, query={}, remote_addr=WEBHOOK_IP))


def test_signed_but_incomplete_notifications_are_refused(gateway, fake):
    checkout = gateway.start(start_request())
    fields = fake.webhook_fields(fake.invoices[checkout.external_id])
    for name, value in (("uuid", None), ("status", ""), ("amount", "ten"), ("currency", None)):
        body = fake.signed_body({**fields, name: value})
        with pytest.raises(BadNotification):
            gateway.verify(Incoming(body=body, headers={}, form={}, query={}, remote_addr=WEBHOOK_IP))


def test_a_static_wallet_notification_is_acknowledged_and_ignored(gateway, fake):
    checkout = gateway.start(start_request())
    fields = {**fake.webhook_fields(fake.invoices[checkout.external_id]), "type": "wallet"}
    [report] = gateway.verify(
        Incoming(body=fake.signed_body(fields), headers={}, form={}, query={}, remote_addr=WEBHOOK_IP)
    )
    assert report.outcome is Outcome.IGNORED and report.deposit_id is None


def test_notifications_come_only_from_the_published_address(driver, fake):
    gateway = CryptomusGateway({"merchant": MERCHANT, "api_key": API_KEY}, base_url=driver.base_url)
    checkout = gateway.start(start_request())
    fake.pay(checkout.external_id)
    incoming = webhook(fake, checkout)
    assert gateway.verify(incoming)  # from 91.227.144.54, the default list
    for address in ("203.0.113.9", "", "not-an-ip"):
        with pytest.raises(BadNotification, match="not Cryptomus"):
            gateway.verify(Incoming(**{**incoming.__dict__, "remote_addr": address}))
    mapped = Incoming(**{**incoming.__dict__, "remote_addr": f"::ffff:{WEBHOOK_IP}"})
    assert gateway.verify(mapped)
    networks = CryptomusGateway({"merchant": MERCHANT, "api_key": API_KEY, "webhook_ips": "203.0.113.0/24"})
    assert networks.verify(Incoming(**{**incoming.__dict__, "remote_addr": "203.0.113.9"}))
    anywhere = CryptomusGateway({"merchant": MERCHANT, "api_key": API_KEY, "webhook_ips": "*"})
    assert anywhere.verify(Incoming(**{**incoming.__dict__, "remote_addr": "198.51.100.1"}))
    broken = CryptomusGateway({"merchant": MERCHANT, "api_key": API_KEY, "webhook_ips": "nonsense"})
    with pytest.raises(BadNotification, match="setting"):
        broken.verify(incoming)


def test_a_method_without_a_key_trusts_nothing(fake):
    with pytest.raises(BadNotification):
        CryptomusGateway({"merchant": MERCHANT}).verify(
            Incoming(body=DOC_WEBHOOK.encode(), headers={}, form={}, query={}, remote_addr=WEBHOOK_IP)
        )


def test_replies():
    gateway = CryptomusGateway({"merchant": MERCHANT, "api_key": API_KEY})
    ok = gateway.reply([])
    assert (ok.status, ok.body) == (200, "ok")
    refused = gateway.reply(None, BadNotification("bad"))
    assert refused.status == 400 and "bad" not in refused.body


# ------------------------------------------------------------------------------- lookup and test


def test_lookup_by_invoice_or_order_id(gateway, fake):
    checkout = gateway.start(start_request())
    by_order = LookupRequest(deposit_id=42, external_id="", transaction_id="", amount=Decimal("10.50"), currency="USD")
    report = gateway.lookup(by_order)
    assert report.outcome is Outcome.PENDING and report.amount is None and report.deposit_id == 42
    assert json.loads(fake.calls[-1].body) == {"order_id": "42"}
    fake.pay(checkout.external_id, amount=Decimal("3"))
    by_uuid = LookupRequest(
        deposit_id=42, external_id=checkout.external_id, transaction_id="", amount=Decimal("10.50"), currency="USD"
    )
    report = gateway.lookup(by_uuid)
    assert report.outcome is Outcome.PARTIAL and report.amount == Decimal("3.00")
    assert json.loads(fake.calls[-1].body) == {"uuid": checkout.external_id}


def test_lookup_of_an_unknown_invoice_is_none(gateway):
    unknown = LookupRequest(deposit_id=999, external_id="", transaction_id="", amount=Decimal("1"), currency="USD")
    assert gateway.lookup(unknown) is None


def test_test_connection_reads_the_balance(gateway, fake):
    text = gateway.test_connection()
    assert "0.57 BTC" in text and "5 USDT" in text
    call = fake.calls[-1]
    assert call.path == "/v1/balance" and call.body == b"" and call.headers["sign"] == signature(b"", API_KEY)


def test_test_connection_with_bad_credentials(driver):
    for config in ({**driver.config(), "api_key": "wrong-key-123456"}, {**driver.config(), "merchant": "someone"}):
        with pytest.raises(GatewayError) as caught:
            CryptomusGateway(config, base_url=driver.base_url).test_connection()
        assert "401" in str(caught.value)
        assert "wrong-key-123456" not in str(caught.value) and API_KEY not in str(caught.value)


def test_a_gateway_that_never_answers_fails_quickly():
    with silent_listener() as url:
        gateway = CryptomusGateway({"merchant": MERCHANT, "api_key": API_KEY}, base_url=url)
        gateway.timeout = 0.3
        began = time.monotonic()
        with pytest.raises(GatewayError, match="did not answer"):
            gateway.test_connection()
        with pytest.raises(GatewayError, match="did not answer"):
            gateway.start(start_request())
        assert time.monotonic() - began < 5


def test_an_unreachable_gateway_is_a_gateway_error():
    with silent_listener() as url:
        pass  # closed: nothing listens there any more
    gateway = CryptomusGateway({"merchant": MERCHANT, "api_key": API_KEY}, base_url=url)
    with pytest.raises(GatewayError, match="could not be reached"):
        gateway.test_connection()


def test_no_secret_in_errors_reports_or_repr(driver, gateway, fake):
    checkout = gateway.start(start_request())
    fake.pay(checkout.external_id)
    [report] = gateway.verify(webhook(fake, checkout))
    assert API_KEY not in json.dumps(report.raw) and API_KEY not in report.note
    assert API_KEY not in repr(gateway)
    messages = []
    for action in (
        lambda: gateway.verify(driver.tamper(webhook(fake, checkout))),
        lambda: CryptomusGateway({**driver.config(), "api_key": API_KEY[:-1]}, base_url=driver.base_url).start(
            start_request(7)
        ),
        lambda: gateway.start(start_request(amount="1.001")),
    ):
        with pytest.raises((BadNotification, GatewayError)) as caught:
            action()
        messages.append(str(caught.value))
    assert all(API_KEY[:16] not in message for message in messages)


# ------------------------------------------------------------------------------- the fake's page


def test_the_fakes_hosted_page_pays_the_invoice(gateway, fake):
    import requests

    checkout = gateway.start(start_request())
    page = requests.get(checkout.redirect_url, timeout=5)
    assert page.status_code == 200 and "Pay 10.50 USD" in page.text
    paid = requests.post(checkout.redirect_url, timeout=5, allow_redirects=False)
    assert paid.status_code == 303 and paid.headers["Location"] == "https://panel.example/payments/return/7/"
    assert fake.invoices[checkout.external_id].status == "paid"
