from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from panel.events import raised
        from panel.metrics import register_state

        from . import tasks  # noqa: F401  (registers the Celery tasks that notifications.queue names)
        from .metrics import delivery_families
        from .schedules import ensure_default_schedule
        from .services import on_raised

        raised.connect(on_raised, dispatch_uid="notifications.on_raised")
        register_state(delivery_families)
        post_migrate.connect(ensure_default_schedule, sender=self, dispatch_uid="notifications.schedule")
