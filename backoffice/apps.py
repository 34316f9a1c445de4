from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate


class BackofficeConfig(AppConfig):
    default = True
    default_auto_field = "django.db.models.BigAutoField"
    name = "backoffice"

    def ready(self) -> None:
        from .roles import ensure_roles
        from .site_mode import connect_sign_in_as_audit

        post_migrate.connect(ensure_roles, sender=self, dispatch_uid="backoffice.ensure_roles")
        connect_sign_in_as_audit()


class PanelAdminConfig(admin_apps.AdminConfig):
    """The Django admin, with the panel's own AdminSite (staff two-factor, dashboard home)."""

    default = False
    default_site = "backoffice.sites.PanelAdminSite"
