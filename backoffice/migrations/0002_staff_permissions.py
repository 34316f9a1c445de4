"""The staff roles' permissions (backoffice.order_actions and the others) get a holder model of
their own, so that they keep their names when the audit log moves to the accounts app. The
existing permission rows are re-attached, which keeps every group's and user's grants."""

from django.db import migrations, models

CODENAMES = ["order_actions", "money_actions", "customer_actions", "catalog_actions", "view_reports"]


def _move_permissions(apps, from_model, to_model):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    target, _ = ContentType.objects.get_or_create(app_label="backoffice", model=to_model)
    Permission.objects.filter(
        content_type__app_label="backoffice", content_type__model=from_model, codename__in=CODENAMES
    ).update(content_type=target)


def forwards(apps, schema_editor):
    _move_permissions(apps, "auditlog", "staffpermission")


def backwards(apps, schema_editor):
    _move_permissions(apps, "staffpermission", "auditlog")


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.CreateModel(
            name="StaffPermission",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ],
            options={
                "permissions": [
                    ("order_actions", "Can act on orders (resend, mark sent, re-check, move)"),
                    ("money_actions", "Can move money (refunds, balance adjustments, deposits)"),
                    ("customer_actions", "Can manage customers (ban, API key, discount, prices)"),
                    ("catalog_actions", "Can import and bulk-edit services"),
                    ("view_reports", "Can view revenue and profit reports"),
                ],
                "managed": False,
                "default_permissions": (),
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
