from django.apps import AppConfig


class AdminApiConfig(AppConfig):
    name = "adminapi"
    verbose_name = "Admin API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers how the OpenAPI document describes the X-Api-Key header.
        from . import schema  # noqa: F401
