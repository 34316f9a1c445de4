"""The registry of panels: one row per child panel, in the parent's (`public`) schema only.

The parent panel has no row: it is the `public` schema and answers every host name that is not
a child's (tenants.middleware). A child's data lives in its own schema, `schema_name`.
"""

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

# Lower-case letters, digits and underscores, starting with a letter: safe unquoted, never
# `pg_...`, never `public` or the template (refused in tenants.services).
SCHEMA_NAME_RE = r"^[a-z][a-z0-9_]{1,40}$"


class PanelStatus(models.TextChoices):
    ACTIVE = "active", "active"
    SUSPENDED = "suspended", "suspended"


class Panel(TenantMixin):
    name = models.CharField("name", max_length=100)
    status = models.CharField("status", max_length=12, choices=PanelStatus.choices, default=PanelStatus.ACTIVE)
    # The customer on the parent who owns (and pays for) the panel. A plain ID, not a foreign
    # key: while a child's schema is active, `accounts_user` names the child's users, so an ORM
    # relation would read the wrong table.
    owner_id = models.BigIntegerField("owner (parent user ID)", null=True, blank=True, db_index=True)
    created = models.DateTimeField("created", auto_now_add=True)

    # A schema is never dropped with its row by accident: deleting a panel is an explicit step
    # (export first), done by tenants.services.
    auto_drop_schema = False
    auto_create_schema = True

    class Meta:
        ordering = ["created", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(schema_name__regex=SCHEMA_NAME_RE),
                name="panel_schema_name_shape",
                violation_error_message="The schema name must be lower-case letters, digits and _.",
            ),
            models.CheckConstraint(condition=models.Q(status__in=PanelStatus.values), name="panel_status_known"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.schema_name})"

    @property
    def is_active(self) -> bool:
        return self.status == PanelStatus.ACTIVE


class Domain(DomainMixin):
    """A host name that serves a child panel (its own domain, or a subdomain of ours)."""

    class Meta:
        ordering = ["domain"]

    def save(self, *args, **kwargs):
        # Host names compare lower-case and without a trailing dot, as the middleware reads them.
        self.domain = self.domain.strip().rstrip(".").lower()
        super().save(*args, **kwargs)
