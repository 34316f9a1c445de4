"""The rows of before the gateway layer: card payments become Stripe deposits of the Stripe method
(charged as much as credited, at rate 1; a paid one keeps its session as transaction, so its ledger
key stripe:<session id> stays the key), and every commission so far was credited to the balance
when the deposit was made (nothing of it is owed as a payout)."""

from decimal import Decimal

from django.db import migrations
from django.db.models import F


def forwards(apps, schema_editor):
    PaymentMethod = apps.get_model("billing", "PaymentMethod")
    Deposit = apps.get_model("billing", "Deposit")
    Commission = apps.get_model("billing", "Commission")
    if Deposit.objects.exists():
        stripe = PaymentMethod.objects.filter(kind="stripe").order_by("pk").first()
        if stripe is None:
            stripe = PaymentMethod.objects.create(
                name="Card (Stripe)", kind="stripe", min_amount=Decimal("5"), enabled=False, position=-1
            )
        Deposit.objects.filter(method__isnull=True).update(method=stripe)
    Deposit.objects.filter(charge_amount__isnull=True).update(charge_amount=F("amount"))
    Deposit.objects.filter(status="paid", transaction_id__isnull=True).update(transaction_id=F("external_id"))
    Deposit.objects.filter(ledger_entry_id__isnull=False).update(credited=F("amount"), received_amount=F("amount"))
    Commission.objects.update(credited_at_deposit=True)


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_gateways")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
