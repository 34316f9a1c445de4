from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.ledger import ledger_credit
from accounts.models import User
from accounts.services import api_key_rotate
from upstream.services import provider_upsert

DEMO_STAFF = ("admin", "admin@example.com", "admin")
DEMO_CUSTOMER = ("demo", "demo@example.com", "demo")
DEMO_BALANCE = Decimal("100")
DEMO_PROVIDER = "Simulator"
DEMO_PROVIDER_KEY = "demo-sim-key"


class Command(BaseCommand):
    help = "Create the demo's staff user, customer and simulated provider (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--simulator-url", default="http://127.0.0.1:8081/api/v2")

    @transaction.atomic
    def handle(self, *args, simulator_url, **options):
        # The simulator honours idempotency keys: a lost `add` answer is resent with the same key.
        provider, _ = provider_upsert(
            name=DEMO_PROVIDER, api_url=simulator_url, api_key=DEMO_PROVIDER_KEY, honours_idempotency_keys=True
        )
        username, email, password = DEMO_STAFF
        staff, created = User.objects.get_or_create(
            username=username, defaults={"email": email, "is_staff": True, "is_superuser": True}
        )
        if created:
            staff.set_password(password)
            staff.save()
        username, email, password = DEMO_CUSTOMER
        customer, created = User.objects.get_or_create(username=username, defaults={"email": email})
        key_line = f"API key prefix {customer.api_key_prefix} (rotate it in the dashboard to see a new one)"
        if created:
            customer.set_password(password)
            customer.save()
            key_line = f"API key {api_key_rotate(user=customer)}"
            ledger_credit(user_id=customer.pk, amount=DEMO_BALANCE, memo="Demo balance", idempotency_key="demo:seed")
        self.stdout.write(f"provider: {provider.name} at {provider.api_url}")
        self.stdout.write(f"staff login: {DEMO_STAFF[0]} / {DEMO_STAFF[2]}")
        self.stdout.write(f"customer login: {DEMO_CUSTOMER[0]} / {DEMO_CUSTOMER[2]}; {key_line}")
