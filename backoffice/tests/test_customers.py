"""Customer and payment actions: balance adjustments, bans, API keys, discounts, deposits."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from accounts.ledger import ledger_drift
from accounts.models import AuditLog, LedgerEntry, User
from accounts.services import api_key_rotate, user_by_api_key
from backoffice import services
from backoffice.forms import new_token
from billing.models import DepositRequest, PaymentMethod
from billing.services import deposit_request_create
from catalog.admin import customer_price_change


def adjust_url(user):
    return reverse("admin:bo_customer_action", args=[user.pk, "adjust"])


@pytest.fixture(autouse=True)
def ledger_adds_up(db):
    yield
    assert ledger_drift() == []


def test_adjustment_goes_through_the_ledger_and_is_audited(as_admin, customer):
    token = new_token()
    response = as_admin.post(adjust_url(customer), {"amount": "-12.5", "reason": "goodwill reversal", "token": token})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.balance == Decimal("987.5")
    entry = LedgerEntry.objects.get(kind="adjustment")
    assert entry.amount == Decimal("-12.5") and entry.actor.username == "boss"
    assert "goodwill reversal" in entry.memo
    row = AuditLog.objects.get(action="customer.balance_adjust")
    assert row.before == {"balance": "1000.00000"} and row.after["balance"] == "987.50000"
    assert row.reason == "goodwill reversal"


def test_adjustment_double_submit_moves_money_once(as_admin, customer):
    form = {"amount": "5", "reason": "bonus", "token": new_token()}
    as_admin.post(adjust_url(customer), form)
    as_admin.post(adjust_url(customer), form)
    customer.refresh_from_db()
    assert customer.balance == Decimal("1005")
    assert LedgerEntry.objects.filter(kind="adjustment").count() == 1
    assert AuditLog.objects.filter(action="customer.balance_adjust").count() == 1


@pytest.mark.django_db(transaction=True)
def test_adjustment_submitted_concurrently_moves_money_once(customer, admin_staff):
    token = new_token()
    outcomes, errors = [], []

    def submit():
        try:
            outcomes.append(
                services.balance_adjust(
                    user_id=customer.pk, amount=Decimal("7"), reason="race", token=token, actor_id=admin_staff.pk
                )
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(o.done for o in outcomes) == 1
    customer.refresh_from_db()
    assert customer.balance == Decimal("1007")
    assert AuditLog.objects.filter(action="customer.balance_adjust").count() == 1


def test_adjustment_needs_a_reason_and_never_overdraws(as_admin, customer, admin_staff):
    response = as_admin.post(adjust_url(customer), {"amount": "5", "reason": "", "token": new_token()})
    assert response.status_code == 200 and b"This field is required" in response.content
    with pytest.raises(services.ActionError, match="below zero"):
        services.balance_adjust(
            user_id=customer.pk, amount=Decimal("-1000.01"), reason="x", token=new_token(), actor_id=admin_staff.pk
        )
    with pytest.raises(services.ActionError, match="expired"):
        services.balance_adjust(
            user_id=customer.pk, amount=Decimal("1"), reason="x", token="replay", actor_id=admin_staff.pk
        )
    assert not LedgerEntry.objects.filter(kind="adjustment").exists()
    assert not AuditLog.objects.exists()


def test_ban_stops_logins_sessions_and_the_api_key(client, as_admin, customer, admin_staff):
    customer.set_password("a-Long-pass-123")
    customer.save()
    key = api_key_rotate(user=customer)
    from django.test import Client

    browser = Client()
    browser.force_login(customer)
    assert browser.get("/").status_code == 200

    as_admin.post(reverse("admin:bo_customer_action", args=[customer.pk, "ban"]), {"reason": "fraud"})
    as_admin.post(reverse("admin:bo_customer_action", args=[customer.pk, "ban"]), {"reason": "fraud"})
    customer.refresh_from_db()
    assert not customer.is_active
    assert user_by_api_key(key) is None
    assert browser.get("/").status_code == 302  # the session no longer authenticates
    assert not Client().login(username="buyer", password="a-Long-pass-123")
    assert AuditLog.objects.filter(action="customer.ban").count() == 1

    as_admin.post(reverse("admin:bo_customer_action", args=[customer.pk, "unban"]))
    assert user_by_api_key(key) is not None
    assert AuditLog.objects.filter(action="customer.unban").count() == 1


def test_staff_cannot_ban_themselves(admin_staff):
    with pytest.raises(services.ActionError):
        services.customer_set_active(user_id=admin_staff.pk, active=False, actor_id=admin_staff.pk)


def test_reset_api_key_shows_the_new_key_once_and_kills_the_old(as_admin, customer):
    old = api_key_rotate(user=customer)
    response = as_admin.post(reverse("admin:bo_customer_action", args=[customer.pk, "apikey"]))
    new = response.context["key"]
    assert new.encode() in response.content
    assert user_by_api_key(old) is None and user_by_api_key(new).pk == customer.pk
    row = AuditLog.objects.get(action="customer.api_key_reset")
    assert row.after == {"api_key_prefix": new[:8]} and new not in str(row.after)


def test_discount_edited_in_the_form_is_audited(as_admin, customer):
    page = as_admin.get(reverse("admin:accounts_user_change", args=[customer.pk]))
    form = page.context["adminform"].form
    data = {
        k: v
        for k, v in form.initial.items()
        if v is not None and k not in ("password", "groups", "user_permissions", "last_login")
    }
    data.update(
        {
            "discount_percent": "12.5",
            "date_joined_0": customer.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": "00:00:00",
        }
    )
    data.pop("date_joined", None)
    response = as_admin.post(reverse("admin:accounts_user_change", args=[customer.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    customer.refresh_from_db()
    assert customer.discount_percent == Decimal("12.5")
    row = AuditLog.objects.get(action="customer.discount")
    assert row.before == {"discount_percent": "0.00"} and row.after == {"discount_percent": "12.5"}


def test_custom_price_is_audited(customer, make_service, admin_staff):
    service = make_service("Default")
    customer_price_change(user_id=customer.pk, service_id=service.pk, rate=service.rate, actor_id=admin_staff.pk)
    customer_price_change(user_id=customer.pk, service_id=service.pk, rate=service.rate, actor_id=admin_staff.pk)
    assert AuditLog.objects.filter(action="customer.price").count() == 1


def test_deposit_approval_credits_once_and_is_audited(as_admin, customer):
    method = PaymentMethod.objects.create(name="Bank")
    deposit = deposit_request_create(user=customer, method=method, amount=Decimal("25"))
    changelist = reverse("admin:billing_depositrequest_changelist")
    for _ in range(2):
        as_admin.post(changelist, {"action": "approve", "_selected_action": [deposit.pk]})
    customer.refresh_from_db()
    assert customer.balance == Decimal("1025")
    assert LedgerEntry.objects.filter(kind="deposit", idempotency_key=f"deposit:{deposit.pk}").count() == 1
    row = AuditLog.objects.get(action="deposit.approve")
    assert row.before == {"status": "pending"} and row.after["status"] == "approved"
    # A decided deposit cannot be rejected afterwards.
    as_admin.post(changelist, {"action": "reject", "_selected_action": [deposit.pk]})
    assert DepositRequest.objects.get(pk=deposit.pk).status == "approved"


def test_deposit_rejection_moves_nothing(as_admin, customer):
    method = PaymentMethod.objects.create(name="Bank")
    deposit = deposit_request_create(user=customer, method=method, amount=Decimal("25"))
    as_admin.post(
        reverse("admin:billing_depositrequest_changelist"), {"action": "reject", "_selected_action": [deposit.pk]}
    )
    customer.refresh_from_db()
    assert customer.balance == Decimal("1000")
    assert AuditLog.objects.filter(action="deposit.reject").count() == 1
    assert User.objects.get(pk=customer.pk).ledger_entries.count() == 1
