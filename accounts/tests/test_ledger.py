from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.ledger import InsufficientFunds, LedgerError, ledger_credit, ledger_debit, ledger_drift, ledger_post
from accounts.models import LedgerEntry, User
from testing.concurrency import run_together

D = Decimal


@pytest.fixture
def customer(db):
    return User.objects.create(username="alice")


def test_credit_and_debit_move_balance_and_record_entries(customer):
    ledger_credit(user_id=customer.pk, amount=D("10.50000"), memo="card")
    ledger_debit(user_id=customer.pk, amount=D("0.27819"), order_id=7)
    customer.refresh_from_db()
    assert customer.balance == D("10.22181")
    entries = list(LedgerEntry.objects.filter(user=customer).order_by("id"))
    assert [(e.kind, e.amount, e.balance_after) for e in entries] == [
        ("deposit", D("10.50000"), D("10.50000")),
        ("charge", D("-0.27819"), D("10.22181")),
    ]
    assert entries[1].order_id == 7
    assert ledger_drift() == []


def test_debit_beyond_balance_is_refused_and_nothing_moves(customer):
    ledger_credit(user_id=customer.pk, amount=D("1"))
    with pytest.raises(InsufficientFunds) as exc:
        ledger_debit(user_id=customer.pk, amount=D("1.00001"))
    assert str(exc.value) == "Not enough funds on balance"
    customer.refresh_from_db()
    assert customer.balance == D("1")
    assert LedgerEntry.objects.filter(user=customer).count() == 1


def test_exact_balance_can_be_spent_to_zero(customer):
    ledger_credit(user_id=customer.pk, amount=D("2.5"))
    ledger_debit(user_id=customer.pk, amount=D("2.5"))
    customer.refresh_from_db()
    assert customer.balance == 0


def test_idempotency_key_makes_a_replay_a_no_op(customer):
    ledger_credit(user_id=customer.pk, amount=D("5"))
    first = ledger_credit(user_id=customer.pk, amount=D("1.5"), kind="refund", idempotency_key="refund:42")
    again = ledger_credit(user_id=customer.pk, amount=D("1.5"), kind="refund", idempotency_key="refund:42")
    assert first.created and not again.created
    assert again.entry.pk == first.entry.pk
    customer.refresh_from_db()
    assert customer.balance == D("6.5")
    assert ledger_drift() == []


def test_a_replayed_debit_stays_a_no_op_when_the_balance_no_longer_covers_it(customer):
    ledger_credit(user_id=customer.pk, amount=D("3"))
    first = ledger_debit(user_id=customer.pk, amount=D("2"), idempotency_key="charge:9")
    again = ledger_debit(user_id=customer.pk, amount=D("2"), idempotency_key="charge:9")
    assert not again.created and again.entry.pk == first.entry.pk
    customer.refresh_from_db()
    assert customer.balance == D("1")
    with pytest.raises(InsufficientFunds):
        ledger_debit(user_id=customer.pk, amount=D("2"), idempotency_key="charge:10")
    assert LedgerEntry.objects.filter(user=customer).count() == 2
    assert ledger_drift() == []


def test_a_refused_debit_inside_a_caller_transaction_leaves_it_usable(customer):
    ledger_credit(user_id=customer.pk, amount=D("1"))
    with transaction.atomic():
        with pytest.raises(InsufficientFunds):
            ledger_debit(user_id=customer.pk, amount=D("5"))
        ledger_debit(user_id=customer.pk, amount=D("0.5"))
    customer.refresh_from_db()
    assert customer.balance == D("0.5")
    assert ledger_drift() == []


@pytest.mark.parametrize(
    "amount, message",
    [(D("0.000001"), "more than 5 decimal places"), (D("0"), "zero")],
)
def test_bad_amounts_are_refused(customer, amount, message):
    with pytest.raises(LedgerError, match=message):
        ledger_post(user_id=customer.pk, amount=amount, kind="adjustment")


def test_database_refuses_a_negative_balance_even_outside_the_ledger(customer):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=customer.pk).update(balance=D("-0.00001"))


def test_database_refuses_an_entry_whose_sign_contradicts_its_kind(customer):
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(user=customer, kind="charge", amount=D("1"), balance_after=D("1"))


def test_drift_is_detected_and_named(customer):
    ledger_credit(user_id=customer.pk, amount=D("3"))
    User.objects.filter(pk=customer.pk).update(balance=D("4"))
    drift = ledger_drift()
    assert [(d.username, d.balance, d.ledger_sum) for d in drift] == [("alice", D("4"), D("3"))]


@pytest.mark.django_db(transaction=True)
def test_fifty_threads_debiting_one_balance_never_overdraw_or_lose_an_entry():
    """50 connections debit 1.00 each from a balance of 30.00 at once: exactly 30 succeed."""
    assert connection.vendor == "postgresql"
    user = User.objects.create(username="contended")
    ledger_credit(user_id=user.pk, amount=D("30"))

    def spend(i: int) -> str:
        try:
            ledger_debit(user_id=user.pk, amount=D("1"), memo=f"thread {i}")
            return "ok"
        except InsufficientFunds:
            return "refused"

    outcomes = run_together(50, spend)

    assert outcomes.count("ok") == 30
    assert outcomes.count("refused") == 20
    user.refresh_from_db()
    assert user.balance == 0
    charges = LedgerEntry.objects.filter(user=user, kind="charge")
    assert charges.count() == 30
    # Every entry's balance_after is distinct: no two debits read the same starting balance.
    assert sorted(charges.values_list("balance_after", flat=True)) == [D(n) for n in range(30)]
    assert ledger_drift() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_of_one_idempotency_key_move_money_once():
    user = User.objects.create(username="replayed")
    ledger_credit(user_id=user.pk, amount=D("1"))
    created = run_together(
        20, lambda _: ledger_credit(user_id=user.pk, amount=D("2"), kind="refund", idempotency_key="refund:1").created
    )
    assert created.count(True) == 1 and len(created) == 20
    user.refresh_from_db()
    assert user.balance == D("3")
    assert ledger_drift() == []
