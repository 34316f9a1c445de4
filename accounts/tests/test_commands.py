from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.ledger import ledger_credit
from accounts.models import LedgerEntry, User
from accounts.services import api_key_hash, api_key_rotate, user_by_api_key

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_create_customer_prints_the_key_alone_on_the_last_line_and_stores_only_its_hash():
    out = run("create_customer", "bob", "--email", "bob@example.com", "--password", "s3cret-Pass", "--balance", "100")
    key = out.strip().splitlines()[-1]
    assert len(key) == 48 and key.isalnum()
    bob = User.objects.get(username="bob")
    assert bob.balance == Decimal("100")
    assert bob.check_password("s3cret-Pass")
    assert bob.api_key_hash == api_key_hash(key) and key not in bob.api_key_hash
    assert bob.api_key_prefix == key[:8]
    assert user_by_api_key(key) == bob
    assert LedgerEntry.objects.get(user=bob).kind == "deposit"


def test_create_customer_again_tops_up_through_the_ledger_and_keeps_the_key():
    first_key = run("create_customer", "bob").strip().splitlines()[-1]
    out = run("create_customer", "bob", "--balance", "5.5")
    assert "API key unchanged" in out
    bob = User.objects.get(username="bob")
    assert bob.balance == Decimal("5.5")
    assert user_by_api_key(first_key) == bob


def test_rotating_a_key_invalidates_the_old_one():
    bob = User.objects.create(username="bob")
    old = api_key_rotate(user=bob)
    new = api_key_rotate(user=bob)
    assert old != new
    assert user_by_api_key(old) is None
    assert user_by_api_key(new) == bob


def test_inactive_users_and_garbage_keys_do_not_authenticate():
    bob = User.objects.create(username="bob", is_active=False)
    key = api_key_rotate(user=bob)
    assert user_by_api_key(key) is None
    assert user_by_api_key("") is None
    assert user_by_api_key("x" * 1000) is None


def test_add_funds_records_a_deposit_with_its_memo():
    User.objects.create(username="carol")
    run("add_funds", "carol", "12.34567", "--memo", "bank transfer 991")
    entry = LedgerEntry.objects.get(user__username="carol")
    assert (entry.kind, entry.amount, entry.memo) == ("deposit", Decimal("12.34567"), "bank transfer 991")


@pytest.mark.parametrize(
    "args, message",
    [
        (("nobody", "5"), "No customer"),
        (("carol", "abc"), "not a number"),
        (("carol", "-5"), "must be positive"),
        (("carol", "1.000001"), "5 decimal places"),
        (("carol", "-5", "--adjustment"), "cannot go below zero"),
    ],
)
def test_add_funds_errors(args, message):
    User.objects.create(username="carol")
    with pytest.raises(CommandError, match=message):
        run("add_funds", *args, "--memo", "x")


def test_add_funds_negative_adjustment_within_balance():
    carol = User.objects.create(username="carol")
    ledger_credit(user_id=carol.pk, amount=Decimal("10"))
    run("add_funds", "carol", "-2.5", "--adjustment", "--memo", "chargeback")
    carol.refresh_from_db()
    assert carol.balance == Decimal("7.5")


def test_check_ledger_passes_then_names_the_drifting_customer():
    dave = User.objects.create(username="dave")
    ledger_credit(user_id=dave.pk, amount=Decimal("3"))
    assert "ledger OK" in run("check_ledger")
    User.objects.filter(pk=dave.pk).update(balance=Decimal("9"))
    with pytest.raises(CommandError, match="dave"):
        run("check_ledger")
