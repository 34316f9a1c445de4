from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

MAINTENANCE_SYNC_TASK = "backoffice.maintenance_sync"


def ensure_maintenance_sync(sender, apps=None, using="default", **kwargs) -> None:
    """The beat entry that copies the maintenance switch into the cache every minute, created
    once (staff may change it in the admin's Periodic tasks)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    if PeriodicTask.objects.using(using).filter(task=MAINTENANCE_SYNC_TASK).exists():
        return
    every, _ = IntervalSchedule.objects.using(using).get_or_create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.using(using).get_or_create(
        name="Maintenance mode to the cache", defaults={"task": MAINTENANCE_SYNC_TASK, "interval": every}
    )


class BackofficeConfig(AppConfig):
    default = True
    default_auto_field = "django.db.models.BigAutoField"
    name = "backoffice"
    verbose_name = _("Backoffice")

    def ready(self) -> None:
        from .roles import ensure_roles
        from .site_mode import connect_sign_in_as_audit

        post_migrate.connect(ensure_roles, sender=self, dispatch_uid="backoffice.ensure_roles")
        post_migrate.connect(ensure_maintenance_sync, sender=self, dispatch_uid="backoffice.maintenance_sync")
        connect_sign_in_as_audit()


class PanelAdminConfig(admin_apps.AdminConfig):
    """The Django admin, with the panel's own AdminSite (staff two-factor, dashboard home)."""

    default = False
    default_site = "backoffice.sites.PanelAdminSite"
