"""Every way clients in the wild send a call reaches the same action: form or JSON bodies, GET
with the query string, POST with the parameters in the URL and an empty body (what
`requests.post(url, params=...)` sends), and form bodies sent as text/plain or without a
Content-Type. Keys in URLs are accepted unless API_ALLOW_KEY_IN_URL is off."""

import logging
from urllib.parse import urlencode

import pytest
import requests
from django.db import connection

from orders.models import Order

pytestmark = pytest.mark.django_db

KEY_IN_URL_REFUSED = {"error": "Send the API key in the POST body, not in the URL"}


@pytest.fixture
def default(make_service):
    return make_service("Default", dripfeed=False, refill=False, cancel=True)


def _add_params(service, link="https://x.com/a"):
    return {"action": "add", "service": str(service.pk), "link": link, "quantity": str(service.min)}


def _send(client, style: str, params: dict):
    """One call in the given style, through Django's test client."""
    body = urlencode(params)
    if style == "form":
        return client.post("/api/v2", params)
    if style == "json":
        return client.post("/api/v2", params, content_type="application/json")
    if style == "get":
        return client.get("/api/v2?" + body)
    if style == "url-params-empty-body":
        return client.generic("POST", "/api/v2?" + body, b"", content_type="")
    if style == "key-in-url-rest-in-body":
        key = {"key": params["key"]}
        rest = {name: value for name, value in params.items() if name != "key"}
        return client.post("/api/v2?" + urlencode(key), rest)
    if style == "text/plain":
        return client.post("/api/v2", body, content_type="text/plain")
    if style == "no-content-type":
        return client.generic("POST", "/api/v2", body.encode(), content_type="")
    if style == "form-labelled-json":
        return client.post("/api/v2", body, content_type="application/json")
    if style == "json-as-text/plain":
        import json

        return client.post("/api/v2", json.dumps(params), content_type="text/plain")
    raise AssertionError(style)


STYLES = [
    "form",
    "json",
    "get",
    "url-params-empty-body",
    "key-in-url-rest-in-body",
    "text/plain",
    "no-content-type",
    "form-labelled-json",
    "json-as-text/plain",
]
URL_STYLES = {"get", "url-params-empty-body", "key-in-url-rest-in-body"}


@pytest.mark.parametrize("style", STYLES)
def test_every_request_style_places_an_order(client, key, default, style):
    response = _send(client, style, {"key": key, **_add_params(default)})
    assert response.status_code == 200
    order = Order.objects.get()
    assert response.content == b'{"order":%d}' % order.pk
    assert order.source == "api"


@pytest.mark.parametrize("style", STYLES)
def test_every_request_style_reads_and_cancels(client, key, default, style):
    order_id = client.post("/api/v2", {"key": key, **_add_params(default)}).json()["order"]
    balance = _send(client, style, {"key": key, "action": "balance"})
    assert balance.json() == {"balance": balance.json()["balance"], "currency": "USD"}
    status = _send(client, style, {"key": key, "action": "status", "order": str(order_id)})
    assert status.json()["status"] == "Pending"
    cancel = _send(client, style, {"key": key, "action": "cancel", "orders": str(order_id)})
    assert cancel.json() == [{"order": order_id, "cancel": cancel.json()[0]["cancel"]}]
    assert isinstance(cancel.json()[0]["cancel"], int)


@pytest.mark.parametrize("style", sorted(URL_STYLES))
@pytest.mark.parametrize("action", ["add", "status", "balance", "services", "refill", "refill_status", "cancel"])
def test_keys_in_urls_can_be_refused_for_every_action(client, key, default, settings, style, action):
    settings.API_ALLOW_KEY_IN_URL = False
    params = {"key": key, **_add_params(default), "action": action, "order": "1", "orders": "1", "refill": "1"}
    response = _send(client, style, params)
    assert response.status_code == 200
    assert response.json() == KEY_IN_URL_REFUSED
    assert not Order.objects.exists()


def test_with_keys_in_urls_refused_the_body_still_works(client, key, default, settings):
    settings.API_ALLOW_KEY_IN_URL = False
    for style in set(STYLES) - URL_STYLES:
        Order.objects.all().delete()
        assert set(_send(client, style, {"key": key, **_add_params(default)}).json()) == {"order"}, style


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b"hello world"),
        ("", b"\xff\xfe"),
        ("application/octet-stream", b"{not json"),
        ("text/plain", b'["key", "action"]'),
    ],
)
def test_bodies_that_are_neither_form_nor_json(client, content_type, body):
    response = client.generic("POST", "/api/v2", body, content_type=content_type)
    assert response.status_code == 200 and response.json() == {"error": "Incorrect request"}


