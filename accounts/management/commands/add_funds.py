import uuid
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from accounts.ledger import money
from accounts.models import LedgerEntry, User
from accounts.services import BalanceBelowZero, BalanceRefused, balance_adjust


class Command(BaseCommand):
    help = (
        "Record a deposit (or, with --adjustment, a signed correction) on a customer's balance, with its "
        "audit row. Running it again with the same --key records nothing more."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("amount")
        parser.add_argument("--memo", required=True, help="Why: shown in the customer's funds history.")
        parser.add_argument("--adjustment", action="store_true", help="Record an adjustment; AMOUNT may be negative.")
        parser.add_argument(
            "--key",
            help="Idempotency key (e.g. the bank transfer's ID). A key used before moves nothing. "
            "Default: a fresh one, printed, to re-run the same movement safely.",
        )

    def handle(self, *args, username, amount, memo, adjustment, key, **options):
        try:
            value = Decimal(amount)
        except InvalidOperation:
            raise CommandError(f"{amount!r} is not a number.") from None
        if not value.is_finite() or value != money(value):
            raise CommandError("The amount must be a finite number with at most 5 decimal places.")
        if not adjustment and value <= 0:
            raise CommandError("A deposit must be positive; use --adjustment for a correction.")
        key = (key or uuid.uuid4().hex).strip()
        if not key or len(key) > 100:
            raise CommandError("--key must be 1 to 100 characters.")
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No customer named {username!r}.")
        kind = LedgerEntry.Kind.ADJUSTMENT if adjustment else LedgerEntry.Kind.DEPOSIT
        try:
            posting = balance_adjust(
                user_id=user.pk,
                amount=value,
                kind=kind,
                reason=memo,
                idempotency_key=f"add-funds:{key}",
                actor_id=None,
            )
        except BalanceBelowZero:
            raise CommandError(f"{username} has only {user.balance}: the balance cannot go below zero.") from None
        except BalanceRefused as exc:
            raise CommandError(str(exc)) from None
        entry = posting.entry
        if not posting.created:
            self.stdout.write(
                f"{username}: key {key} was already used (ledger entry {entry.pk}, {entry.kind} {entry.amount}); "
                "nothing recorded"
            )
            return
        self.stdout.write(f"{username}: {entry.kind} {entry.amount}, balance {entry.balance_after}")
        self.stdout.write(f"key {key}")
