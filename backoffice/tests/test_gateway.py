"""Payments in the backoffice: methods with their gateway's settings (secrets write-only and
encrypted) and a connection test, deposits with their raw events and review flags, reversals,
bonus tiers and payout requests, each decision permission-checked and audited."""

from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from accounts.ledger import ledger_drift
from accounts.models import AuditLog, LedgerEntry, User
from billing.affiliates import payout_request_create
from billing.models import (
    Affiliate,
    AffiliateSettings,
    Commission,
    Deposit,
    DepositRequest,
    GatewayEvent,
    PaymentMethod,
    PayoutRequest,
    Reversal,
)
from testing.gateways.stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe


@pytest.fixture
def card(db):
    return PaymentMethod.objects.get_or_create(kind="stripe", defaults={"name": "Card (Stripe)"})[0]


@pytest.fixture
def paid(customer, card):
    deposit = Deposit.objects.create(
        user=customer,
        method=card,
        gateway="stripe",
        amount=Decimal("20"),
        charge_amount=Decimal("20"),
        charge_currency="USD",
        status="paid",
        external_id="cs_test_bo",
        transaction_id="cs_test_bo",
    )
    GatewayEvent.objects.create(
        gateway="stripe",
        event_id="evt_bo_1",
        type="paid",
        payload={"raw": {"id": "evt_bo_1", "data": {"object": {"id": "cs_test_bo", "amount_total": 2000}}}},
        deposit=deposit,
        processed=True,
        outcome="Paid: credited 20.",
    )
    Deposit.objects.create(
        user=customer,
        method=card,
        gateway="stripe",
        amount=Decimal("7"),
        charge_amount=Decimal("7"),
        charge_currency="USD",
        status="pending",
        needs_review=True,
        note="mismatch",
    )
    return deposit


def test_deposit_list_filters_and_searches(as_admin, customer, paid):
    url = reverse("admin:billing_deposit_changelist")
    response = as_admin.get(url)
    assert response.status_code == 200 and response.context["cl"].result_count == 2
    assert as_admin.get(url, {"needs_review__exact": "1"}).context["cl"].result_count == 1
    assert as_admin.get(url, {"status__exact": "paid"}).context["cl"].result_count == 1
    assert as_admin.get(url, {"customer": customer.username}).context["cl"].result_count == 2
    assert as_admin.get(url, {"q": "cs_test_bo"}).context["cl"].result_count == 1


