from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from panel.beat import beat_entry_ensure

SWEEP_TASK = "billing.sweep_deposits"
SWEEP_EVERY_MINUTES = 5


def ensure_sweep_schedule(sender, apps=None, using="default", **kwargs) -> None:
    """The beat entry that asks the gateways about open deposits every 5 minutes (panel.beat:
    created once)."""
    beat_entry_ensure(
        apps=apps,
        using=using,
        name="Sweep open deposits",
        task=SWEEP_TASK,
        every_minutes=SWEEP_EVERY_MINUTES,
        description="Ask the gateways about deposits still open after a few minutes.",
    )


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        post_migrate.connect(ensure_sweep_schedule, sender=self, dispatch_uid="billing.ensure_sweep_schedule")
