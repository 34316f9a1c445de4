"""Support takes over the tickets and their messages (from the dashboard app) and the ticket
assignments (from the backoffice app), with their rows."""

import django.db.models.deletion
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
    ("dashboard", "ticket", "support"),
    ("dashboard", "ticketmessage", "support"),
    ("backoffice", "ticketassignment", "support"),
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
        ('backoffice', '0002_staff_permissions'),
        ('accounts', '0002_auditlog'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('billing', '0001_initial'),
        ('orders', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The tables exist already (under their old app's name): this app takes over the
        # models in the migration state only, then renames the tables to its own names.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Ticket',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('subject', models.CharField(max_length=200, verbose_name='subject')),
                        ('topic', models.CharField(choices=[('order', 'Order'), ('payment', 'Payment'), ('other', 'Other')], default='other', max_length=10, verbose_name='topic')),
                        ('status', models.CharField(choices=[('open', 'Open'), ('answered', 'Answered'), ('closed', 'Closed')], default='open', max_length=10, verbose_name='status')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('deposit', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='tickets', to='billing.depositrequest')),
                        ('order', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='tickets', to='orders.order', verbose_name='order')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='tickets', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'dashboard_ticket',
                        'ordering': ['-updated_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='TicketAssignment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('assignee', models.ForeignKey(blank=True, limit_choices_to={'is_staff': True}, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('ticket', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='assignment', to='support.ticket')),
                    ],
                    options={
                        'db_table': 'backoffice_ticketassignment',
                    },
                ),
                migrations.CreateModel(
                    name='TicketMessage',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('is_staff', models.BooleanField(default=False)),
                        ('body', models.TextField(max_length=10000, verbose_name='message')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('author', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('ticket', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='support.ticket')),
                    ],
                    options={
                        'db_table': 'dashboard_ticketmessage',
                        'ordering': ['id'],
                    },
                ),
                migrations.AddIndex(
                    model_name='ticket',
                    index=models.Index(fields=['user', '-updated_at'], name='ticket_user_recent'),
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name='ticket', table=None),
        migrations.AlterModelTable(name='ticketassignment', table=None),
        migrations.AlterModelTable(name='ticketmessage', table=None),
        migrations.RunPython(forwards, backwards),
    ]
