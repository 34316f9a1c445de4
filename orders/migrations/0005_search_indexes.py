"""Indexes for the staff order list at ten million orders (README: Benchmarks, indexes):
a trigram GIN index for search by part of a link, upstream IDs ignoring case, and orders that
need attention. Built CONCURRENTLY (orders keep being written meanwhile), on PostgreSQL only:
the SQLite demo has no pg_trgm and a few orders."""

import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently, TrigramExtension
from django.db import migrations, models

# The admin searches a link with UPPER("link"::text) LIKE UPPER('%term%'): this index serves it.
LINK_TRGM = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS order_link_trgm ON orders_order USING gin (upper(link) gin_trgm_ops)"
)


class OnPostgres:
    """Run the database side only on PostgreSQL; the model state changes everywhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class AddIndexOnPostgres(OnPostgres, AddIndexConcurrently):
    pass


class TrigramOnPostgres(OnPostgres, TrigramExtension):
    pass


class SqlOnPostgres(OnPostgres, migrations.RunSQL):
    pass


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("orders", "0004_daily_rollups"),
    ]

    operations = [
        TrigramOnPostgres(),
        SqlOnPostgres(LINK_TRGM, "DROP INDEX CONCURRENTLY IF EXISTS order_link_trgm"),
        AddIndexOnPostgres(
            model_name="order",
            index=models.Index(
                django.db.models.functions.text.Upper("upstream_order_id"), name="order_upstream_id_upper"
            ),
        ),
        AddIndexOnPostgres(
            model_name="order",
            index=models.Index(condition=models.Q(("needs_attention", True)), fields=["id"], name="order_attention"),
        ),
    ]
