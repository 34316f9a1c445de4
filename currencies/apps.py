from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from panel.beat import beat_entry_ensure

FETCH_TASK = "currencies.fetch_rates"


def ensure_fetch_schedule(sender, apps=None, using="default", **kwargs) -> None:
    """The beat entry that fetches the exchange-rate feed (panel.beat: created once): daily at
    16:30 Frankfurt time, half an hour after the European Central Bank publishes its reference rates."""
    beat_entry_ensure(
        apps=apps,
        using=using,
        name="Currencies: fetch exchange rates",
        task=FETCH_TASK,
        crontab={
            "minute": "30",
            "hour": "16",
            "day_of_week": "*",
            "day_of_month": "*",
            "month_of_year": "*",
            "timezone": "Europe/Berlin",
        },
        description="The European Central Bank's daily reference rates, when staff chose that source.",
    )


class CurrenciesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "currencies"
    verbose_name = _("Currencies")

    def ready(self) -> None:
        post_migrate.connect(ensure_fetch_schedule, sender=self, dispatch_uid="currencies.ensure_fetch_schedule")