def test_deposit_page_shows_its_raw_events_read_only(as_admin, paid):
    response = as_admin.get(reverse("admin:billing_deposit_change", args=[paid.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "evt_bo_1" in body and "Paid: credited 20." in body and "&quot;amount_total&quot;: 2000" in body
    assert 'name="_save"' not in body
    assert as_admin.get(reverse("admin:billing_deposit_add")).status_code == 403
    assert as_admin.post(reverse("admin:billing_deposit_delete", args=[paid.pk]), {"post": "yes"}).status_code == 403
    assert Deposit.objects.filter(pk=paid.pk).exists()


def test_event_list_and_page(as_admin, paid):
    response = as_admin.get(reverse("admin:billing_gatewayevent_changelist"), {"type": "paid"})
    assert response.status_code == 200 and "evt_bo_1" in response.content.decode()
    event = GatewayEvent.objects.get()
    body = as_admin.get(reverse("admin:billing_gatewayevent_change", args=[event.pk])).content.decode()
    assert "cs_test_bo" in body and "Paid: credited 20." in body


def test_customer_page_lists_deposits(as_admin, customer, paid):
    body = as_admin.get(reverse("admin:accounts_user_change", args=[customer.pk])).content.decode()
    assert "Deposits" in body and reverse("admin:billing_deposit_change", args=[paid.pk]) in body
    assert "needs review" in body


def test_staff_credit_a_deposit_by_hand_once_audited(as_admin, admin_staff, customer, paid):
    open_one = Deposit.objects.get(status="pending")
    url = reverse("admin:billing_deposit_changelist")
    for _ in range(2):
        as_admin.post(url, {"action": "credit_manually", "_selected_action": [open_one.pk, paid.pk]})
    open_one.refresh_from_db()
    assert open_one.status == "paid" and not open_one.needs_review
    assert User.objects.get(pk=customer.pk).balance == Decimal("1007")
    row = AuditLog.objects.get(action="deposit.credit")
    assert (row.actor, row.object_id) == (admin_staff, str(open_one.pk))
    assert ledger_drift() == []


def test_support_cannot_credit_deposits_or_touch_methods(as_support, paid, card):
    # Support reads deposits and reversals (answering "where is my payment?"), and acts on none.
    assert as_support.get(reverse("admin:billing_deposit_changelist")).status_code == 200
    assert as_support.get(reverse("admin:billing_deposit_change", args=[paid.pk])).status_code == 200
    assert as_support.get(reverse("admin:billing_reversal_changelist")).status_code == 200
    open_one = Deposit.objects.get(status="pending")
    as_support.post(
        reverse("admin:billing_deposit_changelist"), {"action": "credit_manually", "_selected_action": [open_one.pk]}
    )
    assert Deposit.objects.get(pk=open_one.pk).status == "pending"
    assert as_support.get(reverse("admin:billing_paymentmethod_change", args=[card.pk])).status_code in (200, 403)
    response = as_support.post(reverse("admin:billing_paymentmethod_change", args=[card.pk]), {"name": "Hacked"})
    assert response.status_code == 403 and PaymentMethod.objects.get(pk=card.pk).name != "Hacked"


def method_post(method, **changes) -> dict:
    data = {
        "name": method.name,
        "kind": method.kind,
        "enabled": "on",
        "position": "0",
        "instructions": "",
        "min_amount": "5",
        "max_amount": "",
        "fee_percent": "2.5",
        "fee_fixed": "0",
        "currency": "",
        "rate": "1",
    }
    data.update(changes)
    return data


def test_method_settings_come_from_the_gateway_and_secrets_stay_write_only(as_admin, card):
    url = reverse("admin:billing_paymentmethod_change", args=[card.pk])
    body = as_admin.get(url).content.decode()
    assert 'name="gw_secret_key"' in body and 'name="gw_webhook_secret"' in body
    response = as_admin.post(url, method_post(card, gw_secret_key=SECRET_KEY, gw_webhook_secret=WEBHOOK_SECRET))
    assert response.status_code == 302, response.content.decode()[:2000]
    card.refresh_from_db()
    assert card.config() == {"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}
    assert card.fee_percent == Decimal("2.5")
    # Encrypted at rest: the column holds neither secret.
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM billing_paymentmethod WHERE id = %s", [card.pk])
        stored = cursor.fetchone()[0]
    assert SECRET_KEY not in stored and WEBHOOK_SECRET not in stored
    # Never rendered back, only a hint; an empty box keeps what is on file.
    body = as_admin.get(url).content.decode()
    assert SECRET_KEY not in body and WEBHOOK_SECRET not in body and f"…{SECRET_KEY[-4:]}" in body
    assert as_admin.post(url, method_post(card, fee_percent="1")).status_code == 302
    card.refresh_from_db()
    assert card.config()["secret_key"] == SECRET_KEY and card.fee_percent == 1
    changelist = as_admin.get(reverse("admin:billing_paymentmethod_changelist")).content.decode()
    assert reverse("dashboard:payment_notify", args=[card.pk]) in changelist


def test_several_methods_per_gateway_each_with_its_notify_url(as_admin, card):
    second = PaymentMethod.objects.create(name="Card, second account", kind="stripe")
    assert second.pk != card.pk
    body = as_admin.get(reverse("admin:billing_paymentmethod_changelist")).content.decode()
    assert f"/payments/notify/{card.pk}/" in body and f"/payments/notify/{second.pk}/" in body


def test_test_connection_says_what_the_gateway_answered_without_secrets(as_admin, card, settings):
    fake = FakeStripe(secret_key=SECRET_KEY)
    fake.start()
    try:
        settings.PAYMENT_GATEWAY_BASE_URLS = {"stripe": fake.url}
        card.set_secret_values({"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET})
        card.save()
        url = reverse("admin:billing_paymentmethod_changelist")
        body = as_admin.post(url, {"action": "test_connection", "_selected_action": [card.pk]}, follow=True)
        assert "Connected to Stripe (test mode)" in body.content.decode()
        fake.secret_key = "sk_test_rotated"
        body = as_admin.post(url, {"action": "test_connection", "_selected_action": [card.pk]}, follow=True)
        text = body.content.decode()
        assert "AuthenticationError" in text and SECRET_KEY not in text
    finally:
        fake.stop()


def test_reversals_are_applied_or_dismissed_by_money_staff_once(as_admin, admin_staff, customer, paid):
    Deposit.objects.filter(pk=paid.pk).update(ledger_entry_id=1, credited=Decimal("20"))
    first = Reversal.objects.create(
        deposit=paid, kind="refunded", gateway_amount=Decimal("20"), gateway_currency="USD", amount=Decimal("20")
    )
    second = Reversal.objects.create(
        deposit=paid, kind="chargeback", gateway_amount=Decimal("20"), gateway_currency="USD", amount=Decimal("20")
    )
    url = reverse("admin:billing_reversal_changelist")
    for _ in range(2):
        as_admin.post(url, {"action": "apply_reversal", "_selected_action": [first.pk]})
    as_admin.post(url, {"action": "dismiss", "_selected_action": [second.pk]})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.recovered, first.not_recovered) == ("applied", Decimal("20"), Decimal("0"))
    assert second.status == "dismissed"
    assert User.objects.get(pk=customer.pk).balance == Decimal("980")
    assert LedgerEntry.objects.get(idempotency_key=f"reversal:{first.pk}").amount == Decimal("-20")
    assert {row.action for row in AuditLog.objects.all()} == {"reversal.apply", "reversal.dismiss"}
    assert ledger_drift() == []


def test_support_cannot_apply_reversals(client, support_staff, paid):
    reversal = Reversal.objects.create(
        deposit=paid, kind="refunded", gateway_amount=Decimal("20"), gateway_currency="USD", amount=Decimal("20")
    )
    client.force_login(support_staff)
    client.post(
        reverse("admin:billing_reversal_changelist"), {"action": "apply_reversal", "_selected_action": [reversal.pk]}
    )
    assert Reversal.objects.get(pk=reversal.pk).status == "open"


@pytest.fixture
def earner(customer, db):
    """A referrer with 12 in unpaid commissions on two manual deposits of their referral."""
    referrer = User.objects.create(username="referrer")
    Affiliate.objects.create(user=referrer, code="REFX", commission_percent=Decimal("10"))
    Affiliate.objects.create(user=customer, code="BUYX", referred_by=referrer)
    method = PaymentMethod.objects.create(name="Bank")
    for amount in (Decimal("70"), Decimal("50")):
        deposit = DepositRequest.objects.create(user=customer, method=method, amount=amount)
        from billing.services import deposit_approve

        deposit_approve(deposit_id=deposit.pk)
    assert sum(c.amount for c in Commission.objects.all()) == Decimal("12")
    return referrer


def test_payout_credit_once_audited(as_admin, admin_staff, earner):
    payout = payout_request_create(user=earner)
    url = reverse("admin:billing_payoutrequest_changelist")
    for _ in range(2):
        as_admin.post(url, {"action": "credit", "_selected_action": [payout.pk]})
    payout.refresh_from_db()
    assert payout.status == "credited" and User.objects.get(pk=earner.pk).balance == Decimal("12")
    entry = LedgerEntry.objects.get(idempotency_key=f"payout:{payout.pk}")
    assert (entry.kind, entry.amount) == ("commission", Decimal("12"))
    row = AuditLog.objects.get(action="payout.credited")
    assert (row.actor, row.after["amount"]) == (admin_staff, "12.00000")
    assert ledger_drift() == []


def test_payout_paid_outside_moves_no_balance_and_reject_frees_the_commissions(as_admin, earner):
    url = reverse("admin:billing_payoutrequest_changelist")
    payout = payout_request_create(user=earner)
    as_admin.post(url, {"action": "reject", "_selected_action": [payout.pk]})
    assert PayoutRequest.objects.get(pk=payout.pk).status == "rejected"
    assert not Commission.objects.filter(payout__isnull=False).exists()
    again = payout_request_create(user=earner)
    as_admin.post(url, {"action": "mark_paid", "_selected_action": [again.pk]})
    again.refresh_from_db()
    assert again.status == "paid_outside" and again.amount == Decimal("12")
    assert User.objects.get(pk=earner.pk).balance == 0


def test_support_cannot_decide_payouts(client, support_staff, earner):
    payout = payout_request_create(user=earner)
    client.force_login(support_staff)
    client.post(
        reverse("admin:billing_payoutrequest_changelist"), {"action": "credit", "_selected_action": [payout.pk]}
    )
    assert PayoutRequest.objects.get(pk=payout.pk).status == "pending"


def test_bonus_tiers_and_the_payout_threshold_are_edited_here(as_admin):
    response = as_admin.post(
        reverse("admin:billing_bonustier_add"), {"min_amount": "100", "percent": "5", "enabled": "on"}
    )
    assert response.status_code == 302
    assert as_admin.get(reverse("admin:billing_affiliatesettings_changelist")).status_code == 200
    settings_row = AffiliateSettings.load()
    response = as_admin.post(
        reverse("admin:billing_affiliatesettings_change", args=[settings_row.pk]), {"payout_threshold": "25"}
    )
    assert response.status_code == 302 and AffiliateSettings.load().payout_threshold == 25
