"""Every URL and every API action, tried across panels: nothing of panel X is reachable on panel Y.

Panel X (child_a) holds a customer, an API key, a service, an order, a refill, a ticket, a
payment method, a deposit, a staff user and an Admin API token, each named with a marker string.
Panel Y (child_b) has its own customer, staff user, API key and token. Each URL of the resolver
(walked, so a URL added later is covered or makes `test_every_object_bearing_url_has_a_case`
fail) is tried on Y's host:

- with Y's session (customer or staff) and X's IDs: the answer must be exactly the answer for
  an ID that exists nowhere (status and redirect target), and no marker of X may appear;
- with X's session cookie (customer or staff) and X's Admin API token: the answer must be the
  anonymous visitor's (or the unknown token's).

Each schema's sequences start at 1, so IDs would collide: X's sequences are moved to 5,000,000
first, so every object made for the test has an ID that Y does not have.
"""

from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tenants.tests.conftest import CHILDREN

X, Y = "child_a", "child_b"
X_HOST, Y_HOST = CHILDREN[X], CHILDREN[Y]
MISSING = 999_999_999
MARK = "xmark7q"  # in every name, subject and link of X's objects
SEQUENCE_FLOOR = 5_000_000

# Parameters that do not name a stored object of the panel: signed or random tokens, a cache
# busting version, the admin's own catch-alls.
NOT_OBJECTS = {
    "dashboard:notifications_unsubscribe": "a signed token, checked against this panel's users",
    "site_pages:logo": "the branding's version number, not an object",
    "captcha-image": "a captcha key in this panel's cache",
    "captcha-image-2x": "a captcha key in this panel's cache",
    "captcha-audio": "a captcha key in this panel's cache",
    "account_confirm_email": "a signed e-mail confirmation key",
    "account_reset_password_from_key": "a signed password reset key",
    "admin:app_list": "an app label, not an object",
}
# Unnamed patterns with parameters, by route.
UNNAMED_NOT_OBJECTS = {
    "adminapi/v2/^(?P<rest>.*)$": "the Admin API's 404 catch-all",
    "admin/^(?P<old_app>dashboard|backoffice)/(?P<model>[a-z]+)/(?P<rest>.*)$": "redirects of old admin addresses",
    "admin/(?P<url>.*)$": "the admin's catch-all",
}


def unnamed_not_object(route: str) -> bool:
    # Django's admin keeps `<app>/<model>/<id>/` as a redirect to the change page, covered there.
    return route in UNNAMED_NOT_OBJECTS or route.endswith("/<path:object_id>/")


