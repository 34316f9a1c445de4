from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.services import panel_create


class Command(BaseCommand):
    help = "Creates a child panel: its schema (a copy of the template), its domain and its first staff user."

    def add_arguments(self, parser):
        parser.add_argument("schema", help="schema name: lower-case letters, digits and _ (e.g. acme)")
        parser.add_argument("--name", required=True, help="the panel's name")
        parser.add_argument("--domain", required=True, help="the host name that serves it (e.g. acme.example.com)")
        parser.add_argument("--staff", required=True, help="username of its first staff user")
        parser.add_argument("--email", default="", help="that user's email")
        parser.add_argument("--password", default=None, help="that user's password (none: cannot log in yet)")
        parser.add_argument("--owner-id", type=int, default=None, help="the owner's user ID on the parent")

    def handle(self, *args, **options):
        try:
            created = panel_create(
                name=options["name"],
                schema_name=options["schema"],
                domain=options["domain"],
                staff_username=options["staff"],
                staff_email=options["email"],
                staff_password=options["password"],
                owner_id=options["owner_id"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(
            f"Created panel {created.panel.schema_name} on {options['domain']} in {created.seconds:.2f} s."
        )
