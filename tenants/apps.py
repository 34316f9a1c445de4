from django.apps import AppConfig
from django.conf import settings


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Child panels"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Without PostgreSQL there are no child panels: nothing to look up or keep fresh.
        if not settings.TENANCY:
            return
        from panel.tenancy import register_panel_resolver

        from . import signals
        from .lookup import panel_for_schema

        signals.connect()
        register_panel_resolver(panel_for_schema)
