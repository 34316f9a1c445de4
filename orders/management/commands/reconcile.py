from django.core.management.base import BaseCommand, CommandError

from orders.maintenance import reconcile


class Command(BaseCommand):
    help = "Reconcile balances, refunds and provider charges; write a report; exit non-zero on issues."

    def handle(self, *args, **options):
        report = reconcile()
        self.stdout.write(report.summary)
        if not report.ok:
            raise CommandError("reconciliation found issues; see the report in the admin")
