"""Recount the daily report roll-ups from the orders (after changing TIME_ZONE, or to verify)."""

from django.core.management.base import BaseCommand
from django.db import connection

from orders.rollups import rollup_rebuild


class Command(BaseCommand):
    help = "Recount the daily report roll-ups from every order, in the current TIME_ZONE (PostgreSQL)."

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            self.stdout.write("Roll-ups are kept on PostgreSQL only; reports read the orders here.")
            return
        rollup_rebuild()
        self.stdout.write("Roll-ups rebuilt.")
