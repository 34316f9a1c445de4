from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import get_public_schema_name, schema_context

from childpanels.provider import WireError, provider_wire
from tenants.models import Panel


class Command(BaseCommand):
    help = (
        "Make the parent panel a child panel's provider (idempotent): the owner's key for the panel, "
        "the parent provider in the child's schema, the parent's services imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("schema", help="The child panel's schema name (see create_child).")
        parser.add_argument("--no-sync", action="store_true", help="Wire only; leave the import to the next sync.")

    def handle(self, *args, schema, no_sync, **options):
        with schema_context(get_public_schema_name()):
            panel_id = Panel.objects.filter(schema_name=schema).values_list("pk", flat=True).first()
        if panel_id is None:
            raise CommandError(f"No child panel with the schema {schema!r}.")
        try:
            wired = provider_wire(panel_id=panel_id, sync=not no_sync)
        except WireError as exc:
            raise CommandError(str(exc)) from None
        key = "a new key issued" if wired.key_issued else "its key kept"
        self.stdout.write(f"{schema}: wired to the parent (provider {wired.provider_id}, {key}).")
        if wired.sync is None:
            if not no_sync:
                self.stdout.write("Another sync of the parent provider is running; it imports the services.")
        elif wired.sync.ok:
            self.stdout.write(
                f"Services: {wired.sync.upstream_count} at the parent, {wired.sync.created} imported, "
                f"{wired.sync.changes} changes."
            )
        else:
            raise CommandError(f"Wired, but importing the parent's services failed: {wired.sync.error}")
