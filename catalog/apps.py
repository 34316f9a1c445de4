from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

SYNC_TASK = "catalog.sync_all_providers"
SYNC_EVERY_MINUTES = 30


def ensure_sync_schedule(sender, apps=None, using="default", **kwargs) -> None:
    """Create the beat entry that syncs every provider every 30 minutes, once.

    Only when it is missing: staff may change its interval or disable it in the admin
    (Periodic tasks), and migrating again must not undo that.
    """
    if apps is None:  # `flush` sends the signal without the migration state
        from django.apps import apps
    try:
        interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
        task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    except LookupError:
        return
    if task_model.objects.using(using).filter(name=SYNC_TASK).exists():
        return
    intervals = interval_model.objects.using(using)
    interval = intervals.filter(every=SYNC_EVERY_MINUTES, period="minutes").order_by("pk").first()
    if interval is None:
        interval = intervals.create(every=SYNC_EVERY_MINUTES, period="minutes")
    _, created = task_model.objects.using(using).get_or_create(
        name=SYNC_TASK,
        defaults={
            "task": SYNC_TASK,
            "interval": interval,
            "description": "Sync every enabled provider's services into the catalog.",
        },
    )
    if created:
        # The migration-state model sends no signals: tell a running beat that its schedule changed.
        from django_celery_beat.models import PeriodicTasks

        PeriodicTasks.update_changed()


class CatalogConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "catalog"
    verbose_name = _("Catalog")

    def ready(self) -> None:
        post_migrate.connect(ensure_sync_schedule, sender=self, dispatch_uid="catalog.ensure_sync_schedule")
