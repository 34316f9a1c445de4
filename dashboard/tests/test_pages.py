"""Services, funds history, account (API key, time zone), deposits, tickets, affiliates, allauth pages."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import LedgerEntry, User
from accounts.services import api_key_hash
from billing.models import Affiliate, Commission, DepositRequest, PaymentMethod
from billing.services import affiliate_get, deposit_approve
from catalog.models import CustomerPrice
from support.models import Ticket
from support.services import ticket_open, ticket_reply


def test_services_page_shows_the_customers_own_prices_and_searches(logged_in, customer, make_service):
    service = make_service("Default")
    other_service = make_service("Package")
    CustomerPrice.objects.create(user=customer, service=service, rate=service.rate * 3)
    body = logged_in.get(reverse("dashboard:services")).content.decode()
    assert service.category.name in body and other_service.name in body
    assert f"${service.rate * 3:,.5f}".rstrip("0") in body
    response = logged_in.get(reverse("dashboard:services"), {"q": other_service.name})
    assert [s.pk for s in response.context["services"]] == [other_service.pk]
    assert "No services match" in logged_in.get(reverse("dashboard:services"), {"q": "zzzz-nothing"}).content.decode()


def test_funds_history_lists_entries_with_order_links(logged_in, customer, make_service):
    from orders.placement import order_place

    service = make_service("Default")
    order = order_place(
        user=customer, service_id=service.pk, data={"link": "https://e.x/1", "quantity": service.min}
    ).order
    body = logged_in.get(reverse("dashboard:funds")).content.decode()
    assert reverse("dashboard:order", args=[order.pk]) in body and "test funds" in body
    response = logged_in.get(reverse("dashboard:funds"), {"kind": "deposit"})
    assert all(e.kind == "deposit" for e in response.context["page"].object_list)


def test_dates_are_in_the_customers_time_zone(logged_in, customer):
    LedgerEntry.objects.filter(user=customer).update(created_at=datetime(2030, 1, 1, 12, 0, tzinfo=UTC))
    customer.timezone = "Asia/Tokyo"
    customer.save()
    assert "2030-01-01 21:00" in logged_in.get(reverse("dashboard:funds")).content.decode()


def test_api_key_rotation_shows_the_new_key_once(logged_in, customer):
    response = logged_in.post(reverse("dashboard:account_api_key"))
    key = response.context["new_key"]
    customer.refresh_from_db()
    assert key in response.content.decode() and customer.api_key_hash == api_key_hash(key)
    assert response["Cache-Control"] == "no-store"
    body = logged_in.get(reverse("dashboard:account")).content.decode()
    assert key not in body and customer.api_key_prefix in body


def test_time_zone_form(logged_in, customer):
    logged_in.post(reverse("dashboard:account_timezone"), {"timezone": "Europe/Berlin"})
    customer.refresh_from_db()
    assert customer.timezone == "Europe/Berlin"
    response = logged_in.post(reverse("dashboard:account_timezone"), {"timezone": "Mars/Base"})
    assert response.status_code == 400 and response.context["tz_form"].errors["timezone"]


@pytest.fixture
def bank(db):
    return PaymentMethod.objects.create(
        name="Bank", instructions="IBAN XX", min_amount=Decimal("10"), max_amount=Decimal("500")
    )


def test_deposit_request_and_its_errors(logged_in, customer, bank):
    url = reverse("dashboard:add_funds")
    assert "IBAN XX" in logged_in.get(url).content.decode()
    response = logged_in.post(url, {"method": bank.pk, "amount": "5", "reference": "r"})
    assert "The minimum for this method is 10" in response.context["form"].errors["amount"][0]
    response = logged_in.post(url, {"method": bank.pk, "amount": "501"})
    assert "The maximum" in response.context["form"].errors["amount"][0]
    response = logged_in.post(url, {"method": bank.pk, "amount": "abc"})
    assert response.context["form"].errors["amount"]
    response = logged_in.post(url, {"method": 999, "amount": "20"})
    assert response.context["form"].errors["method"]
    response = logged_in.post(url, {"method": bank.pk, "amount": "20", "reference": "TX1"}, follow=True)
    deposit = DepositRequest.objects.get(user=customer)
    assert deposit.amount == 20 and deposit.status == "pending"
    assert f"Deposit request {deposit.pk} received" in response.content.decode()
    customer.refresh_from_db()
    assert customer.balance == Decimal("1000")


def test_admin_actions_approve_and_reject(admin_client, customer, bank):
    a = DepositRequest.objects.create(user=customer, method=bank, amount=Decimal("30"))
    b = DepositRequest.objects.create(user=customer, method=bank, amount=Decimal("40"))
    url = reverse("admin:billing_depositrequest_changelist")
    admin_client.post(url, {"action": "approve", "_selected_action": [a.pk]})
    admin_client.post(url, {"action": "reject", "_selected_action": [b.pk]})
    admin_client.post(url, {"action": "approve", "_selected_action": [a.pk, b.pk]})
    customer.refresh_from_db()
    assert customer.balance == Decimal("1030")
    assert DepositRequest.objects.get(pk=b.pk).status == "rejected"


def test_affiliate_commission_on_referred_deposits(client, customer, bank, db):
    referrer = affiliate_get(user=customer)
    Affiliate.objects.filter(pk=referrer.pk).update(commission_percent=Decimal("10"))
    client.get(reverse("dashboard:referral", args=[referrer.code]))
    response = client.post(
        reverse("account_signup"),
        {
            "email": "new@example.com",
            "username": "newbie",
            "password1": "a-Long-pass-123",
            "password2": "a-Long-pass-123",
        },
    )
    assert response.status_code == 302
    newbie = User.objects.get(username="newbie")
    assert newbie.affiliate.referred_by == customer
    deposit = DepositRequest.objects.create(user=newbie, method=bank, amount=Decimal("50"))
    deposit_approve(deposit_id=deposit.pk)
    deposit_approve(deposit_id=deposit.pk)
    # The commission accrues as earnings (paid out on request), it is not balance.
    customer.refresh_from_db()
    assert customer.balance == Decimal("1000")
    commission = Commission.objects.get()
    assert (commission.amount, commission.payout, commission.deposit) == (Decimal("5"), None, deposit)
    client.force_login(customer)
    body = client.get(reverse("dashboard:affiliates")).content.decode()
    assert referrer.code in body and "$5.00" in body and "Unpaid" in body


def test_tickets_open_reply_close_and_errors(logged_in, customer, admin_user):
    url = reverse("dashboard:tickets")
    response = logged_in.post(url, {"subject": "", "topic": "order", "message": ""})
    errors = response.context["form"].errors
    assert {"subject", "message", "order_id"} <= set(errors)
    response = logged_in.post(url, {"subject": "Payment", "topic": "payment", "message": "I paid"})
    ticket = Ticket.objects.get(user=customer)
    assert response.url == reverse("dashboard:ticket", args=[ticket.pk])
    ticket_reply(ticket=ticket, author=admin_user, body="Credited, thanks")
    ticket.refresh_from_db()
    assert ticket.status == "answered"
    body = logged_in.get(response.url).content.decode()
    assert "Credited, thanks" in body and "Support" in body
    assert logged_in.post(response.url, {"message": ""}).context["form"].errors["message"]
    logged_in.post(response.url, {"message": "More"})
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.messages.count() == 3
    logged_in.post(response.url, {"action": "close"})
    ticket.refresh_from_db()
    assert ticket.status == "closed"


def test_staff_reply_from_the_admin(admin_client, customer):
    ticket = ticket_open(user=customer, subject="Help", body="?", topic="other")
    url = reverse("admin:support_ticket_change", args=[ticket.pk])
    data = {
        "subject": "Help",
        "topic": "other",
        "status": "open",
        "messages-TOTAL_FORMS": "2",
        "messages-INITIAL_FORMS": "1",
        "messages-MIN_NUM_FORMS": "0",
        "messages-MAX_NUM_FORMS": "1000",
        "messages-0-id": ticket.messages.first().pk,
        "messages-0-ticket": ticket.pk,
        "messages-1-body": "Staff answer",
        "messages-1-ticket": ticket.pk,
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content[:3000]
    ticket.refresh_from_db()
    assert ticket.status == "answered" and ticket.messages.last().is_staff


@pytest.mark.parametrize("name", ["account_login", "account_signup", "account_reset_password"])
def test_allauth_pages_use_our_layout(client, db, name):
    body = client.get(reverse(name)).content.decode()
    assert "css/panel.css" in body and "guest-card" in body


def test_allauth_signup_errors_beside_fields(client, db):
    response = client.post(
        reverse("account_signup"), {"email": "bad", "username": "", "password1": "x", "password2": "y"}
    )
    body = response.content.decode()
    assert response.status_code == 200 and "has-error" in body


def test_allauth_manage_pages_in_the_app_shell(logged_in):
    for name in ("account_change_password", "account_email", "mfa_index"):
        body = logged_in.get(reverse(name)).content.decode()
        assert "sidebar" in body, name


def test_login_logout(client, customer):
    customer.set_password("a-Long-pass-123")
    customer.email = "buyer@example.com"
    customer.save()
    response = client.post(reverse("account_login"), {"login": "buyer", "password": "a-Long-pass-123"})
    assert response.status_code == 302
    assert "Welcome back, buyer" in client.get("/").content.decode()
    client.post(reverse("account_logout"))
    assert client.get("/").status_code == 302
