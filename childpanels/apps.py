from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from panel.beat import beat_entry_ensure

RENEW_TASK = "childpanels.renew_panels"


def ensure_renewal_schedule(sender, apps=None, using="default", **kwargs) -> None:
    """The hourly beat entry that renews, warns about, suspends and restores bought panels."""
    beat_entry_ensure(
        apps=apps,
        using=using,
        name="Renew child panels",
        task=RENEW_TASK,
        every_minutes=60,
        description="Charge child panels' monthly fees, warn before, suspend unpaid ones, restore paid ones.",
    )


class ChildPanelsConfig(AppConfig):
    """Child panels as a business: buying and renewing one, the parent as its provider, staff's
    list of children. The registry and the schema per panel are the `tenants` app's."""

    name = "childpanels"
    verbose_name = _("Child panels")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        if not settings.TENANCY:
            # Without PostgreSQL (the SQLite demo) there are no child panels to sell or renew.
            return
        from panel.events import raised

        from . import tasks  # noqa: F401  (every process knows the tasks enqueued by name)
        from .billing import on_events

        post_migrate.connect(ensure_renewal_schedule, sender=self, dispatch_uid="childpanels.renewal_schedule")
        raised.connect(on_events, dispatch_uid="childpanels.on_events")
