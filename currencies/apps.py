from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

FETCH_TASK = "currencies.fetch_rates"


def ensure_fetch_schedule(sender, apps=None, using="default", **kwargs) -> None:
    """Create the beat entry that fetches the exchange-rate feed every day, once.

    Daily at 16:30 Frankfurt time, half an hour after the European Central Bank publishes its
    reference rates. Only when missing: staff may move or disable it in the admin (Periodic
    tasks), and migrating again must not undo that.
    """
    if apps is None:  # `flush` sends the signal without the migration state
        from django.apps import apps
    try:
        crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
        task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    except LookupError:
        return
    if task_model.objects.using(using).filter(task=FETCH_TASK).exists():
        return
    crontab, _created = crontab_model.objects.using(using).get_or_create(
        minute="30",
        hour="16",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Europe/Berlin",
    )
    _task, created = task_model.objects.using(using).get_or_create(
        name="Currencies: fetch exchange rates",
        defaults={
            "task": FETCH_TASK,
            "crontab": crontab,
            "description": "The European Central Bank's daily reference rates, when staff chose that source.",
        },
    )
    if created:
        from django_celery_beat.models import PeriodicTasks

        PeriodicTasks.update_changed()


class CurrenciesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "currencies"
    verbose_name = _("Currencies")

    def ready(self) -> None:
        post_migrate.connect(ensure_fetch_schedule, sender=self, dispatch_uid="currencies.ensure_fetch_schedule")
