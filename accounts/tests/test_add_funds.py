"""add_funds goes through the audited balance service with an idempotency key."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.ledger import ledger_credit
from accounts.models import AuditLog, LedgerEntry, User
from accounts.services import BalanceBelowZero, BalanceRefused, balance_adjust

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_a_deposit_writes_its_audit_row_and_prints_its_key():
    carol = User.objects.create(username="carol")
    out = run("add_funds", "carol", "12.5", "--memo", "bank transfer 991")
    key = out.strip().splitlines()[-1].removeprefix("key ")
    entry = LedgerEntry.objects.get(user=carol)
    assert entry.idempotency_key == f"add-funds:{key}" and len(key) == 32
    row = AuditLog.objects.get()
    assert (row.action, row.actor, row.object_type, row.object_id) == (
        "customer.deposit",
        None,
        "accounts.user",
        str(carol.pk),
    )
    assert row.before == {"balance": "0.00000"} and row.after["balance"] == "12.50000"
    assert row.after["ledger_entry"] == entry.pk and row.reason == "bank transfer 991"


def test_the_same_key_again_records_nothing():
    carol = User.objects.create(username="carol")
    run("add_funds", "carol", "10", "--memo", "transfer", "--key", "bank-tx-77")
    out = run("add_funds", "carol", "10", "--memo", "transfer", "--key", "bank-tx-77")
    assert "already used" in out and "nothing recorded" in out
    carol.refresh_from_db()
    assert carol.balance == Decimal("10")
    assert LedgerEntry.objects.filter(user=carol).count() == 1
    assert AuditLog.objects.count() == 1


def test_a_fresh_key_each_run_without_one():
    carol = User.objects.create(username="carol")
    run("add_funds", "carol", "1", "--memo", "a")
    run("add_funds", "carol", "1", "--memo", "a")
    carol.refresh_from_db()
    assert carol.balance == Decimal("2") and AuditLog.objects.count() == 2


def test_an_adjustment_is_audited_as_one():
    carol = User.objects.create(username="carol")
    ledger_credit(user_id=carol.pk, amount=Decimal("10"))
    run("add_funds", "carol", "-2.5", "--adjustment", "--memo", "chargeback", "--key", "cb-1")
    row = AuditLog.objects.get()
    assert row.action == "customer.balance_adjust" and Decimal(row.after["amount"]) == Decimal("-2.5")


def test_a_refused_movement_writes_nothing():
    User.objects.create(username="carol")
    with pytest.raises(CommandError, match="cannot go below zero"):
        run("add_funds", "carol", "-5", "--adjustment", "--memo", "x", "--key", "k")
    with pytest.raises(CommandError, match="--key"):
        run("add_funds", "carol", "5", "--memo", "x", "--key", "k" * 101)
    assert not LedgerEntry.objects.exists() and not AuditLog.objects.exists()


def test_balance_adjust_refuses_without_a_reason_or_below_zero(customer, admin_user):
    with pytest.raises(BalanceRefused, match="reason"):
        balance_adjust(user_id=customer.pk, amount=Decimal("1"), reason=" ", idempotency_key="a", actor_id=None)
    with pytest.raises(BalanceBelowZero):
        balance_adjust(
            user_id=customer.pk, amount=-customer.balance - 1, reason="x", idempotency_key="b", actor_id=admin_user.pk
        )
    posting = balance_adjust(
        user_id=customer.pk, amount=Decimal("3"), reason="goodwill", idempotency_key="c", actor_id=admin_user.pk
    )
    again = balance_adjust(
        user_id=customer.pk, amount=Decimal("3"), reason="goodwill", idempotency_key="c", actor_id=admin_user.pk
    )
    assert posting.created and not again.created and again.entry.pk == posting.entry.pk
    assert AuditLog.objects.filter(actor=admin_user, action="customer.balance_adjust").count() == 1
