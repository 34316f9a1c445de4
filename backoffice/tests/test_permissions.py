"""The permission matrix: Support reads orders and customers and works tickets; it cannot move
money, act on orders, change customers, import services or see reports."""

import pytest
from django.urls import reverse

from accounts.models import AuditLog, LedgerEntry
from backoffice.forms import new_token
from billing.models import DepositRequest, PaymentMethod
from billing.services import deposit_request_create
from orders.forwarding import order_forward
from orders.models import Order
from support.models import Ticket
from support.services import ticket_open


@pytest.fixture
def order(place):
    order = place()
    order_forward(order_id=order.pk)
    return Order.objects.get(pk=order.pk)


def bo(name, *args):
    return reverse(f"admin:{name}", args=args)


FORBIDDEN_POSTS = [
    ("bo_order_action", "cancel", {"reason": "x"}),
    ("bo_order_action", "partial", {"remains": 1}),
    ("bo_order_action", "complete", {}),
    ("bo_order_action", "resend", {"confirm": "on"}),
    ("bo_order_action", "mark_sent", {"upstream_order_id": "1"}),
    ("bo_order_action", "recheck", {}),
]


@pytest.mark.parametrize(("name", "action", "data"), FORBIDDEN_POSTS)
def test_support_cannot_act_on_orders(as_support, order, name, action, data):
    assert as_support.post(bo(name, order.pk, action), data).status_code == 403
    assert Order.objects.get(pk=order.pk).status == order.status
    assert not AuditLog.objects.exists()


def test_support_cannot_refund_or_adjust_balances(as_support, customer, order):
    assert as_support.get(bo("bo_customer_action", customer.pk, "adjust")).status_code == 403
    response = as_support.post(
        bo("bo_customer_action", customer.pk, "adjust"), {"amount": "100", "reason": "x", "token": new_token()}
    )
    assert response.status_code == 403
    assert as_support.post(bo("bo_order_action", order.pk, "cancel"), {}).status_code == 403
    assert not LedgerEntry.objects.filter(kind__in=["adjustment", "refund"]).exists()


def test_support_cannot_ban_reset_keys_or_approve_deposits(as_support, customer):
    for action in ("ban", "apikey"):
        assert as_support.post(bo("bo_customer_action", customer.pk, action)).status_code == 403
    customer.refresh_from_db()
    assert customer.is_active
    deposit = deposit_request_create(user=customer, method=PaymentMethod.objects.create(name="Bank"), amount=5)
    as_support.post(bo("billing_depositrequest_changelist"), {"action": "approve", "_selected_action": [deposit.pk]})
    assert DepositRequest.objects.get(pk=deposit.pk).status == "pending"


def test_support_cannot_import_see_reports_or_edit_providers(as_support, provider):
    assert as_support.get(bo("bo_import", provider.pk)).status_code == 403
    assert as_support.get(bo("bo_reports")).status_code == 403
    assert as_support.get(bo("bo_reports_csv")).status_code == 403
    assert as_support.post(bo("bo_provider_action", provider.pk, "sync")).status_code == 403
    assert as_support.get(bo("upstream_provider_changelist")).status_code == 403


def test_support_reads_orders_without_action_buttons(as_support, order, customer):
    page = as_support.get(bo("orders_order_change", order.pk))
    assert page.status_code == 200
    assert b"data-action=" not in page.content
    assert as_support.get(bo("orders_order_changelist")).status_code == 200
    customer_page = as_support.get(bo("accounts_user_change", customer.pk))
    assert customer_page.status_code == 200 and b"Adjust balance" not in customer_page.content


def test_support_replies_to_assigns_and_closes_tickets(as_support, support_staff, customer):
    ticket = ticket_open(user=customer, subject="Help", body="My order?", topic="other")
    url = bo("support_ticket_change", ticket.pk)
    page = as_support.get(url)
    assert page.status_code == 200
    data = {
        "subject": "Help",
        "topic": "other",
        "status": "open",
        "assignee": support_staff.pk,
        "messages-TOTAL_FORMS": "2",
        "messages-INITIAL_FORMS": "1",
        "messages-MIN_NUM_FORMS": "0",
        "messages-MAX_NUM_FORMS": "1000",
        "messages-0-id": ticket.messages.get().pk,
        "messages-0-ticket": ticket.pk,
        "messages-1-body": "We are on it.",
        "messages-1-ticket": ticket.pk,
    }
    response = as_support.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.ANSWERED
    assert ticket.messages.filter(is_staff=True, body="We are on it.").exists()
    assert ticket.assignment.assignee == support_staff
    as_support.post(bo("support_ticket_changelist"), {"action": "close", "_selected_action": [ticket.pk]})
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CLOSED
    assert AuditLog.objects.filter(action="ticket.close", actor=support_staff).count() == 1


def test_admin_role_has_every_action(admin_staff):
    for perm in ("order_actions", "money_actions", "customer_actions", "catalog_actions", "view_reports"):
        assert admin_staff.has_perm(f"backoffice.{perm}")


def test_support_role_has_no_money_or_order_permissions(support_staff):
    for perm in ("order_actions", "money_actions", "customer_actions", "catalog_actions", "view_reports"):
        assert not support_staff.has_perm(f"backoffice.{perm}")
    assert not support_staff.has_perm("orders.change_order")
    assert not support_staff.has_perm("accounts.change_user")
