"""`migrate` with child panels: the parent (`public`), every child panel, and the template new
children are copied from, so that a deploy's one `migrate` leaves no schema behind."""

import time

from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand
from django_tenants.utils import schema_exists

from tenants.services import template_migrate, template_schema


class Command(MigrateSchemasCommand):
    help = "Applies migrations to the parent panel, every child panel and the child template."

    def handle(self, *args, **options):
        started = time.monotonic()
        super().handle(*args, **options)
        # Whole-install runs only (no --schema, not --shared). The template is made on the first
        # child's creation; once it exists it is kept current here.
        if self.sync_tenant and not self.schema_name and schema_exists(template_schema()):
            template_migrate(verbosity=int(options.get("verbosity", 1)))
        if int(options.get("verbosity", 1)) >= 1:
            self.stdout.write(f"Migrated every schema in {time.monotonic() - started:.1f} s.")