def walk(patterns, prefix="", namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = pattern.name and (f"{namespace}:{pattern.name}" if namespace else pattern.name)
            yield prefix + str(pattern.pattern), name, pattern.pattern.regex.groupindex


def admin_model_urls() -> dict[str, type]:
    """Every admin URL name that belongs to a registered model, with that model."""
    names = {}
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        for pattern in model_admin.urls:
            if isinstance(pattern, URLPattern) and pattern.name:
                names[f"admin:{pattern.name}"] = model
        for suffix in ("change", "delete", "history"):
            names[f"admin:{opts.app_label}_{opts.model_name}_{suffix}"] = model
    return names


def object_urls() -> list[tuple[str, str | None, list[str]]]:
    return [(route, name, list(groups)) for route, name, groups in walk(get_resolver().url_patterns) if groups]


def where(response, value=None) -> tuple[int, str]:
    """What a visitor sees of an answer: the status and where a redirect leads (without its query,
    which repeats the requested path; the requested ID in it written as N)."""
    path = urlsplit(response.get("Location", "")).path
    if value is not None:
        path = path.replace(str(value), "N")
    return response.status_code, path


def assert_no_marker(response, what: str) -> None:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert MARK.encode() not in body.lower(), what


def sequences_above_floor(schema: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(quote_ident(schemaname) || '.' || quote_ident(sequencename), %s) "
            "FROM pg_sequences WHERE schemaname = %s AND coalesce(last_value, 0) < %s",
            [SEQUENCE_FLOOR, schema, SEQUENCE_FLOOR],
        )


@pytest.fixture
def world(children, in_schema, make_customer):
    """X's objects (all with IDs Y does not have) and both panels' users, sessions and keys."""
    from django.contrib.contenttypes.models import ContentType

    from accounts.models import User
    from adminapi.services import token_issue
    from billing.models import PaymentMethod
    from billing.payments.deposits import deposit_create
    from catalog.models import Category, Service, UpstreamService
    from notifications.models import Announcement, Delivery, Event
    from orders.models import CancelRequest, Order, Refill
    from support.attachments import attachments_prepare, ticket_open_with_files
    from support.models import TicketAttachment
    from testing.gateways.stripe import SECRET_KEY, WEBHOOK_SECRET
    from upstream.models import Provider

    objects = {}
    with in_schema(X):
        sequences_above_floor(X)
        customer, key = make_customer(f"{MARK}-customer", balance="50")
        provider = Provider.objects.create(name=f"{MARK} up", api_url="http://127.0.0.1:9/api/v2", api_key="k")
        upstream = UpstreamService.objects.create(
            provider=provider,
            upstream_id=1,
            name=f"{MARK} likes",
            type="Default",
            category="Likes",
            rate=Decimal("1"),
            min=10,
            max=1000,
            refill=True,
            cancel=True,
        )
        service = Service.objects.create(
            category=Category.objects.create(name=f"{MARK} category"),
            upstream=upstream,
            name=f"{MARK} service",
            type="Default",
            rate=Decimal("2"),
            min=10,
            max=1000,
            refill=True,
            cancel=True,
        )
    # Placed as X's customers place orders (through X's API), then completed so it may be refilled.
    placed = Client(HTTP_HOST=X_HOST).post(
        "/api/v2",
        {"key": key, "action": "add", "service": service.pk, "link": f"https://example.com/{MARK}", "quantity": 100},
    )
    assert "order" in placed.json(), placed.content
    with in_schema(X):
        Order.objects.filter(pk=placed.json()["order"]).update(status="Completed")
        order = Order.objects.get(pk=placed.json()["order"])
        refill = Refill.objects.create(order=order, user=customer, provider=provider)
        # A real attachment (a PDF checked by its magic bytes), stored under X's own folder.
        pdf = SimpleUploadedFile(f"{MARK}.pdf", b"%PDF-1.4\n" + MARK.encode() + b"\n%%EOF\n", "application/pdf")
        ticket = ticket_open_with_files(
            user=customer,
            subject=f"{MARK} ticket",
            body=f"{MARK} body",
            topic="other",
            files=attachments_prepare([pdf]),
        )
        attachment = TicketAttachment.objects.get(message__ticket=ticket)
        method = PaymentMethod(name=f"{MARK} card", kind="stripe", min_amount=Decimal("5"), max_amount=Decimal("1000"))
        method.set_secret_values({"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET})
        method.save()
        deposit = deposit_create(user=customer, method=method, amount=Decimal("20"))
        announcement = Announcement.objects.create(title=f"{MARK} announcement", body=f"{MARK} news")
        event = Event.objects.create(key=f"{MARK}:event", kind="order.status", user=customer, data={"mark": MARK})
        delivery = Delivery.objects.create(event=event, channel=Delivery.Channel.WEBHOOK, user=customer)
        cancel = CancelRequest.objects.create(order=order, user=customer)
        staff = User.objects.get(username=f"{X}_staff")
        _, token = token_issue(owner_id=staff.pk, name=f"{MARK} script", actor=staff)
        objects.update(
            customer=customer,
            key=key,
            service=service,
            order=order,
            refill=refill,
            ticket=ticket,
            method=method,
            deposit=deposit,
            announcement=announcement,
            attachment=attachment,
            delivery=delivery,
            cancel=cancel,
            staff=staff,
            token=token,
            provider=provider,
            order_type=ContentType.objects.get_for_model(Order).pk,
            panel=children[X].pk,
        )
        x_customer, x_staff = Client(), Client()
        x_customer.force_login(customer)
        x_staff.force_login(staff)
    with in_schema(Y):
        y_user, y_key = make_customer("y-customer", balance="50")
        y_staff_user = User.objects.get(username=f"{Y}_staff")
        _, y_token = token_issue(owner_id=y_staff_user.pk, name="y script", actor=y_staff_user)
        y_customer, y_staff = Client(), Client()
        y_customer.force_login(y_user)
        y_staff.force_login(y_staff_user)
        for name in (
            "order",
            "refill",
            "ticket",
            "method",
            "deposit",
            "service",
            "customer",
            "announcement",
            "delivery",
            "cancel",
        ):
            model = type(objects[name])
            assert not model.objects.filter(pk=objects[name].pk).exists(), name
    connection.set_schema_to_public()
    yield {
        "x": objects,
        "x_customer": x_customer,
        "x_staff": x_staff,
        "y_customer": y_customer,
        "y_staff": y_staff,
        "y_key": y_key,
        "y_token": y_token,
        "anonymous": Client(),
    }
    connection.set_schema_to_public()


# URL name -> (X's kwargs, the same kwargs naming nothing). Object-bearing URLs of the dashboard,
# the public pages and the Admin API.
def cases(x) -> dict[str, tuple[dict, dict]]:
    def one(name, value, missing=MISSING, **fixed):
        return {name: value, **fixed}, {name: missing, **fixed}

    return {
        "dashboard:order": one("pk", x["order"].pk),
        "dashboard:order_refill": one("pk", x["order"].pk),
        "dashboard:order_cancel": one("pk", x["order"].pk),
        "dashboard:favourite": one("pk", x["service"].pk),
        "dashboard:ticket_attachment": one("pk", x["attachment"].pk),
        "dashboard:ticket": one("pk", x["ticket"].pk),
        "dashboard:deposit_new": one("method_id", x["method"].pk),
        "dashboard:deposit_quote": one("method_id", x["method"].pk),
        "dashboard:deposit_pay": one("pk", x["deposit"].pk),
        "dashboard:deposit_status": one("pk", x["deposit"].pk),
        "dashboard:deposit_return": one("pk", x["deposit"].pk),
        "dashboard:payment_notify": one("method_id", x["method"].pk),
        "dashboard:announcement_dismiss": one("pk", x["announcement"].pk),
        "dashboard:webhooks_resend": one("pk", x["delivery"].pk),
        "dashboard:referral": one("code", x["customer"].username, "zz-missing"),
        "site_pages:news_item": one("slug", f"{MARK}-news", "zz-missing"),
        # The backoffice's own pages (Y's staff), the child-panel pages (the registry's IDs).
        "admin:bo_manual_order": one("order_id", x["order"].pk),
        "admin:bo_manual_take": one("order_id", x["order"].pk, action="take"),
        "admin:bo_manual_refill": one("refill_id", x["refill"].pk, outcome="done"),
        "admin:bo_manual_cancel": one("cancel_id", x["cancel"].pk, outcome="done"),
        "admin:bo_import": one("provider_id", x["provider"].pk),
        "admin:bo_provider_action": one("provider_id", x["provider"].pk, action="test"),
        "admin:bo_order_action": one("order_id", x["order"].pk, action="cancel"),
        "admin:bo_customer_action": one("user_id", x["customer"].pk, action="adjust"),
        "admin:bo_refill_retry": one("refill_id", x["refill"].pk),
        "admin:bo_cancel_retry": one("cancel_id", x["cancel"].pk),
        "admin:view_on_site": one("object_id", x["order"].pk, content_type_id=x["order_type"]),
        "admin:childpanels_panel_action": one("panel_id", x["panel"], action="suspend"),
        "dashboard:child_panel_pay": one("pk", x["panel"]),
        "adminapi:order": one("order_id", x["order"].pk),
        "adminapi:order_take": one("order_id", x["order"].pk),
        "adminapi:order_release": one("order_id", x["order"].pk),
        "adminapi:refill_resolve": one("refill_id", x["refill"].pk),
        "adminapi:cancel_resolve": one("cancel_id", x["order"].pk),
        "adminapi:customer": one("customer_id", x["customer"].pk),
        "adminapi:customer_balance": one("customer_id", x["customer"].pk),
        "adminapi:service": one("service_id", x["service"].pk),
    }


def test_every_object_bearing_url_has_a_case(world):
    known = cases(world["x"])
    by_model = admin_model_urls()
    missing = []
    for route, name, groups in object_urls():
        if name in known or name in NOT_OBJECTS or (name is None and unnamed_not_object(route)):
            continue
        if name in by_model and len(groups) == 1:
            continue  # the admin's per-object URLs: test_admin_urls_of_every_model
        missing.append((route, name))
    assert missing == [], f"object-bearing URLs without an isolation case: {missing}"


def test_every_url_with_the_other_panels_session_is_an_anonymous_visit(world):
    """X's customer and staff cookies on Y's host: every URL answers as it does to a stranger."""
    x = world["x"]
    known = cases(x)
    by_model = admin_model_urls()
    tried = 0
    for _route, name, groups in walk(get_resolver().url_patterns):
        if name is None or name in NOT_OBJECTS:
            continue
        if groups:
            if name in known:
                kwargs = known[name][0]
            elif name in by_model and len(groups) == 1:
                kwargs = {next(iter(groups)): x_pk(by_model[name], x)}
            else:
                continue
        else:
            kwargs = {}
        url = reverse(name, kwargs=kwargs)
        stranger = world["anonymous"].get(url, HTTP_HOST=Y_HOST)
        for who in ("x_customer", "x_staff"):
            response = world[who].get(url, HTTP_HOST=Y_HOST)
            assert where(response) == where(stranger), (who, url)
            assert_no_marker(response, (who, url))
            tried += 1
    connection.set_schema_to_public()
    assert tried > 200


def x_pk(model, x) -> int:
    """The ID of an X object of this model if the fixture made one, else an ID X's sequences
    would give next (which Y has not got)."""
    for value in x.values():
        if isinstance(value, model):
            return value.pk
    return SEQUENCE_FLOOR + 1


def test_dashboard_and_admin_api_urls_with_the_other_panels_ids_answer_not_found(world):
    """Y's own customer (and Y's Admin API token) asking Y for X's IDs: the same answer as for an
    ID that exists nowhere, by GET and by POST."""
    y_api = {"HTTP_X_API_KEY": world["y_token"]}
    for name, (x_kwargs, missing_kwargs) in cases(world["x"]).items():
        if name.startswith("adminapi:"):
            client, extra = Client(), y_api
        else:
            client, extra = world["y_staff" if name.startswith("admin:") else "y_customer"], {}
        for method in ("get", "post"):
            send = getattr(client, method)
            # Per-user "too soon" limits (resending a webhook) would tell the second try from the
            # first: each starts with the limits empty.
            cache.clear()
            theirs = send(reverse(name, kwargs=x_kwargs), HTTP_HOST=Y_HOST, **extra)
            cache.clear()
            nothing = send(reverse(name, kwargs=missing_kwargs), HTTP_HOST=Y_HOST, **extra)
            x_value, missing_value = next(iter(x_kwargs.values())), next(iter(missing_kwargs.values()))
            assert where(theirs, x_value) == where(nothing, missing_value), (name, method)
            if name.startswith("adminapi:"):
                # The protocol's answers carry no per-request noise: identical once the ID is out.
                assert theirs.content.replace(str(x_value).encode(), b"N") == nothing.content.replace(
                    str(missing_value).encode(), b"N"
                ), (name, method)
            assert_no_marker(theirs, (name, method))
    connection.set_schema_to_public()


def test_admin_urls_of_every_model_with_the_other_panels_ids_answer_not_found(world, in_schema):
    """Y's staff in Y's backoffice asking for X's objects of every registered model."""
    by_model = admin_model_urls()
    x = world["x"]
    checked = 0
    for _route, name, groups in object_urls():
        if name not in by_model or len(groups) != 1:
            continue
        model = by_model[name]
        with in_schema(X):
            pk = x_pk(model, x)
            if not model._default_manager.filter(pk=pk).exists():
                pk = None
        if pk is not None:
            with in_schema(Y):
                assert not model._default_manager.filter(pk=pk).exists(), (name, pk)
        group = next(iter(groups))
        url = reverse(name, kwargs={group: pk if pk is not None else SEQUENCE_FLOOR + 1})
        theirs = world["y_staff"].get(url, HTTP_HOST=Y_HOST)
        nothing = world["y_staff"].get(reverse(name, kwargs={group: MISSING}), HTTP_HOST=Y_HOST)
        assert where(theirs) == where(nothing), (name, url)
        assert_no_marker(theirs, url)
        checked += 1
    connection.set_schema_to_public()
    assert checked >= 3 * len(admin.site._registry)


def test_every_api_action_with_the_other_panels_key_or_ids(world):
    from api.apis import ACTIONS

    x = world["x"]
    order, refill, service = x["order"].pk, x["refill"].pk, x["service"].pk
    # action -> (parameters naming X's objects, the same naming nothing)
    api_cases = {
        "balance": ({}, {}),
        "services": ({}, {}),
        "add": (
            {"service": service, "link": "https://example.com/p", "quantity": 100},
            {"service": MISSING, "link": "https://example.com/p", "quantity": 100},
        ),
        "status": ({"order": order}, {"order": MISSING}),
        "status:multiple": ({"orders": f"{order}"}, {"orders": f"{MISSING}"}),
        "refill": ({"order": order}, {"order": MISSING}),
        "refill:multiple": ({"orders": f"{order}"}, {"orders": f"{MISSING}"}),
        "refill_status": ({"refill": refill}, {"refill": MISSING}),
        "refill_status:multiple": ({"refills": f"{refill}"}, {"refills": f"{MISSING}"}),
        "cancel": ({"orders": f"{order}"}, {"orders": f"{MISSING}"}),
    }
    assert {case.split(":")[0] for case in api_cases} == {*ACTIONS, "status"}, "an API action has no case"

    def call(key, case, params):
        action = case.split(":")[0]
        return Client(HTTP_HOST=Y_HOST).post("/api/v2", {"key": key, "action": action, **params})

    for case, (theirs_params, nothing_params) in api_cases.items():
        # X's key on Y's host: unknown there.
        answer = call(x["key"], case, theirs_params)
        assert answer.json() == {"error": "Invalid API key"}, case
        # Y's key with X's IDs: the answer for IDs that exist nowhere, with X's ID in its place.
        theirs = call(world["y_key"], case, theirs_params).content.decode()
        nothing = call(world["y_key"], case, nothing_params).content.decode()
        for value in theirs_params.values():
            theirs = theirs.replace(str(value), "N")
        for value in nothing_params.values():
            nothing = nothing.replace(str(value), "N")
        if case in ("balance", "services"):
            assert MARK not in theirs, case
            continue
        assert theirs == nothing, (case, theirs, nothing)
        assert MARK not in theirs
    connection.set_schema_to_public()


def test_the_other_panels_admin_api_token_is_unknown(world):
    x = world["x"]
    for _route, name, groups in walk(get_resolver().url_patterns):
        if not (name or "").startswith("adminapi:"):
            continue
        kwargs = cases(x)[name][0] if groups else {}
        url = reverse(name, kwargs=kwargs)
        for method in ("get", "post"):
            send = getattr(Client(), method)
            theirs = send(url, HTTP_HOST=Y_HOST, HTTP_X_API_KEY=x["token"])
            unknown = send(url, HTTP_HOST=Y_HOST, HTTP_X_API_KEY="not-a-token")
            assert (theirs.status_code, theirs.content) == (unknown.status_code, unknown.content), (url, method)
    connection.set_schema_to_public()