@pytest.mark.parametrize("body", ['{"key": "\\ud800", "action": "balance"}', '{"key": "k", "action": "\\udfff"}'])
def test_values_that_are_not_unicode_text_are_refused(client, body):
    # A lone surrogate passes json.loads but cannot be encoded: refused, never a 500.
    response = client.post("/api/v2", body, content_type="application/json")
    assert response.status_code == 200 and response.json() == {"error": "Incorrect request"}


def test_a_lone_surrogate_in_an_add_parameter_is_refused(client, key, default):
    body = '{"key": "%s", "action": "add", "service": %d, "link": "https://x.com/\\ud800", "quantity": %d}'
    response = client.post("/api/v2", body % (key, default.pk, default.min), content_type="application/json")
    assert response.status_code == 200 and response.json() == {"error": "Incorrect request"}
    assert not Order.objects.exists()


def test_an_unexpected_failure_never_logs_the_key(client, key, default, caplog):
    # A real fault inside the request (the table the add needs is gone, inside this test's
    # transaction only): the answer is the 500 JSON, and the API's log carries no key.
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {Order._meta.db_table} RENAME TO broken_orders")
    with caplog.at_level(logging.DEBUG, logger="api"):
        response = client.post("/api/v2?" + urlencode({"key": key}), _add_params(default))
    assert response.status_code == 500
    assert response.json()["error"].startswith("Internal error")
    records = [r for r in caplog.records if r.name.startswith("api")]
    assert records
    for record in records:
        assert key not in record.getMessage()
        assert not record.exc_info or key not in logging.Formatter().formatException(record.exc_info)


def test_the_failure_log_blanks_the_key_wherever_the_error_repeats_it(key, caplog):
    from api.apis import log_unexpected

    try:
        raise ValueError(f"could not use {key!r} for that")
    except ValueError as exc:
        with caplog.at_level(logging.DEBUG, logger="api"):
            log_unexpected(exc, sent_key=key)
    (record,) = [r for r in caplog.records if r.name.startswith("api")]
    text = record.getMessage() + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
    assert key not in text and "could not use" in text and "[redacted]" in text


# --- The same over real HTTP, with the requests library as clients send them ----------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_short_lived_connections")
def test_requests_library_styles_against_a_live_server(live_server, key, default):
    url = live_server.url + "/api/v2"
    placed = []
    with requests.Session() as http:
        for n, send in enumerate(
            [
                lambda p: http.post(url, params=p, timeout=10),
                lambda p: http.get(url, params=p, timeout=10),
                lambda p: http.post(url, data=p, timeout=10),
                lambda p: http.post(url, json=p, timeout=10),
                lambda p: http.post(url, data=urlencode(p), headers={"Content-Type": "text/plain"}, timeout=10),
                lambda p: http.post(url, data=urlencode(p).encode(), timeout=10),  # no Content-Type
            ]
        ):
            response = send({"key": key, **_add_params(default, link=f"https://x.com/{n}")})
            assert response.status_code == 200, (n, response.text)
            assert set(response.json()) == {"order"}, (n, response.text)
            placed.append(response.json()["order"])
        ids = ",".join(map(str, placed))
        statuses = http.get(url, params={"key": key, "action": "status", "orders": ids}, timeout=10).json()
    assert list(statuses) == [str(pk) for pk in placed]
    assert Order.objects.filter(pk__in=placed).count() == len(placed)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_short_lived_connections")
def test_requests_library_key_in_url_refused_when_configured(live_server, key, default, settings):
    settings.API_ALLOW_KEY_IN_URL = False
    url = live_server.url + "/api/v2"
    params = {"key": key, **_add_params(default)}
    assert requests.post(url, params=params, timeout=10).json() == KEY_IN_URL_REFUSED
    assert requests.get(url, params=params, timeout=10).json() == KEY_IN_URL_REFUSED
    assert set(requests.post(url, data=params, timeout=10).json()) == {"order"}


def test_every_answer_advertises_that_add_honours_idempotency_keys(client, plain_static_storage):
    for data in ({"action": "balance"}, {"key": "wrong", "action": "balance"}, {}):
        response = client.post("/api/v2", data)
        assert response["Idempotency-Keys"] == "honoured"
    assert b"Idempotency-Keys: honoured" in client.get("/api/").content
