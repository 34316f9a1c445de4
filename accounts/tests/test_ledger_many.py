"""ledger_post_many: a batch of movements under ledger_post's rules, in one transaction."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.ledger import InsufficientFunds, LedgerError, Movement, ledger_credit, ledger_drift, ledger_post_many
from accounts.models import LedgerEntry, User
from testing.concurrency import run_together

D = Decimal


def refund(user, n, amount="1.00000", key=None):
    return Movement(user_id=user.pk, amount=D(amount), kind="refund", order_id=n, idempotency_key=key or f"refund:{n}")


@pytest.fixture
def users(db):
    return [User.objects.create(username=f"u{i}") for i in range(3)]


def test_one_entry_per_movement_in_order_and_each_balance_written_once(users):
    a, b, c = users
    movements = [refund(c, 1, "2.50000"), refund(a, 2), refund(c, 3, "0.00001"), refund(b, 4, "3.00000")]
    with CaptureQueriesContext(connection) as queries:
        postings = ledger_post_many(movements)
    # Savepoint, lock, key look-up, one INSERT, one UPDATE, release: whatever the batch's size.
    assert len(queries) <= 6
    assert [p.created for p in postings] == [True] * 4
    assert [p.entry.idempotency_key for p in postings] == ["refund:1", "refund:2", "refund:3", "refund:4"]
    assert all(p.entry.pk for p in postings)
    for user, balance in ((a, "1.00000"), (b, "3.00000"), (c, "2.50001")):
        user.refresh_from_db()
        assert user.balance == D(balance)
    # Each entry's balance_after is the running balance of its user.
    assert [e.balance_after for e in LedgerEntry.objects.filter(user=c).order_by("id")] == [D("2.5"), D("2.50001")]
    assert ledger_drift() == []


def test_used_keys_move_nothing_and_return_the_entry_that_did(users):
    a, b, _ = users
    first = ledger_credit(user_id=a.pk, amount=D("5"), kind="refund", idempotency_key="refund:1").entry
    postings = ledger_post_many([refund(a, 1, "5.00000"), refund(b, 2), refund(b, 2)])
    assert [p.created for p in postings] == [False, True, False]
    assert postings[0].entry.pk == first.pk
    assert postings[2].entry.pk == postings[1].entry.pk
    assert LedgerEntry.objects.filter(idempotency_key="refund:2").count() == 1
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.balance, b.balance) == (D("5"), D("1"))
    assert ledger_post_many([refund(a, 1, "5.00000"), refund(b, 2)])[1].created is False
    assert ledger_drift() == []


def test_an_overdraft_anywhere_moves_nothing(users):
    a, b, _ = users
    ledger_credit(user_id=a.pk, amount=D("1"))
    with pytest.raises(InsufficientFunds):
        ledger_post_many(
            [refund(b, 1), Movement(user_id=a.pk, amount=D("-2"), kind="charge", idempotency_key="charge:x")]
        )
    assert not LedgerEntry.objects.filter(idempotency_key__in=["refund:1", "charge:x"]).exists()
    b.refresh_from_db()
    assert b.balance == 0
    assert ledger_drift() == []


def test_bad_movements_are_refused_before_anything_moves(users):
    a, _, _ = users
    for bad in (
        Movement(user_id=a.pk, amount=D("0"), kind="refund"),
        Movement(user_id=a.pk, amount=D("0.000001"), kind="refund"),
        Movement(user_id=a.pk, amount=D("1"), kind="gift"),
    ):
        with pytest.raises(LedgerError):
            ledger_post_many([refund(a, 1), bad])
    assert not LedgerEntry.objects.exists()
    with pytest.raises(User.DoesNotExist):
        ledger_post_many([refund(a, 1), Movement(user_id=10**9, amount=D("1"), kind="refund")])
    assert not LedgerEntry.objects.exists()
    assert ledger_post_many([]) == []


@pytest.mark.django_db(transaction=True)
def test_batches_and_single_postings_racing_on_the_same_keys_move_each_once():
    users = [User.objects.create(username=f"r{i}") for i in range(4)]
    for round_ in range(3):
        keys = [(user, f"refund:{round_}:{i}") for i, user in enumerate(users * 5)]

        def work(index, keys=keys):
            if index % 2:
                # Users in another order each time: the locks are still taken in ID order.
                ordered = keys[::-1] if index % 4 == 1 else keys
                ledger_post_many([refund(user, 0, "0.10000", key) for user, key in ordered])
            else:
                for user, key in keys[index:] + keys[:index]:
                    ledger_credit(user_id=user.pk, amount=D("0.10000"), kind="refund", idempotency_key=key)

        run_together(6, work)
        for _, key in keys:
            assert LedgerEntry.objects.filter(idempotency_key=key).count() == 1
    for user in users:
        user.refresh_from_db()
        assert user.balance == D("0.10000") * 5 * 3
    assert ledger_drift() == []
