"""The audit log now belongs to accounts and ticket assignments to support (their migrations
took over the tables and rows); the backoffice forgets them in the migration state only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0002_staff_permissions"),
        ("accounts", "0002_auditlog"),
        ("support", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="ticketassignment", name="assignee"),
                migrations.RemoveField(model_name="ticketassignment", name="ticket"),
                migrations.DeleteModel(name="AuditLog"),
                migrations.DeleteModel(name="TicketAssignment"),
            ],
            database_operations=[],
        ),
    ]
