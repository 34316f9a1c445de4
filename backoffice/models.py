from django.conf import settings
from django.db import models


class AuditLog(models.Model):
    """One staff action that moved money or changed an order or a customer: who, when, what,
    the state before and after, and why. Written by backoffice.services in the same transaction
    as the change itself, so there is never a change without its row (or a row without its change).
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=48, db_index=True)
    object_type = models.CharField(max_length=48)
    object_id = models.CharField(max_length=64)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "-id"], name="audit_object_recent")]
        # Roles: these permissions gate the staff actions; the "Admin" group has them, "Support" has none.
        permissions = [
            ("order_actions", "Can act on orders (resend, mark sent, re-check, move)"),
            ("money_actions", "Can move money (refunds, balance adjustments, deposits)"),
            ("customer_actions", "Can manage customers (ban, API key, discount, prices)"),
            ("catalog_actions", "Can import and bulk-edit services"),
            ("view_reports", "Can view revenue and profit reports"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object_type} {self.object_id}"


class TicketAssignment(models.Model):
    """Which staff member looks after a ticket (the ticket model belongs to the dashboard)."""

    ticket = models.OneToOneField("dashboard.Ticket", on_delete=models.CASCADE, related_name="assignment")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        limit_choices_to={"is_staff": True},
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Ticket {self.ticket_id} -> {self.assignee or 'nobody'}"
