"""Fixtures for the API tests beyond the shared ones of testing/fixtures.py (a real simulator over
HTTP, a provider, a catalog, a customer): the customer's API key and a caller that checks every
answer is JSON."""

import json

import pytest
from django.utils import translation

from accounts.services import api_key_rotate
from api import throttling


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):
    # Every test starts with empty counters and limits no test reaches unless it lowers them.
    settings.API_RATE_LIMITS = {"key": (100_000, 60), "ip": (100_000, 60)}
    throttling.reset()
    yield
    throttling.reset()


@pytest.fixture(autouse=True)
def _language_reset():
    """Each test starts and ends in the default language: LocaleMiddleware leaves a request's
    language active in the thread."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def key(customer):
    return api_key_rotate(user=customer)


class Answer:
    def __init__(self, response):
        self.response = response
        self.status = response.status_code
        self.raw = response.content
        assert response["Content-Type"] == "application/json", (self.status, self.raw[:200])
        self.json = json.loads(self.raw)


@pytest.fixture
def call(client):
    """call(key, action, method="post", json_body=False, headers=None, **params) -> Answer."""

    def do(key=None, action=None, *, method="post", json_body=False, headers=None, query=None, **params):
        data = dict(params)
        if key is not None:
            data["key"] = key
        if action is not None:
            data["action"] = action
        path = "/api/v2"
        if query:
            from urllib.parse import urlencode

            path += "?" + urlencode(query)
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in (headers or {}).items()}
        if method == "get":
            return Answer(client.get(path, data, **extra))
        if json_body:
            return Answer(client.post(path, json.dumps(data), content_type="application/json", **extra))
        return Answer(client.post(path, data, **extra))

    return do


@pytest.fixture
def _short_lived_connections():
    # The live server answers each request on a new thread; with persistent connections those
    # threads would keep sessions open and block dropping the test database at the end.
    from django.db import connections

    shared = connections.settings["default"]
    before = shared["CONN_MAX_AGE"]
    shared["CONN_MAX_AGE"] = 0
    yield
    shared["CONN_MAX_AGE"] = before
