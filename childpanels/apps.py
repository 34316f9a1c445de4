from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChildPanelsConfig(AppConfig):
    """Child panels as a business: buying and renewing one, the parent as its provider, staff's
    list of children. The registry and the schema per panel are the `tenants` app's."""

    name = "childpanels"
    verbose_name = _("Child panels")
    default_auto_field = "django.db.models.BigAutoField"
