"""The registry of panels: one row per child panel, in the parent's (`public`) schema only.

The parent panel has no row: it is the `public` schema and answers every host name that is not
a child's (tenants.middleware). A child's data lives in its own schema, `schema_name`.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin

from panel.money import MONEY

# Lower-case letters, digits and underscores, starting with a letter: safe unquoted, never
# `pg_...`, never `public` or the template (refused in tenants.services).
SCHEMA_NAME_RE = r"^[a-z][a-z0-9_]{1,40}$"


class PanelStatus(models.TextChoices):
    # Bought and paid, its schema not made yet (childpanels: made by a task after the commit).
    PENDING = "pending", _("pending")
    ACTIVE = "active", _("active")
    SUSPENDED = "suspended", _("suspended")
    # Exported, then its schema dropped: the row stays for the parent's history and revenue.
    DELETED = "deleted", _("deleted")


class SuspendedReason(models.TextChoices):
    NONE = "", _("none")
    UNPAID = "unpaid", _("unpaid")  # the renewal could not be charged: restored when paid
    STAFF = "staff", _("staff")  # the parent's staff suspended it: only staff resume it


class ChildPanelPlan(models.Model):
    """What a child panel costs and what it includes: one row, edited by the parent's staff.

    A panel bought copies the price and limits onto its own row, so staff can change the plan
    for new panels (or one panel) without touching the others.
    """

    selling = models.BooleanField(_("sold to customers"), default=False)
    monthly_price = models.DecimalField(
        _("monthly price"), **MONEY, default=Decimal("25"), validators=[MinValueValidator(Decimal("0"))]
    )
    max_customers = models.PositiveIntegerField(_("max customers"), default=1000, help_text=_("0: no limit."))
    max_services = models.PositiveIntegerField(_("max services"), default=500, help_text=_("0: no limit."))
    max_staff = models.PositiveIntegerField(_("max staff users"), default=3, help_text=_("0: no limit."))
    warn_days = models.PositiveSmallIntegerField(_("warn days before renewal"), default=3)

    class Meta:
        verbose_name = _("child panel plan")
        verbose_name_plural = _("child panel plan")

    def __str__(self) -> str:
        return "child panel plan"

    @classmethod
    def current(cls) -> "ChildPanelPlan":
        plan = cls.objects.order_by("pk").first()
        return plan if plan is not None else cls.objects.create()


class Panel(TenantMixin):
    name = models.CharField(_("name"), max_length=100)
    status = models.CharField(_("status"), max_length=12, choices=PanelStatus.choices, default=PanelStatus.ACTIVE)
    # The customer on the parent who owns (and pays for) the panel. A plain ID, not a foreign
    # key: while a child's schema is active, `accounts_user` names the child's users, so an ORM
    # relation would read the wrong table.
    owner_id = models.BigIntegerField(_("owner (parent user ID)"), null=True, blank=True, db_index=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    currency = models.CharField(_("currency"), max_length=3, default=settings.PANEL_CURRENCY)
    # Billing (childpanels): the price and limits copied from the plan when bought; the fee is
    # charged through the owner's ledger on the parent for each period up to `paid_until`.
    monthly_price = models.DecimalField(_("monthly price"), **MONEY, default=Decimal("0"))
    max_customers = models.PositiveIntegerField(_("max customers"), default=0, help_text=_("0: no limit."))
    max_services = models.PositiveIntegerField(_("max services"), default=0, help_text=_("0: no limit."))
    max_staff = models.PositiveIntegerField(_("max staff users"), default=0, help_text=_("0: no limit."))
    paid_until = models.DateTimeField(_("paid until"), null=True, blank=True, db_index=True)
    # The `paid_until` the owner was last warned about (once per period, however often beat runs).
    warned_for = models.DateTimeField(_("renewal warning sent for"), null=True, blank=True)
    suspended_reason = models.CharField(
        _("suspended because"), max_length=8, choices=SuspendedReason.choices, default="", blank=True
    )
    suspended_at = models.DateTimeField(_("suspended at"), null=True, blank=True)
    # The last export of the panel's data (a file under the var dir); deleting needs a fresh one.
    exported_at = models.DateTimeField(_("exported at"), null=True, blank=True)
    export_file = models.CharField(_("export file"), max_length=255, blank=True)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    # The first staff user of a bought panel, until its schema is built: the password only as a
    # Django password hash, so nothing readable passes through Celery, Redis or this table.
    # Cleared once the user exists in the panel's schema.
    staff_username = models.CharField(_("first staff user"), max_length=150, blank=True)
    staff_email = models.EmailField(_("first staff email"), blank=True)
    staff_password_hash = models.CharField(_("first staff password hash"), max_length=256, blank=True)
    # When the schema build last failed (retried by the renewal run), and why, for staff.
    build_error = models.CharField(_("build error"), max_length=255, blank=True)

    # A schema is never dropped with its row by accident: deleting a panel is an explicit step
    # (export first), done by tenants.services.
    auto_drop_schema = False
    auto_create_schema = True

    class Meta:
        verbose_name = _("child panel")
        verbose_name_plural = _("child panels")
        ordering = ["created", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(schema_name__regex=SCHEMA_NAME_RE),
                name="panel_schema_name_shape",
                violation_error_message=_("The schema name must be lower-case letters, digits and _."),
            ),
            models.CheckConstraint(condition=models.Q(status__in=PanelStatus.values), name="panel_status_known"),
            models.CheckConstraint(condition=models.Q(monthly_price__gte=0), name="panel_monthly_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.schema_name})"

    @property
    def is_active(self) -> bool:
        return self.status == PanelStatus.ACTIVE


class Domain(DomainMixin):
    """A host name that serves a child panel (its own domain, or a subdomain of ours)."""

    class Meta:
        verbose_name = _("domain")
        verbose_name_plural = _("domains")
        ordering = ["domain"]

    def save(self, *args, **kwargs):
        # Host names compare lower-case and without a trailing dot, as the middleware reads them.
        self.domain = self.domain.strip().rstrip(".").lower()
        super().save(*args, **kwargs)
