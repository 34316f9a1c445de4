from django.conf import settings
from django.db import models


class StaffPermission(models.Model):
    """No table and no rows: the holder of the staff roles' permissions (backoffice.<codename>),
    which gate the backoffice's actions in every app's admin and in the backoffice's own pages."""

    class Meta:
        managed = False
        default_permissions = ()
        # Roles: the "Admin" group has these, "Support" has none.
        permissions = [
            ("order_actions", "Can act on orders (resend, mark sent, re-check, move)"),
            ("money_actions", "Can move money (refunds, balance adjustments, deposits)"),
            ("customer_actions", "Can manage customers (ban, API key, discount, prices)"),
            ("catalog_actions", "Can import and bulk-edit services"),
            ("view_reports", "Can view revenue and profit reports"),
            ("maintenance", "Can switch maintenance mode on and off"),
            ("sign_in_as", "Can sign in as a customer"),
        ]

    def __str__(self) -> str:
        return "staff permissions"


class Maintenance(models.Model):
    """Maintenance mode (a single row, pk=1): while on, visitors and customers see `message`
    and the API answers with it; staff keep working (backoffice.site_mode)."""

    enabled = models.BooleanField(default=False)
    message = models.TextField(max_length=2000, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = verbose_name_plural = "maintenance mode"

    def __str__(self) -> str:
        return "Maintenance mode: " + ("on" if self.enabled else "off")
