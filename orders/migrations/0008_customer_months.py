from decimal import Decimal

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0007_verbose_names"),
    ]

    operations = [
        migrations.CreateModel(
            name="OrderCustomerMonth",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("user_id", models.BigIntegerField()),
                ("month", models.DateField()),
                ("orders", models.BigIntegerField(default=0)),
                ("revenue", models.DecimalField(decimal_places=5, default=Decimal("0"), max_digits=30)),
                ("cost", models.DecimalField(decimal_places=20, default=Decimal("0"), max_digits=40)),
                ("latest", models.BooleanField(default=False)),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("user_id", "month"), name="order_customer_month_key")],
                "indexes": [
                    models.Index(
                        condition=models.Q(("latest", False)),
                        fields=["month", "user_id"],
                        include=("orders", "revenue", "cost"),
                        name="order_customer_month_past",
                    ),
                    models.Index(
                        condition=models.Q(("latest", True)),
                        fields=["month", "user_id"],
                        include=("orders", "revenue", "cost"),
                        name="order_customer_month_last",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="OrderCustomerMonthDelta",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("user_id", models.BigIntegerField()),
                ("month", models.DateField()),
                ("orders", models.BigIntegerField()),
                ("revenue", models.DecimalField(decimal_places=5, max_digits=30)),
                ("cost", models.DecimalField(decimal_places=20, max_digits=40)),
            ],
            options={
                "indexes": [models.Index(fields=["month"], name="order_customer_month_delta")],
            },
        ),
    ]


def install(apps, schema_editor):
    """The trigger now keeps customers' running totals per month too; those of the orders there are."""
    if schema_editor.connection.vendor != "postgresql":
        return
    from django.conf import settings

    from orders.rollups import customer_month_backfill_sql, install_sql, rollup_zone

    # The months keep the zone the days were counted in (rollups_rebuild changes both).
    zone = rollup_zone() or settings.TIME_ZONE
    schema_editor.execute("LOCK TABLE orders_order IN SHARE MODE")
    # Exact sums, like the daily roll-ups' cost.
    schema_editor.execute("ALTER TABLE orders_ordercustomermonth ALTER COLUMN cost TYPE numeric")
    schema_editor.execute("ALTER TABLE orders_ordercustomermonthdelta ALTER COLUMN cost TYPE numeric")
    # Folds rewrite the last months' rows: room on their page keeps those updates in place, and a
    # vacuum soon after keeps the reads index-only.
    schema_editor.execute(
        "ALTER TABLE orders_ordercustomermonth SET (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.02)"
    )
    # Reads pick a month's last rows (`latest`) or the others: without statistics on both together
    # the planner takes `latest` for independent of the month and expects a twentieth of the rows.
    schema_editor.execute(
        "CREATE STATISTICS order_customer_month_latest (mcv) ON month, latest FROM orders_ordercustomermonth"
    )
    for statement in install_sql(zone):
        schema_editor.execute(statement)
    schema_editor.execute(customer_month_backfill_sql(zone))
    schema_editor.execute("ANALYZE orders_ordercustomermonth")


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from django.conf import settings

    from orders.rollups import install_sql, rollup_zone

    zone = rollup_zone() or settings.TIME_ZONE
    for statement in install_sql(zone, customer_months=False):
        schema_editor.execute(statement)


Migration.operations.append(migrations.RunPython(install, uninstall))
