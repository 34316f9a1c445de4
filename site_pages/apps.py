from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SitePagesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "site_pages"
    verbose_name = _("Public pages and branding")
