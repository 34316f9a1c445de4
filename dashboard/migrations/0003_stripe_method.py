from decimal import Decimal

from django.db import migrations


def create_stripe_method(apps, schema_editor):
    # The one Stripe method row: shown to customers only while the Stripe keys are configured.
    PaymentMethod = apps.get_model("dashboard", "PaymentMethod")
    PaymentMethod.objects.get_or_create(
        kind="stripe",
        defaults={"name": "Card (Stripe)", "min_amount": Decimal("5"), "max_amount": Decimal("5000"), "position": -1},
    )


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0002_gateway_payments")]

    operations = [migrations.RunPython(create_stripe_method, migrations.RunPython.noop)]
