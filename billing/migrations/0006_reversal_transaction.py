from django.db import migrations, models

# Gateways whose reports already carried the refund's or dispute's own ID. Stripe's named the
# Checkout Session and Paystack's the payment (or nothing), so their rows keep no reference.
OWN_IDS = ("paypal", "razorpay", "cryptomus")


def references_copy(apps, schema_editor):
    """Reversals recorded before this migration get the ID their report carried, once per deposit."""
    Reversal = apps.get_model("billing", "Reversal")
    seen = set()
    rows = Reversal.objects.filter(deposit__gateway__in=OWN_IDS, event__isnull=False).select_related("event")
    for reversal in rows.order_by("pk"):
        report = (reversal.event.payload or {}).get("report") or {}
        reference = str(report.get("transaction_id") or "")[:255]
        if not reference or (reversal.deposit_id, reference) in seen:
            continue
        seen.add((reversal.deposit_id, reference))
        Reversal.objects.filter(pk=reversal.pk).update(transaction_id=reference)


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_gateways_constraints")]

    operations = [
        migrations.AddField(
            model_name="reversal",
            name="settled_by",
            field=models.CharField(blank=True, default="", max_length=255, verbose_name="settled by"),
        ),
        migrations.AddField(
            model_name="reversal",
            name="transaction_id",
            field=models.CharField(blank=True, default="", max_length=255, verbose_name="gateway reference"),
        ),
        migrations.RunPython(references_copy, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="reversal",
            constraint=models.UniqueConstraint(
                condition=models.Q(("transaction_id", ""), _negated=True),
                fields=("deposit", "transaction_id"),
                name="reversal_transaction_once",
            ),
        ),
    ]
