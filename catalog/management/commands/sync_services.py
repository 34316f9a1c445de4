from django.core.management.base import BaseCommand, CommandError

from catalog.models import SyncRun
from catalog.sync import sync_provider_unless_running
from upstream.models import Provider


def describe(run: SyncRun) -> str:
    if not run.ok:
        return f"{run.provider.name}: failed after {run.duration_ms} ms: {run.error}"
    return (
        f"{run.provider.name}: {run.upstream_count} upstream services, {run.created} imported, "
        f"{run.changes} changes logged, {run.duration_ms} ms"
    )


class Command(BaseCommand):
    help = "Pull providers' service lists into the catalog (every enabled provider, or one)."

    def add_arguments(self, parser):
        parser.add_argument("--provider", metavar="NAME", help="Sync only this provider (even if disabled).")
        parser.add_argument(
            "--import-existing",
            action="store_true",
            help="With auto-import on: also import upstream services seen before it was switched on.",
        )

    def handle(self, *args, provider=None, import_existing=False, **options):
        if provider:
            found = Provider.objects.filter(name=provider).first()
            if found is None:
                raise CommandError(f"No provider named {provider!r}.")
            providers = [found]
        else:
            providers = list(Provider.objects.filter(enabled=True).order_by("pk"))
            if not providers:
                self.stdout.write("No enabled providers.")
                return
        failed = []
        for item in providers:
            run = sync_provider_unless_running(provider_id=item.pk, import_existing=import_existing)
            if run is None:
                self.stdout.write(f"{item.name}: skipped, another sync of this provider is running.")
                continue
            self.stdout.write(describe(run))
            if not run.ok:
                failed.append(item.name)
        if failed:
            raise CommandError(f"Sync failed for: {', '.join(failed)}")
