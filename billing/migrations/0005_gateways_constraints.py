import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_gateways_data")]

    operations = [
        migrations.AlterField(
            model_name="deposit",
            name="method",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="deposits", to="billing.paymentmethod"
            ),
        ),
        migrations.AlterField(
            model_name="deposit",
            name="charge_amount",
            field=models.DecimalField(decimal_places=10, max_digits=30, verbose_name="charge amount"),
        ),
        migrations.AddConstraint(
            model_name="deposit",
            constraint=models.CheckConstraint(condition=models.Q(("charge_amount__gt", 0)), name="deposit_charge_positive"),
        ),
        migrations.AddConstraint(
            model_name="deposit",
            constraint=models.CheckConstraint(
                condition=models.Q(("fee__gte", 0), ("bonus__gte", 0)), name="deposit_fee_bonus_not_negative"
            ),
        ),
        migrations.AddConstraint(
            model_name="deposit",
            constraint=models.UniqueConstraint(fields=("gateway", "external_id"), name="gateway_payment_external_unique"),
        ),
        migrations.AddConstraint(
            model_name="deposit",
            constraint=models.UniqueConstraint(fields=("gateway", "transaction_id"), name="deposit_transaction_unique"),
        ),
        migrations.AddIndex(
            model_name="deposit",
            index=models.Index(fields=["status", "created_at"], name="deposit_status_created"),
        ),
        migrations.AddConstraint(
            model_name="commission",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("deposit__isnull", False), ("gateway_deposit__isnull", True)),
                    models.Q(("deposit__isnull", True), ("gateway_deposit__isnull", False)),
                    _connector="OR",
                ),
                name="commission_one_source",
            ),
        ),
    ]
