"""Generated requests against /api/v2: thousands of them, zero 5xx, zero answers outside the
documented shapes (the JSON Schemas of api/schema.py, also served in the OpenAPI document)."""

import json
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.ledger import ledger_credit
from accounts.models import User
from accounts.services import api_key_rotate
from api.answers import INCORRECT_REQUEST, KEY_IN_URL
from api.schema import ACTION_ANSWERS, REQUEST_FIELDS

from .conftest import Answer
from .shapes import errors

pytestmark = pytest.mark.django_db

FIELDS = [name for name in REQUEST_FIELDS if name not in ("key", "action")]
ACTIONS = [*ACTION_ANSWERS, "", "Status", "add ", "withdraw"]
HYPOTHESIS = settings(
    max_examples=1500,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def world(call, key, make_service, customer):
    """A catalog and orders of two customers, so that generated IDs often hit real rows."""
    services = [make_service(t) for t in ("Default", "Custom Comments", "Poll", "Subscriptions", "Package")]
    orders = []
    for n in range(5):
        service = services[0]
        answer = call(key, "add", service=service.pk, link=f"https://x.com/{n}", quantity=service.min)
        orders.append(answer.json["order"])
    someone = User.objects.create(username="fuzz-other")
    ledger_credit(user_id=someone.pk, amount=Decimal("5"), memo="funds")
    other_key = api_key_rotate(user=someone)
    other_order = call(other_key, "add", service=services[0].pk, link="https://x.com/o", quantity=services[0].min)
    ids = [str(i) for i in [*orders, other_order.json["order"], *(s.pk for s in services)]]
    return {"key": key, "other_key": other_key, "ids": ids}


def _ids(known):
    one = st.one_of(
        st.sampled_from(known),
        st.integers(-5, 10**20).map(str),
        st.text(max_size=12),
        st.sampled_from(["0", "007", "1e3", " 12 ", "١٢", "9" * 40, "-1"]),
    )
    return st.lists(one, max_size=110).map(",".join)


def _value(known):
    return st.one_of(
        st.text(max_size=40),
        st.integers(-(10**6), 10**25).map(str),
        st.sampled_from(["", "https://instagram.com/p/x", "a\nb\nc", "30", "1", "2", "01/01/2030"]),
        _ids(known),
    )


def _params(world):
    known = world["ids"]
    key = st.sampled_from([world["key"], world["key"], world["other_key"], "", "bad-key", None])
    action = st.sampled_from(ACTIONS)
    extra = st.dictionaries(st.sampled_from([*FIELDS, "junk", "key2"]), _value(known), max_size=6)
    return st.tuples(key, action, extra)


def _check(answer, action: str, valid_key: bool) -> None:
    assert answer.status in (200, 405, 429), (answer.status, answer.raw[:300])
    body = answer.json
    if isinstance(body, dict) and set(body) == {"error"}:
        assert isinstance(body["error"], str) and body["error"]
        return
    assert valid_key and action in ACTION_ANSWERS, (action, body)
    names = ACTION_ANSWERS[action]
    assert any(not errors(body, {"$ref": f"#/components/schemas/{name}"}) for name in names), (action, body)


def test_fuzz_form_and_query_requests(call, world):
    @HYPOTHESIS
    @given(data=_params(world), method=st.sampled_from(["post", "get"]))
    def run(data, method):
        key, action, extra = data
        if method == "get":
            query = {**extra, "action": action}
            if key is not None:
                query["key"] = key
            answer = call(method="get", query=query)
        else:
            answer = call(key, action, **extra)
        _check(answer, action.strip(), key in (world["key"], world["other_key"]))

    run()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def test_fuzz_json_bodies(client, world):
    @HYPOTHESIS
    @given(
        key=st.sampled_from([world["key"], "nope"]),
        action=st.sampled_from(ACTIONS),
        extra=st.dictionaries(
            st.sampled_from(FIELDS),
            st.one_of(JSON_VALUES, _value(world["ids"]), st.lists(st.sampled_from(world["ids"]))),
        ),
    )
    def run(key, action, extra):
        body = json.dumps({**extra, "key": key, "action": action})
        response = client.post("/api/v2", body, content_type="application/json")

        class Answer:
            status = response.status_code
            raw = response.content
            json = response.json()

        assert response["Content-Type"] == "application/json"
        _check(Answer, action, key == world["key"])

    run()


# Lone surrogates: json.loads accepts them from \u escapes, but they are not text.
SURROGATES = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"]), max_size=3)


def test_fuzz_json_bodies_with_text_that_is_not_unicode(client, world):
    @HYPOTHESIS
    @given(
        key=st.sampled_from([world["key"]]) | SURROGATES,
        action=st.sampled_from(ACTIONS) | SURROGATES,
        extra=st.dictionaries(st.sampled_from(FIELDS) | SURROGATES, _value(world["ids"]) | SURROGATES, max_size=4),
    )
    def run(key, action, extra):
        body = json.dumps({**extra, "key": key, "action": action})
        response = client.post("/api/v2", body, content_type="application/json")
        assert response.status_code in (200, 429), response.content[:300]
        assert response["Content-Type"] == "application/json"

    run()


STYLES = ["url-params-empty-body", "key-in-url", "text/plain", "no-content-type", "labelled-json"]


def test_fuzz_request_styles(client, world):
    """The request styles clients in the wild send, each with keys in URLs allowed or refused:
    POST with every parameter in the URL and an empty body, the key in the URL and the rest in
    a form body, and form bodies as text/plain, without a Content-Type or labelled JSON."""

    @HYPOTHESIS
    @given(
        data=_params(world),
        style=st.sampled_from(STYLES),
        allow_key_in_url=st.booleans(),
    )
    def run(data, style, allow_key_in_url):
        key, action, extra = data
        params = {**extra, "action": action}
        if key is not None:
            params["key"] = key
        with override_settings(API_ALLOW_KEY_IN_URL=allow_key_in_url):
            response = _send(client, style, params)
        in_url = style in ("url-params-empty-body", "key-in-url") and key is not None
        _check(Answer(response), action.strip(), key in (world["key"], world["other_key"]))
        if in_url and not allow_key_in_url and response.status_code == 200:
            # Refused, unless the request could not even be read.
            assert response.json()["error"] in (KEY_IN_URL, INCORRECT_REQUEST)

    run()


def _send(client, style: str, params: dict):
    if style == "url-params-empty-body":
        return client.generic("POST", "/api/v2?" + urlencode(params), b"", content_type="")
    if style == "key-in-url":
        in_url = {"key": params.pop("key")} if "key" in params else {}
        return client.post("/api/v2?" + urlencode(in_url), params)
    content_type = {"text/plain": "text/plain", "no-content-type": "", "labelled-json": "application/json"}[style]
    return client.generic("POST", "/api/v2", urlencode(params).encode(), content_type=content_type)


@pytest.mark.parametrize("content_type", ["", "text/plain", "application/json", "application/octet-stream"])
def test_fuzz_raw_bodies(client, world, content_type):
    """Whatever bytes come, under whatever label, the answer is JSON and never a 5xx."""
    form_like = st.builds(
        lambda key, rest: b"key=" + key.encode() + b"&" + rest,
        st.sampled_from([world["key"], "x"]),
        st.binary(max_size=40),
    )

    @settings(HYPOTHESIS, max_examples=300)
    @given(body=st.binary(max_size=80) | form_like)
    def run(body):
        response = client.generic("POST", "/api/v2", body, content_type=content_type)
        assert response.status_code in (200, 429), (body, response.content[:300])
        assert response["Content-Type"] == "application/json"
        assert json.loads(response.content)

    run()
