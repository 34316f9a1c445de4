"""Payment methods backed by gateway modules; GatewayPayment becomes Deposit (rows kept), with
fee, bonus, the charge amount and currency with its rate, and a transaction ID unique per gateway;
gateway events keyed per gateway; reversals, bonus tiers and affiliate payouts."""

import billing.models
import django.core.validators
import django.db.models.deletion
import encrypted_model_fields.fields
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models

CHARGE = {"max_digits": 30, "decimal_places": 10}
RATE = {"max_digits": 24, "decimal_places": 10}
MONEY = {"max_digits": 18, "decimal_places": 5}


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_actor"),
        ("accounts", "0004_ledger_bonus_commission"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # --- Payment methods: any gateway code, several per gateway, fees, currency and rate, settings.
        migrations.RemoveConstraint(model_name="paymentmethod", name="payment_method_one_stripe"),
        migrations.AlterField(
            model_name="paymentmethod",
            name="kind",
            field=models.CharField(
                choices=billing.models.kind_choices, default="manual", max_length=32, verbose_name="gateway"
            ),
        ),
        migrations.AddField(
            model_name="paymentmethod",
            name="fee_percent",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("0"),
                help_text="Paid by the customer on top of the amount, shown before paying.",
                max_digits=5,
                validators=[
                    django.core.validators.MinValueValidator(Decimal("0")),
                    django.core.validators.MaxValueValidator(Decimal("50")),
                ],
                verbose_name="fee percent",
            ),
        ),
        migrations.AddField(
            model_name="paymentmethod",
            name="fee_fixed",
            field=models.DecimalField(
                default=Decimal("0"),
                help_text="In the panel's currency, paid by the customer on top of the amount.",
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
                verbose_name="fixed fee",
                **MONEY,
            ),
        ),
        migrations.AddField(
            model_name="paymentmethod",
            name="currency",
            field=models.CharField(
                blank=True,
                help_text="The currency the gateway charges in (ISO code, or the crypto processor's). Empty: the panel's.",
                max_length=16,
                verbose_name="charge currency",
            ),
        ),
        migrations.AddField(
            model_name="paymentmethod",
            name="rate",
            field=models.DecimalField(
                default=Decimal("1"),
                help_text="Units of the charge currency per one unit of the panel's currency, recorded on each deposit.",
                validators=[django.core.validators.MinValueValidator(Decimal("0.0000000001"))],
                verbose_name="rate",
                **RATE,
            ),
        ),
        migrations.AddField(
            model_name="paymentmethod",
            name="settings",
            field=models.JSONField(blank=True, default=dict, verbose_name="settings"),
        ),
        migrations.AddField(
            model_name="paymentmethod",
            name="secrets",
            field=encrypted_model_fields.fields.EncryptedTextField(
                blank=True, default="", verbose_name="secret settings"
            ),
        ),
        migrations.AddConstraint(
            model_name="paymentmethod",
            constraint=models.CheckConstraint(
                condition=models.Q(("fee_percent__gte", 0), ("fee_percent__lte", 50)),
                name="payment_method_fee_percent_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="paymentmethod",
            constraint=models.CheckConstraint(
                condition=models.Q(("fee_fixed__gte", 0)), name="payment_method_fee_fixed_not_negative"
            ),
        ),
        migrations.AddConstraint(
            model_name="paymentmethod",
            constraint=models.CheckConstraint(condition=models.Q(("rate__gt", 0)), name="payment_method_rate_positive"),
        ),
        # --- Manual deposit requests remember the fee and bonus shown.
        migrations.AddField(
            model_name="depositrequest",
            name="fee",
            field=models.DecimalField(default=Decimal("0"), verbose_name="fee", **MONEY),
        ),
        migrations.AddField(
            model_name="depositrequest",
            name="bonus",
            field=models.DecimalField(default=Decimal("0"), verbose_name="bonus", **MONEY),
        ),
        # --- GatewayPayment becomes Deposit.
        migrations.RemoveConstraint(model_name="gatewaypayment", name="gateway_payment_external_unique"),
        migrations.RemoveConstraint(model_name="commission", name="commission_one_source"),
        migrations.RenameModel(old_name="GatewayPayment", new_name="Deposit"),
        migrations.RenameField(model_name="deposit", old_name="provider", new_name="gateway"),
        migrations.AlterField(
            model_name="deposit", name="gateway", field=models.CharField(max_length=32, verbose_name="gateway")
        ),
        migrations.RenameField(model_name="deposit", old_name="currency", new_name="charge_currency"),
        migrations.AlterField(
            model_name="deposit",
            name="charge_currency",
            field=models.CharField(max_length=16, verbose_name="charge currency"),
        ),
        migrations.AlterField(
            model_name="deposit",
            name="user",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="gateway_deposits",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="deposit",
            name="status",
            field=models.CharField(
                choices=[
                    ("created", "Created"),
                    ("pending", "Pending"),
                    ("paid", "Paid"),
                    ("partial", "Partly paid"),
                    ("failed", "Failed"),
                    ("expired", "Expired"),
                ],
                default="created",
                max_length=10,
                verbose_name="status",
            ),
        ),
        migrations.AlterField(
            model_name="deposit",
            name="external_id",
            field=models.CharField(blank=True, max_length=255, null=True, verbose_name="gateway order ID"),
        ),
        migrations.AlterField(
            model_name="deposit",
            name="needs_review",
            field=models.BooleanField(
                default=False,
                help_text="The gateway reported something that needs a person.",
                verbose_name="needs review",
            ),
        ),
        migrations.AddField(
            model_name="deposit",
            name="method",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="deposits",
                to="billing.paymentmethod",
            ),
        ),
        migrations.AddField(
            model_name="deposit",
            name="fee",
            field=models.DecimalField(default=Decimal("0"), verbose_name="fee", **MONEY),
        ),
        migrations.AddField(
            model_name="deposit",
            name="bonus",
            field=models.DecimalField(default=Decimal("0"), verbose_name="bonus", **MONEY),
        ),
        migrations.AddField(
            model_name="deposit",
            name="charge_amount",
            field=models.DecimalField(null=True, verbose_name="charge amount", **CHARGE),
        ),
        migrations.AddField(
            model_name="deposit",
            name="rate",
            field=models.DecimalField(default=Decimal("1"), verbose_name="rate", **RATE),
        ),
        migrations.AddField(
            model_name="deposit", name="refunded", field=models.BooleanField(default=False, verbose_name="refunded")
        ),
        migrations.AddField(
            model_name="deposit",
            name="charged_back",
            field=models.BooleanField(default=False, verbose_name="charged back"),
        ),
        migrations.AddField(
            model_name="deposit",
            name="transaction_id",
            field=models.CharField(blank=True, max_length=255, null=True, verbose_name="gateway transaction ID"),
        ),
        migrations.AddField(
            model_name="deposit",
            name="received_amount",
            field=models.DecimalField(blank=True, null=True, verbose_name="received", **CHARGE),
        ),
        migrations.AddField(
            model_name="deposit",
            name="credited",
            field=models.DecimalField(default=Decimal("0"), verbose_name="credited", **MONEY),
        ),
        migrations.AddField(
            model_name="deposit",
            name="checkout",
            field=models.JSONField(blank=True, default=dict, verbose_name="checkout"),
        ),
        # --- Gateway events: keyed per gateway, linked to the deposit and the method.
        migrations.RenameField(model_name="gatewayevent", old_name="provider", new_name="gateway"),
        migrations.AlterField(
            model_name="gatewayevent",
            name="gateway",
            field=models.CharField(default="stripe", max_length=32, verbose_name="gateway"),
        ),
        migrations.RenameField(model_name="gatewayevent", old_name="payment", new_name="deposit"),
        migrations.AlterField(
            model_name="gatewayevent",
            name="event_id",
            field=models.CharField(max_length=255, verbose_name="event ID"),
        ),
        migrations.AddField(
            model_name="gatewayevent",
            name="method",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="billing.paymentmethod",
            ),
        ),
        migrations.AddField(
            model_name="gatewayevent",
            name="needs_review",
            field=models.BooleanField(default=False, verbose_name="needs review"),
        ),
        migrations.AddConstraint(
            model_name="gatewayevent",
            constraint=models.UniqueConstraint(fields=("gateway", "event_id"), name="gateway_event_unique"),
        ),
        # --- Reversals, bonus tiers, affiliate settings and payouts.
        migrations.CreateModel(
            name="Reversal",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[("refunded", "Refund"), ("chargeback", "Chargeback")],
                        max_length=16,
                        verbose_name="kind",
                    ),
                ),
                ("gateway_amount", models.DecimalField(verbose_name="amount at the gateway", **CHARGE)),
                ("gateway_currency", models.CharField(max_length=16, verbose_name="currency at the gateway")),
                (
                    "amount",
                    models.DecimalField(
                        help_text="In the panel's currency.", verbose_name="amount to take back", **MONEY
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("open", "Waiting for review"), ("applied", "Applied"), ("dismissed", "Dismissed")],
                        default="open",
                        max_length=10,
                        verbose_name="status",
                    ),
                ),
                ("recovered", models.DecimalField(default=Decimal("0"), verbose_name="recovered", **MONEY)),
                ("not_recovered", models.DecimalField(default=Decimal("0"), verbose_name="not recovered", **MONEY)),
                ("ledger_entry_id", models.BigIntegerField(blank=True, editable=False, null=True)),
                ("note", models.CharField(blank=True, max_length=255, verbose_name="note")),
                ("decided_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "deposit",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="reversals", to="billing.deposit"
                    ),
                ),
                (
                    "event",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="billing.gatewayevent",
                    ),
                ),
            ],
            options={
                "ordering": ["-id"],
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("amount__gte", 0)), name="reversal_amount_not_negative"),
                    models.CheckConstraint(
                        condition=models.Q(("recovered__gte", 0), ("not_recovered__gte", 0)),
                        name="reversal_recovered_not_negative",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="BonusTier",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("min_amount", models.DecimalField(unique=True, verbose_name="from amount", **MONEY)),
                (
                    "percent",
                    models.DecimalField(
                        decimal_places=2,
                        max_digits=5,
                        validators=[
                            django.core.validators.MinValueValidator(Decimal("0.01")),
                            django.core.validators.MaxValueValidator(Decimal("100")),
                        ],
                        verbose_name="bonus percent",
                    ),
                ),
                ("enabled", models.BooleanField(default=True, verbose_name="enabled")),
            ],
            options={
                "ordering": ["min_amount"],
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("min_amount__gt", 0)), name="bonus_tier_min_positive"),
                    models.CheckConstraint(
                        condition=models.Q(("percent__gt", 0), ("percent__lte", 100)), name="bonus_tier_percent_range"
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="AffiliateSettings",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "payout_threshold",
                    models.DecimalField(
                        default=Decimal("10"),
                        help_text="A referrer may ask for a payout once their unpaid commissions reach this amount.",
                        validators=[django.core.validators.MinValueValidator(Decimal("0.01"))],
                        verbose_name="payout threshold",
                        **MONEY,
                    ),
                ),
            ],
            options={"verbose_name": "affiliate settings", "verbose_name_plural": "affiliate settings"},
        ),
        migrations.CreateModel(
            name="PayoutRequest",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("amount", models.DecimalField(verbose_name="amount", **MONEY)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("credited", "Credited to balance"),
                            ("paid_outside", "Paid outside the panel"),
                            ("rejected", "Rejected"),
                        ],
                        default="pending",
                        max_length=16,
                        verbose_name="status",
                    ),
                ),
                ("staff_note", models.CharField(blank=True, max_length=255, verbose_name="staff note")),
                ("ledger_entry_id", models.BigIntegerField(blank=True, editable=False, null=True)),
                ("decided_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="payout_requests",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-id"],
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("amount__gt", 0)), name="payout_amount_positive"),
                    models.UniqueConstraint(
                        condition=models.Q(("status", "pending")), fields=("user",), name="payout_one_open"
                    ),
                ],
            },
        ),
        # --- Commissions accrue and are paid out on request.
        migrations.RenameField(model_name="commission", old_name="gateway_payment", new_name="gateway_deposit"),
        migrations.AddField(
            model_name="commission",
            name="payout",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="commissions",
                to="billing.payoutrequest",
            ),
        ),
        migrations.AddField(
            model_name="commission",
            name="credited_at_deposit",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AlterField(
            model_name="affiliate",
            name="commission_percent",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("0"),
                help_text="Share of referred customers' deposits this customer earns.",
                max_digits=5,
                validators=[
                    django.core.validators.MinValueValidator(Decimal("0")),
                    django.core.validators.MaxValueValidator(Decimal("50")),
                ],
                verbose_name="commission percent",
            ),
        ),
    ]
