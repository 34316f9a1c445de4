from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class BackofficeConfig(AppConfig):
    default = True
    default_auto_field = "django.db.models.BigAutoField"
    name = "backoffice"


class PanelAdminConfig(admin_apps.AdminConfig):
    """The Django admin, with the panel's own AdminSite (staff two-factor, dashboard home)."""

    default = False
    default_site = "backoffice.sites.PanelAdminSite"
