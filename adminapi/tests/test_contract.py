"""Contract tests of every Admin API resource: shapes, filters, updates through the orders/
transitions with compare-and-set, exact refunds, audit rows with the token's user."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.ledger import ledger_drift
from accounts.models import AuditLog, LedgerEntry
from catalog.models import Service
from orders import manual
from orders.cancels import cancel_request
from orders.models import CancelRequest, Order, Refill, Status
from orders.placement import order_place
from orders.refills import refill_request
from testing.manual import make_manual_service

D = Decimal
ORDER_FIELDS = {
    "id",
    "user",
    "customer_id",
    "service_id",
    "service_name",
    "manual",
    "link",
    "quantity",
    "runs",
    "interval",
    "comments",
    "params",
    "charge",
    "refunded",
    "start_count",
    "remains",
    "status",
    "provider",
    "external_id",
    "created",
    "created_timestamp",
    "claimed_by",
    "claimed_until",
    "version",
}


@pytest.fixture
def service(db):
    return make_manual_service()


def place(customer, service, link="https://example.com/p/1", quantity=1000):
    return order_place(user=customer, service_id=service.pk, data={"link": link, "quantity": quantity}).order


def test_requests_without_a_valid_key_are_refused(api, customer, admin_token):
    assert api(None, "get", "orders").status == 401
    answer = api("0" * 48, "get", "orders")
    assert answer.status == 401 and answer.error == "Invalid API key"
    user, key = admin_token
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert api(key, "get", "orders").status == 401


def test_orders_list_filters_and_shape(api, customer, service, admin_token, make_service):
    _, key = admin_token
    a = place(customer, service, link="https://example.com/alpha")
    b = place(customer, service, link="https://example.com/beta")
    forwarded_service = make_service("Default", dripfeed=False)
    c = order_place(
        user=customer,
        service_id=forwarded_service.pk,
        data={"link": "https://x.com/c", "quantity": forwarded_service.min},
    ).order
    manual.order_update(order_id=b.pk, actor_id=None, version=manual.order_version(b), status="In progress")

    answer = api(key, "get", "orders")
    assert answer.status == 200
    assert [o["id"] for o in answer.data["list"]] == [c.pk, b.pk, a.pk]  # newest first
    assert answer.data["count"] == 3 and answer.data["limit"] == 100 and answer.data["offset"] == 0
    first = next(o for o in answer.data["list"] if o["id"] == a.pk)
    assert set(first) == ORDER_FIELDS
    assert first["charge"] == {"value": "2.00000", "currency_code": "USD"}
    assert first["manual"] is True and first["provider"] is None and first["user"] == customer.username
    assert first["link"] == "https://example.com/alpha" and first["status"] == "Pending"
    other = next(o for o in answer.data["list"] if o["id"] == c.pk)
    assert other["manual"] is False and other["provider"]["id"] == forwarded_service.upstream.provider_id

    def ids(**params):
        return [o["id"] for o in api(key, "get", "orders", **params).data["list"]]

    assert ids(status="in_progress") == [b.pk]
    assert ids(status="pending,IN PROGRESS", provider="manual", sort="asc") == [a.pk, b.pk]
    assert ids(service_ids=str(service.pk), link="alpha") == [a.pk]
    assert ids(provider=str(forwarded_service.upstream.provider_id)) == [c.pk]
    assert ids(user=customer.username, limit=1, offset=1) == [b.pk]
    assert ids(customer_id=str(customer.pk), ids=f"{a.pk},{c.pk}") == [c.pk, a.pk]
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    assert ids(date_from=tomorrow) == []
    assert len(ids(date_to=timezone.now().date().isoformat())) == 3  # a date includes the whole day
    bad = api(key, "get", "orders", status="done")
    assert bad.status == 400 and "unknown status" in bad.error
    assert api(key, "get", "orders", limit="501").status == 400
    assert api(key, "get", "orders", date_from="yesterday").status == 400


def test_get_one_order_and_404(api, customer, service, admin_token):
    _, key = admin_token
    order = place(customer, service)
    answer = api(key, "get", f"orders/{order.pk}")
    assert answer.data["id"] == order.pk and answer.data["version"] == manual.order_version(order)
    missing = api(key, "get", "orders/999999")
    assert missing.status == 404 and missing.error == "Order 999999 not found."


@pytest.mark.parametrize(
    ("status", "remains", "refund"),
    [("completed", None, D("0")), ("partial", 400, D("0.80000")), ("canceled", None, D("2.00000"))],
)
def test_update_settles_with_exact_refunds_and_audits_the_tokens_user(
    api, customer, service, admin_token, status, remains, refund
):
    user, key = admin_token
    order = place(customer, service)
    read = api(key, "get", f"orders/{order.pk}").data
    progress = api(
        key, "post", f"orders/{order.pk}", {"version": read["version"], "status": "in_progress", "start_count": 77}
    )
    assert progress.status == 200 and progress.data["status"] == "In progress" and progress.data["start_count"] == 77
    body = {"version": progress.data["version"], "status": status, "reason": "done by script"}
    if remains is not None:
        body["remains"] = remains
    answer = api(key, "post", f"orders/{order.pk}", body)
    assert answer.status == 200, answer.json
    assert answer.data["status"] == status.capitalize() and D(answer.data["refunded"]) == refund
    assert sum(e.amount for e in LedgerEntry.objects.filter(order_id=order.pk, kind="refund")) == refund
    assert ledger_drift() == []
    audit = AuditLog.objects.filter(action="order.manual_update", object_id=str(order.pk)).first()
    assert audit.actor_id == user.pk and audit.reason == "done by script"


def test_update_is_compare_and_set(api, customer, service, admin_token):
    _, key = admin_token
    order = place(customer, service)
    version = api(key, "get", f"orders/{order.pk}").data["version"]
    first = api(key, "post", f"orders/{order.pk}", {"version": version, "status": "in_progress", "remains": 900})
    assert first.status == 200
    second = api(key, "post", f"orders/{order.pk}", {"version": version, "status": "completed"})
    assert second.status == 409 and "changed since you read it" in second.error
    assert Order.objects.get(pk=order.pk).status == Status.IN_PROGRESS
    # If-Match carries the version as well.
    third = api(
        key, "post", f"orders/{order.pk}", {"status": "completed"}, headers={"If-Match": f'"{first.data["version"]}"'}
    )
    assert third.status == 200 and third.data["status"] == "Completed"
    assert api(key, "post", f"orders/{order.pk}", {"status": "completed"}).status == 400  # no version at all


def test_forwarded_orders_take_only_an_outcome(api, customer, make_service, admin_token):
    _, key = admin_token
    forwarded = make_service("Default", dripfeed=False)
    order = order_place(
        user=customer, service_id=forwarded.pk, data={"link": "https://x.com/f", "quantity": forwarded.min}
    ).order
    version = api(key, "get", f"orders/{order.pk}").data["version"]
    refused = api(key, "post", f"orders/{order.pk}", {"version": version, "start_count": 5})
    assert refused.status == 400 and "provider" in refused.error
    canceled = api(key, "post", f"orders/{order.pk}", {"version": version, "status": "canceled"})
    assert canceled.status == 200 and canceled.data["refunded"] == f"{order.charge:.5f}"
    assert AuditLog.objects.filter(action="order.mark_canceled", object_id=str(order.pk)).exists()


def test_bulk_update_answers_per_order(api, customer, service, admin_token):
    _, key = admin_token
    a, b = place(customer, service, link="https://e.com/a"), place(customer, service, link="https://e.com/b")
    body = {
        "orders": [
            {"id": a.pk, "version": manual.order_version(a), "status": "completed", "start_count": 10},
            {"id": b.pk, "version": "stale", "status": "completed"},
            {"id": 999999, "version": "x", "status": "completed"},
        ]
    }
    answer = api(key, "post", "orders/update", body)
    assert answer.status == 200
    results = {r["id"]: r for r in answer.data["orders"]}
    assert results[a.pk]["success"] is True and results[a.pk]["error_code"] == 0 and results[a.pk]["version"]
    assert results[b.pk]["success"] is False and results[b.pk]["error_code"] == 409
    assert results[999999]["success"] is False and results[999999]["error_code"] == 404
    assert Order.objects.get(pk=a.pk).status == Status.COMPLETED and Order.objects.get(pk=b.pk).status == Status.PENDING
    assert api(key, "post", "orders/update", {"orders": []}).status == 400


def test_pull_take_and_release(api, customer, service, admin_token):
    user, key = admin_token
    orders = [place(customer, service, link=f"https://e.com/{n}") for n in range(5)]
    other_service = make_manual_service(name="Other")
    place(customer, other_service, link="https://e.com/other")
    pulled = api(key, "post", "orders/pull", {"limit": 3, "service_ids": str(service.pk), "lease_seconds": 60})
    assert pulled.status == 200
    assert [o["id"] for o in pulled.data["list"]] == [o.pk for o in orders[:3]]  # oldest first
    assert all(o["claimed_by"] == user.username and o["claimed_until"] for o in pulled.data["list"])
    rest = api(key, "post", "orders/pull", {"limit": 10, "service_ids": [service.pk]})
    assert [o["id"] for o in rest.data["list"]] == [o.pk for o in orders[3:]]
    assert api(key, "post", "orders/pull", {"service_ids": str(service.pk)}).data["list"] == []
    released = api(key, "post", f"orders/{orders[0].pk}/release")
    assert released.status == 200 and released.data["claimed_by"] is None
    taken = api(key, "post", f"orders/{orders[0].pk}/take", {"lease_seconds": 30})
    assert taken.status == 200 and taken.data["claimed_by"] == user.username
    assert api(key, "post", "orders/pull", {"limit": 0}).status == 400
    assert api(key, "post", "orders/pull", {"service_ids": "a,b"}).status == 400
    assert AuditLog.objects.filter(action="order.manual_pull", actor=user).count() == 5


def test_refills_list_and_resolve(api, customer, service, admin_token):
    user, key = admin_token
    order = place(customer, service)
    manual.order_update(order_id=order.pk, actor_id=None, version=manual.order_version(order), status="Completed")
    refill_request(user_id=customer.pk, order_ids=[order.pk])
    refill = Refill.objects.get(order=order)
    listed = api(key, "get", "refills", manual="true")
    assert [r["id"] for r in listed.data["list"]] == [refill.pk]
    assert set(listed.data["list"][0]) == {"id", "order_id", "user", "status", "manual", "link", "error", "created"}
    done = api(key, "post", f"refills/{refill.pk}/resolve", {"status": "completed"})
    assert done.status == 200 and done.data["status"] == "Completed"
    assert api(key, "get", "refills", status="pending").data["list"] == []
    assert api(key, "post", f"refills/{refill.pk}/resolve", {"status": "rejected"}).status == 400
    assert api(key, "post", "refills/999999/resolve", {"status": "completed"}).status == 404
    assert api(key, "post", f"refills/{refill.pk}/resolve", {"status": "maybe"}).status == 400
    assert AuditLog.objects.filter(action="refill.manual_resolve", actor=user).count() == 1


def test_cancels_list_and_resolve(api, customer, service, admin_token):
    user, key = admin_token
    a, b = place(customer, service, link="https://e.com/a"), place(customer, service, link="https://e.com/b")
    cancel_request(user_id=customer.pk, order_ids=[a.pk, b.pk])
    listed = api(key, "get", "cancels", manual="1")
    assert [c["order_id"] for c in listed.data["list"]] == [a.pk, b.pk]
    first, second = (CancelRequest.objects.get(order=o) for o in (a, b))
    accepted = api(key, "post", f"cancels/{first.pk}/resolve", {"action": "accept"})
    assert accepted.status == 200 and accepted.data["state"] == "done" and accepted.data["order_status"] == "Canceled"
    refused = api(key, "post", f"cancels/{second.pk}/resolve", {"action": "refuse", "reason": "in progress already"})
    assert refused.data["state"] == "rejected" and refused.data["error"] == "in progress already"
    a.refresh_from_db()
    assert a.refunded == a.charge and Order.objects.get(pk=b.pk).status == Status.PENDING
    assert ledger_drift() == []
    assert AuditLog.objects.filter(action="cancel.manual_resolve", actor=user).count() == 2


def test_customers_list_get_and_balance_adjustment(api, customer, admin_token):
    user, key = admin_token
    listed = api(key, "get", "customers", search="buy")
    assert [c["username"] for c in listed.data["list"]] == [customer.username]
    assert user.username not in [
        c["username"] for c in api(key, "get", "customers").data["list"]
    ]  # staff are not customers
    one = api(key, "get", f"customers/{customer.pk}")
    assert one.data["balance"] == "1000.00000" and set(one.data) == {
        "id",
        "username",
        "email",
        "balance",
        "discount_percent",
        "is_active",
        "created",
        "last_login",
    }
    body = {"amount": "-12.50000", "reason": "chargeback", "idempotency_key": "run-1"}
    adjusted = api(key, "post", f"customers/{customer.pk}/balance", body)
    assert adjusted.status == 201 and adjusted.data["balance"] == "987.50000" and adjusted.data["created"] is True
    replay = api(key, "post", f"customers/{customer.pk}/balance", body)
    assert replay.status == 200 and replay.data["created"] is False and replay.data["balance"] == "987.50000"
    entry = LedgerEntry.objects.get(pk=adjusted.data["ledger_entry"])
    assert (entry.kind, entry.amount, entry.actor_id) == ("adjustment", D("-12.5"), user.pk)
    audit = AuditLog.objects.get(action="customer.balance_adjust")
    assert audit.actor_id == user.pk and audit.reason == "chargeback"
    assert api(key, "post", f"customers/{customer.pk}/balance", {"amount": "5"}).status == 400  # reason required
    below = api(key, "post", f"customers/{customer.pk}/balance", {"amount": "-5000", "reason": "x"})
    assert below.status == 400 and "below zero" in below.error
    assert api(key, "post", f"customers/{customer.pk}/balance", {"amount": "0.000001", "reason": "x"}).status == 400
    assert api(key, "post", f"customers/{user.pk}/balance", {"amount": "1", "reason": "x"}).status == 404
    assert ledger_drift() == []


def test_services_list_update_price_and_enable(api, service, admin_token, make_service):
    user, key = admin_token
    forwarded = make_service("Default", dripfeed=False)
    listed = api(key, "get", "services", manual="true")
    assert [s["id"] for s in listed.data["list"]] == [service.pk]
    shown = listed.data["list"][0]
    assert shown["provider"] is None and shown["cost"] == "0.50000" and shown["manual_cost"] == "0.50000"
    assert api(key, "get", "services", provider=str(forwarded.upstream.provider_id)).data["count"] == 1

    priced = api(key, "patch", f"services/{service.pk}", {"fixed_rate": "3.50000"})
    assert priced.status == 200 and priced.data["rate"] == "3.50000" and priced.data["fixed_rate"] == "3.50000"
    below = api(key, "patch", f"services/{service.pk}", {"fixed_rate": "0.10000"})
    assert below.status == 400 and "below the cost" in below.error
    assert Service.objects.get(pk=service.pk).rate == D("3.5")
    off = api(key, "patch", f"services/{service.pk}", {"enabled": False, "manual_cost": "0.70000"})
    assert off.data["enabled"] is False and off.data["manual_cost"] == "0.70000"
    assert api(key, "patch", f"services/{forwarded.pk}", {"manual_cost": "1"}).status == 400
    assert api(key, "patch", "services/999999", {"enabled": True}).status == 404
    audits = AuditLog.objects.filter(action="service.update", actor=user)
    assert audits.count() == 2 and audits.first().after["enabled"] is False


def test_providers_list_with_balance(api, provider, admin_token):
    _, key = admin_token
    provider.balance = D("123.45000")
    provider.save(update_fields=["balance"])
    answer = api(key, "get", "providers")
    assert answer.data["list"] == [
        {
            "id": provider.pk,
            "name": "sim",
            "enabled": True,
            "currency": "USD",
            "exchange_rate": "1.00000000",
            "balance": "123.45000",
            "balance_checked_at": None,
            "low_balance": False,
            "low_balance_threshold": "10.00000",
        }
    ]
    assert "api_key" not in answer.json["data"]["list"][0]


def test_rate_limited_per_token(api, settings, admin_token, support_token):
    settings.ADMIN_API_RATE_PER_MINUTE = 3
    _, key = admin_token
    for _ in range(3):
        assert api(key, "get", "customers").status == 200
    limited = api(key, "get", "customers")
    assert limited.status == 429 and "throttled" in limited.error.lower()
    # Another token has its own allowance.
    assert api(support_token[1], "get", "customers").status == 200


def test_the_openapi_document_describes_every_resource(client):
    response = client.get("/adminapi/v2/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": "/adminapi/v2"}]
    assert document["components"]["securitySchemes"]["StaffToken"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
    }
    paths = set(document["paths"])
    assert {
        "/orders",
        "/orders/{order_id}",
        "/orders/pull",
        "/orders/update",
        "/orders/{order_id}/take",
        "/orders/{order_id}/release",
        "/refills",
        "/refills/{refill_id}/resolve",
        "/cancels",
        "/cancels/{cancel_id}/resolve",
        "/customers",
        "/customers/{customer_id}",
        "/customers/{customer_id}/balance",
        "/services",
        "/services/{service_id}",
        "/providers",
    } <= paths
    order = document["components"]["schemas"]["Order"]["properties"]
    assert set(order) == ORDER_FIELDS


def test_form_encoded_bodies_work_too(client, customer, service, admin_token):
    _, key = admin_token
    order = place(customer, service)
    response = client.post(
        f"/adminapi/v2/orders/{order.pk}",
        {"version": manual.order_version(order), "status": "in_progress", "remains": "10"},
        HTTP_X_API_KEY=key,
    )
    assert response.status_code == 200, response.content
    assert response.json()["data"]["remains"] == 10
    pulled = client.post("/adminapi/v2/orders/pull", {"limit": "5"}, HTTP_X_API_KEY=key)
    assert pulled.status_code == 200 and [o["id"] for o in pulled.json()["data"]["list"]] == [order.pk]


def test_answers_are_in_the_default_language_whatever_the_caller_asks(api, service, admin_token):
    """A staff script's Accept-Language changes nothing: names in the default language, errors in English."""
    _, key = admin_token
    service.name_ru = "Подписчики"
    service.save()
    answer = api(key, "get", f"services/{service.pk}", headers={"Accept-Language": "ru"})
    assert answer.status == 200
    assert answer.data["name"] == service.name_en
    missing = api(key, "get", "services/999999", headers={"Accept-Language": "ru"})
    assert missing.status == 404 and missing.error.isascii()
    unauthenticated = api(None, "get", "services", headers={"Accept-Language": "ar"})
    assert unauthenticated.status == 401 and unauthenticated.error.isascii()
