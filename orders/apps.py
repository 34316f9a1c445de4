from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "orders"
    verbose_name = _("Orders")

    def ready(self) -> None:
        from panel.metrics import register_state

        from . import tasks  # noqa: F401  (registers the Celery tasks that orders.queue names)
        from .metrics import order_state_families
        from .schedules import ensure_default_schedule

        post_migrate.connect(ensure_default_schedule, sender=self)
        register_state(order_state_families)
