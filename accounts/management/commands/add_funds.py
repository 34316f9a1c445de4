from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from accounts.ledger import InsufficientFunds, LedgerError, ledger_post, money
from accounts.models import LedgerEntry, User


class Command(BaseCommand):
    help = "Record a deposit (or, with --adjustment, a signed correction) on a customer's balance."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("amount")
        parser.add_argument("--memo", required=True, help="Why: shown in the customer's funds history.")
        parser.add_argument("--adjustment", action="store_true", help="Record an adjustment; AMOUNT may be negative.")

    def handle(self, *args, username, amount, memo, adjustment, **options):
        try:
            value = Decimal(amount)
        except InvalidOperation:
            raise CommandError(f"{amount!r} is not a number.") from None
        if not value.is_finite() or value != money(value):
            raise CommandError("The amount must be a finite number with at most 5 decimal places.")
        if not adjustment and value <= 0:
            raise CommandError("A deposit must be positive; use --adjustment for a correction.")
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No customer named {username!r}.")
        kind = LedgerEntry.Kind.ADJUSTMENT if adjustment else LedgerEntry.Kind.DEPOSIT
        try:
            posting = ledger_post(user_id=user.pk, amount=value, kind=kind, memo=memo)
        except InsufficientFunds:
            raise CommandError(f"{username} has only {user.balance}: the balance cannot go below zero.") from None
        except LedgerError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{username}: {posting.entry.kind} {posting.entry.amount}, balance {posting.entry.balance_after}"
        )
