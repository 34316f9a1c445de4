"""Every backoffice page renders for the Admin role, with real data behind it."""

import pytest
from django.urls import reverse

from accounts.models import User
from billing.models import PaymentMethod
from billing.services import deposit_request_create
from support.services import ticket_open


@pytest.fixture
def world(place, make_service, customer, sim, provider):
    order = place()
    method = PaymentMethod.objects.create(name="Bank")
    deposit_request_create(user=customer, method=method, amount=10)
    ticket_open(user=customer, subject="Where is my order?", body="Hi", topic="order", order_id=order.pk)
    return order


PAGES = [
    ("admin:index", []),
    ("admin:orders_order_changelist", []),
    ("admin:orders_refill_changelist", []),
    ("admin:orders_cancelrequest_changelist", []),
    ("admin:accounts_user_changelist", []),
    ("admin:upstream_provider_changelist", []),
    ("admin:catalog_service_changelist", []),
    ("admin:catalog_category_changelist", []),
    ("admin:catalog_customerprice_changelist", []),
    ("admin:catalog_servicechange_changelist", []),
    ("admin:billing_depositrequest_changelist", []),
    ("admin:support_ticket_changelist", []),
    ("admin:accounts_auditlog_changelist", []),
    ("admin:accounts_ledgerentry_changelist", []),
    ("admin:bo_reports", []),
]


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_list_pages_render(as_admin, world, name, args):
    response = as_admin.get(reverse(name, args=args))
    assert response.status_code == 200, response.content[:500]


def test_detail_pages_render(as_admin, world, customer, provider):
    ticket = customer.tickets.get()
    for url in (
        reverse("admin:orders_order_change", args=[world.pk]),
        reverse("admin:accounts_user_change", args=[customer.pk]),
        reverse("admin:upstream_provider_change", args=[provider.pk]),
        reverse("admin:support_ticket_change", args=[ticket.pk]),
        reverse("admin:bo_import", args=[provider.pk]),
        reverse("admin:bo_customer_action", args=[customer.pk, "adjust"]),
        reverse("admin:bo_order_action", args=[world.pk, "cancel"]),
        reverse("admin:bo_order_action", args=[world.pk, "partial"]),
    ):
        response = as_admin.get(url)
        assert response.status_code == 200, (url, response.content[:800])


def test_order_filters_by_customer_service_and_search(as_admin, world, customer):
    url = reverse("admin:orders_order_changelist")
    assert world.link.encode() in as_admin.get(url, {"customer": customer.username}).content
    assert (
        b"0 orders" in as_admin.get(url, {"customer": "nobody"}).content
        or world.link.encode() not in as_admin.get(url, {"customer": "nobody"}).content
    )
    assert world.link.encode() in as_admin.get(url, {"service_id": world.service_id}).content
    assert world.link.encode() in as_admin.get(url, {"q": world.upstream_order_id}).content
    assert world.link.encode() in as_admin.get(url, {"q": str(world.pk)}).content
    assert world.link.encode() in as_admin.get(url, {"q": world.link}).content
    assert (
        as_admin.get(url, {"provider__id__exact": world.provider_id, "status__exact": world.status}).status_code == 200
    )


def test_customer_is_not_let_in(client, customer, world):
    client.force_login(customer)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert User.objects.filter(is_staff=True).count() == 0


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("dashboard/depositrequest/", "billing/depositrequest/"),
        ("dashboard/ticket/7/change/", "support/ticket/7/change/"),
        ("backoffice/auditlog/?action=x", "accounts/auditlog/?action=x"),
    ],
)
def test_old_admin_addresses_of_moved_models_redirect(as_admin, old, new):
    response = as_admin.get(reverse("admin:index") + old)
    assert response.status_code == 302 and response["Location"] == reverse("admin:index") + new
    assert as_admin.get(reverse("admin:index") + "dashboard/nothing/").status_code == 404
