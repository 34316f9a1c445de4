from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "orders"

    def ready(self) -> None:
        from .schedules import ensure_default_schedule

        post_migrate.connect(ensure_default_schedule, sender=self)
