from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from panel.beat import beat_entry_ensure

SYNC_TASK = "catalog.sync_all_providers"
SYNC_EVERY_MINUTES = 30


def ensure_sync_schedule(sender, apps=None, using="default", **kwargs) -> None:
    """The beat entry that syncs every provider every 30 minutes (panel.beat: created once)."""
    beat_entry_ensure(
        apps=apps,
        using=using,
        name=SYNC_TASK,
        task=SYNC_TASK,
        every_minutes=SYNC_EVERY_MINUTES,
        description="Sync every enabled provider's services into the catalog.",
    )


class CatalogConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "catalog"
    verbose_name = _("Catalog")

    def ready(self) -> None:
        post_migrate.connect(ensure_sync_schedule, sender=self, dispatch_uid="catalog.ensure_sync_schedule")
