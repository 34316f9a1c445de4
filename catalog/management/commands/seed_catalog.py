import time
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from catalog.management.commands.sync_services import describe
from catalog.models import ProviderImport
from catalog.sync import sync_provider_unless_running
from upstream.models import Provider


class Command(BaseCommand):
    help = (
        "Fill the catalog from a provider (idempotent): switch its auto-import on and sync, "
        "importing every upstream service we do not sell yet."
    )

    def add_arguments(self, parser):
        parser.add_argument("provider", help="The provider's name (see add_provider).")
        parser.add_argument("--category-prefix", default=None, help="Prefix for the categories created.")
        parser.add_argument("--markup", default=None, help="Markup percent stored on the imported services.")
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            metavar="SECONDS",
            help="Keep retrying this long while the provider cannot be reached (e.g. a simulator starting).",
        )

    def handle(self, *args, provider, category_prefix, markup, wait, **options):
        found = Provider.objects.filter(name=provider).first()
        if found is None:
            raise CommandError(f"No provider named {provider!r}; create it with add_provider first.")
        importer, _ = ProviderImport.objects.get_or_create(provider=found)
        importer.auto_import = True
        if category_prefix is not None:
            importer.category_prefix = category_prefix
        if markup is not None:
            try:
                importer.markup_percent = Decimal(markup)
            except InvalidOperation:
                raise CommandError(f"--markup {markup!r} is not a number.") from None
        importer.save()

        deadline = time.monotonic() + wait
        while True:
            run = sync_provider_unless_running(provider_id=found.pk, import_existing=True)
            if run is None:
                self.stdout.write(f"{found.name}: another sync is running; it fills the catalog.")
                return
            if run.ok or time.monotonic() >= deadline:
                break
            time.sleep(1)
        if not run.ok:
            raise CommandError(describe(run))
        self.stdout.write(describe(run))
