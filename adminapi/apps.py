from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AdminApiConfig(AppConfig):
    name = "adminapi"
    verbose_name = _("Admin API")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers how the OpenAPI document describes the X-Api-Key header.
        from . import schema  # noqa: F401
