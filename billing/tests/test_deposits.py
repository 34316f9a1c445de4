"""Manual deposits: approving credits once through the ledger; every staff decision is audited."""

from decimal import Decimal

import pytest

from accounts.models import AuditLog, LedgerEntry
from billing.models import DepositRequest, PaymentMethod
from billing.services import DepositError, deposit_approve, deposit_reject, deposit_request_create


@pytest.fixture
def bank(db):
    return PaymentMethod.objects.create(
        name="Bank", instructions="IBAN XX", min_amount=Decimal("10"), max_amount=Decimal("500")
    )


def test_approving_credits_once_through_the_ledger(customer, bank, admin_user):
    deposit = DepositRequest.objects.create(user=customer, method=bank, amount=Decimal("25"))
    assert deposit_approve(deposit_id=deposit.pk, actor_id=admin_user.pk)
    assert not deposit_approve(deposit_id=deposit.pk, actor_id=admin_user.pk)
    assert not deposit_reject(deposit_id=deposit.pk)
    entry = LedgerEntry.objects.get(idempotency_key=f"deposit:{deposit.pk}")
    assert entry.amount == 25 and entry.actor == admin_user
    customer.refresh_from_db()
    assert customer.balance == Decimal("1025")


def test_each_decision_writes_one_audit_row(customer, bank, admin_user):
    approved = deposit_request_create(user=customer, method=bank, amount=Decimal("20"), reference="TX1")
    rejected = deposit_request_create(user=customer, method=bank, amount=Decimal("30"))
    assert deposit_approve(deposit_id=approved.pk, actor_id=admin_user.pk, note="seen on the statement")
    assert deposit_reject(deposit_id=rejected.pk, actor_id=admin_user.pk, note="no such transfer")
    assert not deposit_approve(deposit_id=approved.pk, actor_id=admin_user.pk)
    assert not deposit_approve(deposit_id=rejected.pk, actor_id=admin_user.pk)
    row = AuditLog.objects.get(action="deposit.approve")
    entry = LedgerEntry.objects.get(idempotency_key=f"deposit:{approved.pk}")
    assert (row.actor, row.object_type, row.object_id) == (admin_user, "billing.depositrequest", str(approved.pk))
    assert row.before == {"status": "pending"}
    assert row.after == {"status": "approved", "amount": "20.00000", "ledger_entry": entry.pk}
    assert row.reason == "seen on the statement"
    row = AuditLog.objects.get(action="deposit.reject")
    assert row.object_id == str(rejected.pk) and row.after["status"] == "rejected"
    assert AuditLog.objects.count() == 2
    assert DepositRequest.objects.get(pk=approved.pk).actor == admin_user


def test_a_request_outside_the_limits_is_refused(customer, bank):
    with pytest.raises(DepositError):
        deposit_request_create(user=customer, method=bank, amount=Decimal("5"))
    bank.enabled = False
    bank.save()
    with pytest.raises(DepositError):
        deposit_request_create(user=customer, method=bank, amount=Decimal("50"))
    assert not DepositRequest.objects.exists()
