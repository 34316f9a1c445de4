"""The audit log moves here from the backoffice app, with its rows, so that every app's services
can write it."""

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


MOVES = [("backoffice", "auditlog", "accounts")]


def forwards(apps, schema_editor):
    move_content_types(apps, MOVES)


def backwards(apps, schema_editor):
    move_content_types(apps, [(new_app, model, old_app) for old_app, model, new_app in MOVES])

class Migration(migrations.Migration):

    dependencies = [
        ('backoffice', '0002_staff_permissions'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('accounts', '0001_initial'),
    ]

    operations = [
        # The tables exist already (under their old app's name): this app takes over the
        # models in the migration state only, then renames the tables to its own names.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AuditLog',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('action', models.CharField(db_index=True, max_length=48)),
                        ('object_type', models.CharField(max_length=48)),
                        ('object_id', models.CharField(max_length=64)),
                        ('before', models.JSONField(blank=True, default=dict)),
                        ('after', models.JSONField(blank=True, default=dict)),
                        ('reason', models.TextField(blank=True)),
                        ('actor', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'backoffice_auditlog',
                        'ordering': ['-id'],
                        'indexes': [models.Index(fields=['object_type', 'object_id', '-id'], name='audit_object_recent')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name='auditlog', table=None),
        migrations.RunPython(forwards, backwards),
    ]
