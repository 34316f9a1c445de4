from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UpstreamConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "upstream"
    verbose_name = _("Upstream")
