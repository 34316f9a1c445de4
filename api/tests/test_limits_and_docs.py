"""Rate limits, the documentation page with key management, and the OpenAPI document."""

import json
import re

import pytest

from accounts.services import api_key_rotate, user_by_api_key
from api import schema

from .shapes import check

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    # Pages link stylesheets through the manifest storage, whose manifest only exists after
    # collectstatic; these tests are about the page's content.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def test_per_key_limit_answers_429_in_the_protocols_shape(call, key, settings):
    settings.API_RATE_LIMITS = {"key": (3, 60), "ip": (100, 60)}
    for _ in range(3):
        assert call(key, "balance").status == 200
    limited = call(key, "balance")
    assert limited.status == 429
    assert limited.raw == b'{"error":"Too many requests"}'
    assert 1 <= int(limited.response["Retry-After"]) <= 60
    # Another key from the same address is still served.
    other = api_key_rotate(user=type(user_by_api_key(key)).objects.create(username="other"))
    assert call(other, "balance").status == 200


def test_per_ip_limit_counts_every_key_even_invalid_ones(call, key, settings):
    settings.API_RATE_LIMITS = {"key": (100, 60), "ip": (3, 60)}
    for attempt in range(3):
        assert call(f"guess-{attempt}", "balance").json == {"error": "Invalid API key"}
    assert call(key, "balance").status == 429


def test_rate_limited_requests_touch_no_database(call, key, settings, django_assert_num_queries):
    settings.API_RATE_LIMITS = {"key": (1, 60), "ip": (100, 60)}
    call(key, "balance")
    with django_assert_num_queries(0):
        assert call(key, "balance").status == 429


def test_docs_page_for_visitors(client):
    page = client.get("/api/").content.decode()
    assert "http://testserver/api/v2" in page
    assert "Log in" in page
    for action in schema.actions():
        assert f'id="action-{action["id"]}"' in page
    for text, _ in schema.ERRORS:
        assert text.replace("'", "&#x27;").replace("<", "&lt;").replace(">", "&gt;") in page
    assert "Python example" in page and "PHP example" in page


def test_docs_examples_are_the_served_shapes():
    for action in schema.actions():
        check(action["answer"], action["schema"])
    answers = {a["id"]: a["answer"] for a in schema.actions()}
    # The reference's own examples, verbatim.
    assert answers["services"][0] == {
        "service": 1,
        "name": "Followers",
        "type": "Default",
        "category": "First Category",
        "rate": "0.90",
        "min": "50",
        "max": "10000",
        "refill": True,
        "cancel": True,
        "dripfeed": False,
    }
    assert answers["services"][1]["rate"] == "8"
    assert answers["add"] == {"order": 23501}
    assert answers["refill"] == {"refill": "1"}
    assert answers["cancel"] == [{"order": 9, "cancel": {"error": "Incorrect order ID"}}, {"order": 2, "cancel": 1}]
    assert answers["balance"] == {"balance": "100.84292", "currency": "USD"}


def test_key_management_shows_the_prefix_and_a_rotated_key_once(client, customer, key):
    client.force_login(customer)
    page = client.get("/api/").content.decode()
    assert key[:8] in page and key not in page
    rotated = client.post("/api/key/rotate")
    assert rotated["Cache-Control"] == "no-store"
    new_key = re.search(r'<code id="new-key">([0-9a-f]{48})</code>', rotated.content.decode()).group(1)
    assert user_by_api_key(new_key) == customer
    assert user_by_api_key(key) is None
    assert new_key not in client.get("/api/").content.decode()


def test_rotation_needs_a_login_and_a_post(client, customer):
    assert client.post("/api/key/rotate").status_code == 302
    client.force_login(customer)
    assert client.get("/api/key/rotate").status_code == 405


def test_rotation_is_csrf_protected(customer):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(customer)
    assert strict.post("/api/key/rotate").status_code == 403


def test_openapi_document(client):
    document = client.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.")
    operation = document["paths"]["/api/v2"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/x-www-form-urlencoded", "application/json"}
    assert set(document["components"]["schemas"]) >= {"Error", "ServiceList", "StatusMap", "CancelList"}
    # Every $ref resolves.
    for ref in re.findall(r'"\$ref": "#/components/schemas/(\w+)"', json.dumps(document)):
        assert ref in document["components"]["schemas"]
