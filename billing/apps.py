from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

SWEEP_TASK = "billing.sweep_deposits"
SWEEP_EVERY_MINUTES = 5


def ensure_sweep_schedule(sender, apps=None, using="default", **kwargs) -> None:
    """Create the beat entry that asks the gateways about open deposits every 5 minutes, once.

    Only when it is missing: staff may change its interval or disable it in the admin (Periodic
    tasks), and migrating again must not undo that.
    """
    if apps is None:  # `flush` sends the signal without the migration state
        from django.apps import apps
    try:
        interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
        task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    except LookupError:
        return
    if task_model.objects.using(using).filter(task=SWEEP_TASK).exists():
        return
    intervals = interval_model.objects.using(using)
    interval = intervals.filter(every=SWEEP_EVERY_MINUTES, period="minutes").order_by("pk").first()
    if interval is None:
        interval = intervals.create(every=SWEEP_EVERY_MINUTES, period="minutes")
    _, created = task_model.objects.using(using).get_or_create(
        name="Sweep open deposits",
        defaults={
            "task": SWEEP_TASK,
            "interval": interval,
            "description": "Ask the gateways about deposits still open after a few minutes.",
        },
    )
    if created:
        from django_celery_beat.models import PeriodicTasks

        PeriodicTasks.update_changed()


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        post_migrate.connect(ensure_sweep_schedule, sender=self, dispatch_uid="billing.ensure_sweep_schedule")
