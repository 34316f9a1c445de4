"""Billing takes over the money models of the dashboard app, with their rows: payment methods,
deposit requests, gateway payments and events, affiliates and commissions."""

import django.core.validators
import django.db.models.deletion
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models




def move_content_types(apps, moves):
    """Re-label content types (and so their permissions and admin log entries) from the old app
    to the new one; one that already exists under the new app is left as it is."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for old_app, model, new_app in moves:
        if not ContentType.objects.filter(app_label=new_app, model=model).exists():
            ContentType.objects.filter(app_label=old_app, model=model).update(app_label=new_app)


def relabel_audit_rows(apps, moves):
    AuditLog = apps.get_model("accounts", "AuditLog")
    for old_app, model, new_app in moves:
        AuditLog.objects.filter(object_type=f"{old_app}.{model}").update(object_type=f"{new_app}.{model}")


MOVES = [
    ("dashboard", "depositrequest", "billing"),
    ("dashboard", "gatewaypayment", "billing"),
    ("dashboard", "gatewayevent", "billing"),
    ("dashboard", "commission", "billing"),
    ("dashboard", "paymentmethod", "billing"),
    ("dashboard", "affiliate", "billing"),
]


def forwards(apps, schema_editor):
    move_content_types(apps, MOVES)
    relabel_audit_rows(apps, MOVES)


def backwards(apps, schema_editor):
    back = [(new_app, model, old_app) for old_app, model, new_app in MOVES]
    move_content_types(apps, back)
    relabel_audit_rows(apps, back)

class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('dashboard', '0003_stripe_method'),
        ('accounts', '0002_auditlog'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The tables exist already (under their old app's name): this app takes over the
        # models in the migration state only, then renames the tables to its own names.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='DepositRequest',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('amount', models.DecimalField(decimal_places=5, max_digits=18, verbose_name='amount')),
                        ('reference', models.CharField(blank=True, help_text='Transaction ID, sender, or a note.', max_length=255, verbose_name='payment reference')),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('approved', 'Approved'), ('rejected', 'Rejected')], default='pending', max_length=10, verbose_name='status')),
                        ('staff_note', models.CharField(blank=True, max_length=255, verbose_name='staff note')),
                        ('ledger_entry_id', models.BigIntegerField(blank=True, editable=False, null=True)),
                        ('decided_at', models.DateTimeField(blank=True, editable=False, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('decided_by', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='deposit_requests', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'dashboard_depositrequest',
                        'ordering': ['-id'],
                    },
                ),
                migrations.CreateModel(
                    name='GatewayPayment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('provider', models.CharField(choices=[('stripe', 'Stripe')], default='stripe', max_length=16, verbose_name='provider')),
                        ('amount', models.DecimalField(decimal_places=5, max_digits=18, verbose_name='amount')),
                        ('currency', models.CharField(max_length=3, verbose_name='currency')),
                        ('status', models.CharField(choices=[('created', 'Created'), ('pending', 'Pending'), ('paid', 'Paid'), ('failed', 'Failed'), ('expired', 'Expired')], default='created', max_length=10, verbose_name='status')),
                        ('external_id', models.CharField(blank=True, max_length=255, null=True, verbose_name='provider session ID')),
                        ('checkout_url', models.URLField(blank=True, max_length=2000)),
                        ('needs_review', models.BooleanField(default=False, help_text='The provider reported something we did not credit.', verbose_name='needs review')),
                        ('note', models.CharField(blank=True, max_length=255, verbose_name='note')),
                        ('ledger_entry_id', models.BigIntegerField(blank=True, editable=False, null=True)),
                        ('paid_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='gateway_payments', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'dashboard_gatewaypayment',
                        'ordering': ['-id'],
                    },
                ),
                migrations.CreateModel(
                    name='GatewayEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('provider', models.CharField(default='stripe', max_length=16)),
                        ('event_id', models.CharField(max_length=255, unique=True, verbose_name='event ID')),
                        ('type', models.CharField(db_index=True, max_length=100, verbose_name='type')),
                        ('payload', models.JSONField(verbose_name='payload')),
                        ('processed', models.BooleanField(default=False, verbose_name='processed')),
                        ('outcome', models.CharField(blank=True, max_length=255, verbose_name='outcome')),
                        ('received_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('processed_at', models.DateTimeField(blank=True, null=True)),
                        ('payment', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='billing.gatewaypayment')),
                    ],
                    options={
                        'db_table': 'dashboard_gatewayevent',
                        'ordering': ['-id'],
                    },
                ),
                migrations.CreateModel(
                    name='Commission',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('amount', models.DecimalField(decimal_places=5, max_digits=18)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('affiliate', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='commissions', to=settings.AUTH_USER_MODEL)),
                        ('referred', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('deposit', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='commission', to='billing.depositrequest')),
                        ('gateway_payment', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='commission', to='billing.gatewaypayment')),
                    ],
                    options={
                        'db_table': 'dashboard_commission',
                        'ordering': ['-id'],
                    },
                ),
                migrations.CreateModel(
                    name='PaymentMethod',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=100, verbose_name='name')),
                        ('kind', models.CharField(choices=[('manual', 'Manual (staff approve)'), ('stripe', 'Card via Stripe Checkout')], default='manual', max_length=16, verbose_name='kind')),
                        ('instructions', models.TextField(blank=True, help_text='Shown to the customer.', verbose_name='instructions')),
                        ('min_amount', models.DecimalField(decimal_places=5, default=Decimal('1'), max_digits=18, verbose_name='minimum amount')),
                        ('max_amount', models.DecimalField(blank=True, decimal_places=5, max_digits=18, null=True, verbose_name='maximum amount')),
                        ('enabled', models.BooleanField(default=True, verbose_name='enabled')),
                        ('position', models.IntegerField(default=0, verbose_name='position')),
                    ],
                    options={
                        'db_table': 'dashboard_paymentmethod',
                        'ordering': ['position', 'id'],
                        'constraints': [models.CheckConstraint(condition=models.Q(('min_amount__gt', 0)), name='payment_method_min_positive'), models.UniqueConstraint(condition=models.Q(('kind', 'stripe')), fields=('kind',), name='payment_method_one_stripe')],
                    },
                ),
                migrations.AddField(
                    model_name='depositrequest',
                    name='method',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='requests', to='billing.paymentmethod'),
                ),
                migrations.CreateModel(
                    name='Affiliate',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('code', models.CharField(max_length=16, unique=True)),
                        ('commission_percent', models.DecimalField(decimal_places=2, default=Decimal('0'), help_text="Share of referred customers' deposits credited to this customer.", max_digits=5, validators=[django.core.validators.MinValueValidator(Decimal('0')), django.core.validators.MaxValueValidator(Decimal('50'))], verbose_name='commission percent')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('referred_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='referrals', to=settings.AUTH_USER_MODEL)),
                        ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='affiliate', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'dashboard_affiliate',
                        'constraints': [models.CheckConstraint(condition=models.Q(('commission_percent__gte', 0), ('commission_percent__lte', 50)), name='affiliate_commission_range')],
                    },
                ),
                migrations.AddIndex(
                    model_name='gatewaypayment',
                    index=models.Index(fields=['user', '-id'], name='gateway_payment_user_recent'),
                ),
                migrations.AddConstraint(
                    model_name='gatewaypayment',
                    constraint=models.CheckConstraint(condition=models.Q(('amount__gt', 0)), name='gateway_payment_amount_positive'),
                ),
                migrations.AddConstraint(
                    model_name='gatewaypayment',
                    constraint=models.UniqueConstraint(fields=('provider', 'external_id'), name='gateway_payment_external_unique'),
                ),
                migrations.AddConstraint(
                    model_name='commission',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('deposit__isnull', False), ('gateway_payment__isnull', True)), models.Q(('deposit__isnull', True), ('gateway_payment__isnull', False)), _connector='OR'), name='commission_one_source'),
                ),
                migrations.AddConstraint(
                    model_name='depositrequest',
                    constraint=models.CheckConstraint(condition=models.Q(('amount__gt', 0)), name='deposit_amount_positive'),
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name='depositrequest', table=None),
        migrations.AlterModelTable(name='gatewaypayment', table=None),
        migrations.AlterModelTable(name='gatewayevent', table=None),
        migrations.AlterModelTable(name='commission', table=None),
        migrations.AlterModelTable(name='paymentmethod', table=None),
        migrations.AlterModelTable(name='affiliate', table=None),
        migrations.RunPython(forwards, backwards),
    ]
