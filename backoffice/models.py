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
        ]

    def __str__(self) -> str:
        return "staff permissions"
