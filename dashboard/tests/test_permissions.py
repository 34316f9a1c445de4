"""One customer can never see or act on another's orders, refills, tickets, deposits or ledger."""

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.ledger import ledger_credit
from billing.models import PaymentMethod
from billing.services import deposit_request_create
from orders.models import CancelRequest, ForwardState, Order, Refill, Status
from orders.placement import order_place
from support.services import ticket_open


@pytest.fixture
def others_order(other, make_service):
    service = make_service("Default", cancel=True)
    return order_place(
        user=other, service_id=service.pk, data={"link": "https://x.example/secret", "quantity": service.min}
    ).order


@pytest.mark.parametrize("name", ["order_refill", "order_cancel"])
def test_actions_on_anothers_order_answer_404(logged_in, others_order, name):
    assert logged_in.post(reverse(f"dashboard:{name}", args=[others_order.pk])).status_code == 404
    assert not Refill.objects.exists() and not CancelRequest.objects.exists()
    others_order.refresh_from_db()
    assert others_order.status == Status.PENDING


def test_anothers_order_detail_is_404(logged_in, others_order):
    assert logged_in.get(reverse("dashboard:order", args=[others_order.pk])).status_code == 404


def test_lists_show_only_own_objects(logged_in, customer, other, others_order):
    Order.objects.filter(pk=others_order.pk).update(
        status=Status.COMPLETED, forward_state=ForwardState.SENT, completed_at=timezone.now()
    )
    Refill.objects.create(order=others_order, user=other, provider_id=others_order.provider_id)
    ledger_credit(user_id=other.pk, amount=1, memo="other's secret deposit")
    for name in ("orders", "order_rows", "refills", "funds", "home"):
        body = logged_in.get(reverse(f"dashboard:{name}")).content.decode()
        assert "x.example/secret" not in body, name
        assert "other&#x27;s secret deposit" not in body and "other's secret deposit" not in body, name
    assert not logged_in.get(reverse("dashboard:orders"), {"q": str(others_order.pk)}).context["page"].object_list


def test_anothers_ticket_is_404_for_reading_and_replying(logged_in, other):
    ticket = ticket_open(user=other, subject="private", body="my secret", topic="other")
    assert logged_in.get(reverse("dashboard:ticket", args=[ticket.pk])).status_code == 404
    assert logged_in.post(reverse("dashboard:ticket", args=[ticket.pk]), {"message": "hi"}).status_code == 404
    assert logged_in.post(reverse("dashboard:ticket", args=[ticket.pk]), {"action": "close"}).status_code == 404
    assert ticket.messages.count() == 1
    assert "private" not in logged_in.get(reverse("dashboard:tickets")).content.decode()


def test_a_ticket_cannot_name_anothers_order(logged_in, others_order):
    response = logged_in.post(
        reverse("dashboard:tickets"), {"subject": "s", "topic": "order", "order_id": others_order.pk, "message": "m"}
    )
    assert "You have no order with this ID." in response.context["form"].errors["order_id"]


def test_anothers_deposits_are_not_listed(logged_in, other):
    method = PaymentMethod.objects.create(name="Bank")
    deposit_request_create(user=other, method=method, amount=77, reference="OTHER-REF-123")
    assert "OTHER-REF-123" not in logged_in.get(reverse("dashboard:add_funds")).content.decode()
    assert "77.00" not in logged_in.get(reverse("dashboard:add_funds")).content.decode()


@pytest.mark.parametrize(
    "name",
    [
        "home",
        "order_new",
        "order_mass",
        "orders",
        "refills",
        "services",
        "funds",
        "add_funds",
        "account",
        "tickets",
        "affiliates",
    ],
)
def test_pages_need_a_login(client, db, name):
    response = client.get(reverse(f"dashboard:{name}"))
    # A visitor at the dashboard's home is shown the public landing page instead (it has the
    # sign-in and sign-up links); every other page asks them to sign in.
    expected = reverse("site_pages:landing") if name == "home" else "/accounts/login/"
    assert response.status_code == 302 and response.url.startswith(expected)
    assert "_auth_user_id" not in client.session
