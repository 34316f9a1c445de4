from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dashboard"
    verbose_name = _("Dashboard")

    def ready(self) -> None:
        from allauth.account.signals import user_signed_up

        user_signed_up.connect(_record_referral, dispatch_uid="dashboard_referral")


def _record_referral(sender, request, user, **kwargs) -> None:
    """A customer who arrived through a referral link is credited to its owner."""
    code = request.session.pop("referral_code", None) if request is not None else None
    if code:
        from billing.services import referral_record

        referral_record(user=user, code=code)
