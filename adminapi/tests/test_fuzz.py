"""Generated requests against every Admin API resource (Hypothesis, as api/tests/test_fuzz.py does):
hostile paths, query strings, bodies, keys and methods; zero 5xx, every answer JSON in the
documented envelope, and the ledger still adds up."""

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.ledger import ledger_drift
from orders.cancels import cancel_request
from orders.models import CancelRequest
from orders.placement import order_place
from testing.manual import make_manual_service

from .conftest import Answer, staff_with_token

pytestmark = pytest.mark.django_db

HYPOTHESIS = settings(
    max_examples=1200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PATHS = [
    "orders",
    "orders/{order}",
    "orders/pull",
    "orders/update",
    "orders/{order}/take",
    "orders/{order}/release",
    "refills",
    "refills/{refill}/resolve",
    "cancels",
    "cancels/{cancel}/resolve",
    "customers",
    "customers/{customer}",
    "customers/{customer}/balance",
    "services",
    "services/{service}",
    "providers",
]
FIELDS = [
    "status",
    "version",
    "start_count",
    "remains",
    "reason",
    "limit",
    "offset",
    "service_ids",
    "lease_seconds",
    "orders",
    "action",
    "amount",
    "idempotency_key",
    "fixed_rate",
    "markup_percent",
    "manual_cost",
    "enabled",
    "provider",
    "user",
    "customer_id",
    "date_from",
    "date_to",
    "link",
    "ids",
    "sort",
    "search",
    "is_active",
    "manual",
    "order_id",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "1e999",
            "NaN",
            "Infinity",
            "completed",
            "in_progress",
            "Partial",
            "canceled",
            "accept",
            "refuse",
            "true",
            "2026-01-31",
            "2026-13-45T99:99",
            "1,2,3",
            "9" * 40,
            "\x00",
            "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
            "manual",
            "0.000001",
            "-99999999999999999",
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture
def world(customer):
    service = make_manual_service()
    orders = [
        order_place(user=customer, service_id=service.pk, data={"link": f"https://e.com/{n}", "quantity": 100}).order
        for n in range(4)
    ]
    cancel_request(user_id=customer.pk, order_ids=[orders[3].pk])
    _, admin_key = staff_with_token("fuzz-admin", "Admin")
    _, support_key = staff_with_token("fuzz-support", "Support")
    return {
        "ids": {
            "order": orders[0].pk,
            "refill": 1,
            "cancel": CancelRequest.objects.get().pk,
            "customer": customer.pk,
            "service": service.pk,
        },
        "keys": [admin_key, admin_key, admin_key, support_key, "", "x" * 48, None],
    }


def _path_id(known: int):
    return st.one_of(st.just(str(known)), st.integers(0, 2**64).map(str), st.sampled_from(["-1", "abc", "1.5", "%00"]))


@HYPOTHESIS
@given(data=st.data())
def test_no_request_gets_a_5xx(world, data):
    client = Client()
    template = data.draw(st.sampled_from(PATHS))
    path = template
    for name, known in world["ids"].items():
        if "{" + name + "}" in path:
            path = path.replace("{" + name + "}", data.draw(_path_id(known)))
    method = data.draw(st.sampled_from(["get", "post", "patch", "put", "delete"]))
    key = data.draw(st.sampled_from(world["keys"]))
    headers = {} if key is None else {"HTTP_X_API_KEY": key}
    if data.draw(st.booleans()):
        headers["HTTP_IF_MATCH"] = data.draw(st.text(max_size=20).filter(lambda t: "\n" not in t and "\r" not in t))
    fields = data.draw(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=6))
    url = f"/adminapi/v2/{path}"
    style = data.draw(st.sampled_from(["json", "form", "raw", "query"]))
    if method == "get" or style == "query":
        query = {name: json.dumps(value) if not isinstance(value, str) else value for name, value in fields.items()}
        response = (
            getattr(client, method)(url, query, **headers)
            if method == "get"
            else client.generic(method.upper(), url + "?" + "&".join(f"{k}={v}" for k, v in query.items()), **headers)
        )
    elif style == "json":
        body = data.draw(st.one_of(st.just(fields), VALUES))
        response = client.generic(method.upper(), url, json.dumps(body), content_type="application/json", **headers)
    elif style == "form":
        form = {name: str(value) for name, value in fields.items()}
        response = client.generic(
            method.upper(),
            url,
            "&".join(f"{k}={v}" for k, v in form.items()),
            content_type="application/x-www-form-urlencoded",
            **headers,
        )
    else:
        raw = data.draw(st.binary(max_size=60))
        ctype = data.draw(st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""]))
        response = client.generic(method.upper(), url, raw, content_type=ctype, **headers)
    assert response.status_code < 500, (method, url, style, response.content[:300])
    Answer(response)  # JSON, in the envelope (success) or {"error", "error_code"}


def test_the_ledger_still_adds_up_after_fuzzing(world):
    assert ledger_drift() == []
