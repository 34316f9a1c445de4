from django.core.management.base import BaseCommand, CommandError

from accounts.ledger import ledger_drift
from accounts.models import User


class Command(BaseCommand):
    help = "Verify that every balance equals the sum of its ledger entries; exit non-zero naming any drift."

    def handle(self, *args, **options):
        drift = ledger_drift()
        if drift:
            for row in drift:
                self.stderr.write(
                    f"DRIFT {row.username} (id {row.user_id}): balance {row.balance} != ledger {row.ledger_sum}"
                )
            raise CommandError(f"{len(drift)} customer(s) drift: {', '.join(r.username for r in drift)}")
        self.stdout.write(f"ledger OK: {User.objects.count()} accounts, every balance equals its ledger")
