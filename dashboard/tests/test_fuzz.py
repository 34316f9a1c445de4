"""Hostile GET and POST parameters against every dashboard URL (enumerated from dashboard/urls.py),
as a logged-in customer: never a 5xx, never a redirect off this host, and a request that is not
answered with a redirect (how every dashboard write says "done") writes no row.

Two passes: a sweep sending every known parameter at once with each hostile value, then generated
mixes of parameters and values (a bounded number: a few seconds each)."""

import re
from decimal import Decimal
from urllib.parse import quote as urlquote

import pytest
import responses
from django.db import connection
from django.urls import URLPattern
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.ledger import ledger_credit
from accounts.models import LedgerEntry, User
from billing.models import Deposit, DepositRequest, PaymentMethod
from dashboard.forms import (
    DepositForm,
    GatewayDepositForm,
    MassOrderForm,
    OrderFilterForm,
    OrderForm,
    ReplyForm,
    TicketForm,
    TimezoneForm,
)
from dashboard.urls import urlpatterns
from orders.models import CancelRequest, Order, Refill, Status
from orders.placement import order_place
from support.models import Ticket, TicketMessage

pytestmark = pytest.mark.django_db

SESSIONS_URL = "https://api.stripe.com/v1/checkout/sessions"
CHECKOUT_URL = "https://checkout.stripe.com/c/pay/cs_fuzz"
# Every parameter a dashboard view or form reads.
PARAMS = sorted(
    {
        *OrderForm.base_fields,
        *MassOrderForm.base_fields,
        *OrderFilterForm.base_fields,
        *DepositForm.base_fields,
        *TicketForm.base_fields,
        *ReplyForm.base_fields,
        *TimezoneForm.base_fields,
        # The gateway deposit form's fields carry the method's ID (the Stripe method is among the first).
        *(f"m{pk}-{name}" for name in GatewayDepositForm.base_fields for pk in (1, 2, 3)),
        "action",
        "cancelled",
        "category",
        "kind",
        "next",
        "order",
        "page",
        "placed",
        "q",
        "service_pick",
        "status",
    }
)
HOSTILE = [
    "9" * 32,
    "-" + "9" * 32,
    "9" * 5000,
    "-1",
    "0",
    "00001",
    "1.5",
    "1,5",
    "NaN",
    "-Infinity",
    "Infinity",
    "1e999",
    "0x10",
    "1_000",
    "١٢",
    "²",
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x07",
    "a\rb\u2028c\nd",
    "\u202e",
    "😀" * 50,
    "../../etc/passwd",
    "..\\..\\",
    "//evil.example/",
    "https://evil.example/",
    "/\\evil.example",
    "javascript:alert(1)",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%00",
    "99999-12-31",
    "2024-02-30",
    "x" * 20_001,
    "on",
    "null",
]
OFF_SITE = re.compile(r"^(//|/\\|\\|[a-z][a-z0-9+.-]*:)", re.IGNORECASE)
WRITES = (Order, LedgerEntry, DepositRequest, Ticket, TicketMessage, Deposit, Refill, CancelRequest)
HYPOTHESIS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def world(logged_in, customer, make_service, stripe_on):
    """Rows of the customer's and of someone else's, so that generated IDs often hit real ones."""
    services = [
        make_service("Default", cancel=True),
        make_service("Default", dripfeed=True),
        make_service("Custom Comments"),
        make_service("Subscriptions"),
        make_service("Poll"),
        make_service("Package"),
    ]
    own = [
        order_place(
            user=customer, service_id=services[0].pk, data={"link": f"https://x.com/{n}", "quantity": services[0].min}
        ).order
        for n in range(3)
    ]
    Order.objects.filter(pk=own[0].pk).update(status=Status.COMPLETED)
    someone = User.objects.create(username="fuzz-other")
    ledger_credit(user_id=someone.pk, amount=Decimal("50"), memo="funds")
    theirs = order_place(
        user=someone, service_id=services[0].pk, data={"link": "https://x.com/o", "quantity": services[0].min}
    ).order
    tickets = [
        Ticket.objects.create(user=customer, subject="mine", topic=Ticket.Topic.OTHER),
        Ticket.objects.create(user=someone, subject="theirs", topic=Ticket.Topic.OTHER),
    ]
    method = PaymentMethod.objects.create(name="Bank", kind=PaymentMethod.Kind.MANUAL, enabled=True)
    card = PaymentMethod.objects.get(kind=PaymentMethod.Kind.STRIPE)
    payments = [
        Deposit.objects.create(
            user=user, method=card, gateway="stripe", amount=Decimal("20"), charge_amount=20, charge_currency="USD"
        )
        for user in (customer, someone)
    ]
    ids = [str(row.pk) for row in [*services, *own, theirs, *tickets, method, *payments]]
    return {"client": logged_in, "ids": ids, "services": [str(s.pk) for s in services]}


