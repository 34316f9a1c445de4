from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from accounts.services import api_key_rotate, customer_create


class Command(BaseCommand):
    help = "Create a customer (or top up an existing one) and print its new API key on the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--password")
        parser.add_argument("--balance", default="0", help="Deposit this amount through the ledger.")
        parser.add_argument("--rotate-key", action="store_true", help="Issue a new API key for an existing customer.")

    def handle(self, *args, username, email, password, balance, rotate_key, **options):
        try:
            amount = Decimal(balance)
        except InvalidOperation:
            raise CommandError(f"--balance {balance!r} is not a number.") from None
        if amount < 0:
            raise CommandError("--balance cannot be negative; use add_funds with an adjustment instead.")
        result = customer_create(username=username, email=email, password=password, balance=amount)
        key = result.api_key
        if key is None and rotate_key:
            key = api_key_rotate(user=result.user)
        verb = "Created" if result.created else "Updated"
        self.stdout.write(f"{verb} customer {result.user.username}; balance {result.user.balance}")
        if key:
            self.stdout.write(key)
        else:
            self.stdout.write(
                f"API key unchanged (prefix {result.user.api_key_prefix}); pass --rotate-key for a new one"
            )
