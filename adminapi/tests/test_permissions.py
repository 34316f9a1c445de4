"""Each token acts with its owner's backoffice role: Admin may do everything, Support reads
orders, refills, cancels, customers and services but changes nothing and sees no providers, a
staff member without a role nothing; a revoked or rotated key, or a customer, gets nowhere."""

import pytest

from adminapi.services import token_issue, token_revoke, token_rotate
from orders import manual
from orders.cancels import cancel_request
from orders.models import CancelRequest, Order, Status
from orders.placement import order_place
from testing.manual import make_manual_service

from .conftest import staff_with_token

READS = ["orders", "refills", "cancels", "customers", "services"]


@pytest.fixture
def world(customer):
    service = make_manual_service()
    order = order_place(user=customer, service_id=service.pk, data={"link": "https://e.com/1", "quantity": 100}).order
    other = order_place(user=customer, service_id=service.pk, data={"link": "https://e.com/2", "quantity": 100}).order
    cancel_request(user_id=customer.pk, order_ids=[other.pk])
    return {"service": service, "order": order, "cancel": CancelRequest.objects.get(order=other), "customer": customer}


def writes(world):
    order, cancel, customer, service = world["order"], world["cancel"], world["customer"], world["service"]
    version = manual.order_version(Order.objects.get(pk=order.pk))
    return [
        ("post", f"orders/{order.pk}", {"version": version, "status": "in_progress"}),
        ("post", "orders/update", {"orders": [{"id": order.pk, "version": version, "status": "in_progress"}]}),
        ("post", "orders/pull", {"limit": 1}),
        ("post", f"orders/{order.pk}/take", {}),
        ("post", f"orders/{order.pk}/release", {}),
        ("post", f"cancels/{cancel.pk}/resolve", {"action": "refuse"}),
        ("post", f"customers/{customer.pk}/balance", {"amount": "1", "reason": "test"}),
        ("patch", f"services/{service.pk}", {"enabled": False}),
    ]


def test_admin_role_reads_and_writes_everything(api, world, admin_token):
    _, key = admin_token
    for path in [*READS, "providers"]:
        assert api(key, "get", path).status == 200, path
    for method, path, body in writes(world):
        assert api(key, method, path, body).status in (200, 201), path


def test_support_role_reads_but_never_writes(api, world, support_token):
    _, key = support_token
    for path in READS:
        assert api(key, "get", path).status == 200, path
    assert api(key, "get", "providers").status == 403
    for method, path, body in writes(world):
        answer = api(key, method, path, body)
        assert answer.status == 403 and answer.error == "Your role does not allow this.", path
    order = Order.objects.get(pk=world["order"].pk)
    assert order.status == Status.PENDING and order.claimed_by_id is None
    world["customer"].refresh_from_db()
    assert world["customer"].balance < 1000  # only the two charges moved it


def test_staff_without_a_role_gets_nothing(api, world, bare_token):
    _, key = bare_token
    for path in [*READS, "providers"]:
        assert api(key, "get", path).status == 403, path


def test_order_actions_without_money_cannot_refund(api, world, db):
    from django.contrib.auth.models import Permission

    user, key = staff_with_token("operator")
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label__in=["backoffice", "orders"], codename__in=["order_actions", "view_order"]
        )
    )
    order = world["order"]
    version = manual.order_version(order)
    refused = api(key, "post", f"orders/{order.pk}", {"version": version, "status": "canceled"})
    assert refused.status == 403 and "refund" in refused.error
    assert api(key, "post", f"orders/{order.pk}", {"version": version, "status": "completed"}).status == 200
    cancel = world["cancel"]
    assert api(key, "post", f"cancels/{cancel.pk}/resolve", {"action": "accept"}).status == 403
    assert api(key, "post", f"cancels/{cancel.pk}/resolve", {"action": "refuse"}).status == 200


def test_superuser_may_do_everything(api, world, db):
    _, key = staff_with_token("root", superuser=True)
    assert api(key, "get", "providers").status == 200
    assert api(key, "post", "orders/pull", {"limit": 5}).status == 200


def test_revoked_and_rotated_keys_stop_working_at_once(api, world, admin_token):
    user, key = admin_token
    token = user.admin_api_tokens.get()
    _, new_key = token_rotate(token_id=token.pk, actor=user)
    assert api(key, "get", "orders").status == 401
    assert api(new_key, "get", "orders").status == 200
    token_revoke(token_id=token.pk, actor=user)
    assert api(new_key, "get", "orders").status == 401


def test_a_customer_cannot_hold_a_token(customer):
    from adminapi.services import TokenRefused

    with pytest.raises(TokenRefused):
        token_issue(owner_id=customer.pk, name="x", actor=customer)


def test_a_customer_api_key_is_not_an_admin_key(api, world, customer):
    from accounts.services import api_key_rotate

    key = api_key_rotate(user=customer)
    assert api(key, "get", "orders").status == 401