def _paths(ids: list[str]) -> dict[str, list[str]]:
    """Each dashboard URL by name, with every way we fill its path parameters."""
    fillers = {
        "int": [*ids, "0", "9" * 32],
        "str": ["Ab1_-x9Z", "a\x00b", "..", "<x>", "x" * 300, "😀"],
    }
    paths = {}
    for pattern in urlpatterns:
        assert isinstance(pattern, URLPattern)
        route = str(pattern.pattern)
        converters = re.findall(r"<(\w+):\w+>", route)
        assert len(converters) <= 1, route
        if not converters:
            paths[pattern.name] = ["/" + route]
            continue
        paths[pattern.name] = [
            "/" + re.sub(r"<\w+:\w+>", urlquote(value, safe=""), route) for value in fillers[converters[0]]
        ]
    return paths


def _counts() -> dict[str, int]:
    """The number of rows of every table a dashboard request may write to, in one query."""
    tables = [model._meta.db_table for model in WRITES]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(f'(SELECT count(*) FROM "{table}")' for table in tables))
        counts = cursor.fetchone()
    return {model.__name__: count for model, count in zip(WRITES, counts, strict=True)}


def _send(client, method: str, path: str, params: dict):
    if method == "get":
        return client.get(path, params)
    return client.post(path, params)


def _check(response, before: dict[str, int], what) -> None:
    assert response.status_code < 500, what
    # 303: a gateway's cross-site POST back to the deposit return page, sent on to its GET.
    assert response.status_code in (200, 302, 303, 400, 404, 405), (response.status_code, what)
    if response.status_code in (302, 303):
        location = response["Location"]
        assert location == CHECKOUT_URL or not OFF_SITE.match(location) or location.startswith("http://testserver/"), (
            location,
            what,
        )
        return
    after = _counts()
    allowed = {}
    results = (response.context or {}).get("results") if response.status_code == 200 else None
    if results:
        # Mass order: the lines it reports as placed are the only orders (and charges) written.
        created = [row["order"] for row in results if row["created"]]
        allowed = {"Order": len(created), "LedgerEntry": sum(1 for order in created if order.charge > 0)}
    for name, count in before.items():
        assert after[name] - count == allowed.get(name, 0), (name, what)


@pytest.fixture
def stripe_faked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(
            responses.POST,
            SESSIONS_URL,
            json={"id": "cs_fuzz", "object": "checkout.session", "url": CHECKOUT_URL},
        )
        yield mock


def test_every_url_with_every_parameter_set_to_each_hostile_value(world, stripe_faked):
    client = world["client"]
    for u, (name, paths) in enumerate(_paths(world["ids"]).items()):
        for n, value in enumerate(HOSTILE):
            # With a real service the order form is reached and every field parsed.
            params = {param: value for param in PARAMS}
            if name.startswith("order"):
                params["service"] = world["services"][n % len(world["services"])]
            # GET and POST in turn (each value is sent both ways, to different URLs), and each
            # way of filling the path; the generated test below mixes the rest.
            method = ("get", "post")[(n + u) % 2]
            path = paths[(n // 2) % len(paths)]
            before = _counts()
            _check(_send(client, method, path, params), before, (method, path, repr(value)[:80]))


def _value(ids: list[str]):
    one = st.one_of(
        st.sampled_from(HOSTILE),
        st.sampled_from(ids),
        st.integers(-(10**40), 10**40).map(str),
        st.text(max_size=30),
    )
    return st.one_of(one, st.lists(one, min_size=2, max_size=3))


def test_generated_mixes_of_parameters(world, stripe_faked):
    client = world["client"]
    paths = _paths(world["ids"])
    names = sorted(paths)

    @HYPOTHESIS
    @given(
        name=st.sampled_from(names),
        which=st.integers(0, 20),
        method=st.sampled_from(["get", "post"]),
        service=st.one_of(st.sampled_from(world["services"]), _value(world["ids"])),
        params=st.dictionaries(st.sampled_from(PARAMS), _value(world["ids"]), max_size=8),
    )
    def run(name, which, method, service, params):
        path = paths[name][which % len(paths[name])]
        params = {"service": service, **params}
        before = _counts()
        _check(_send(client, method, path, params), before, (method, path, params))

    run()
