import time

from django.core.management.base import BaseCommand

from orders.polling import poll_batch, poll_pass


class Command(BaseCommand):
    help = "Run one polling pass in the foreground: every due order, in batches of 100 per provider."

    def handle(self, *args, **options):
        started = time.monotonic()
        changed = 0

        def run(provider_id: int, ids: list[int]) -> None:
            nonlocal changed
            changed += poll_batch(provider_id=provider_id, order_ids=ids)

        result = poll_pass(enqueue=run)
        self.stdout.write(
            f"polled {result.orders} orders in {result.batches} batches, {changed} changed, "
            f"{time.monotonic() - started:.2f} s"
        )
