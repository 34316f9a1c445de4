from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce, Upper
from django.utils.translation import gettext_lazy as _

from catalog.models import Service
from catalog.pricing import order_units
from panel.money import MONEY
from upstream.models import Provider


class Status(models.TextChoices):
    """What the customer sees, in the protocol's exact words (the stored value, which the APIs
    answer with); the labels are the same words translated, for pages (get_status_display)."""

    PENDING = "Pending", _("Pending")
    IN_PROGRESS = "In progress", _("In progress")
    PROCESSING = "Processing", _("Processing")
    COMPLETED = "Completed", _("Completed")
    PARTIAL = "Partial", _("Partial")
    CANCELED = "Canceled", _("Canceled")


FINAL_STATUSES = (Status.COMPLETED, Status.PARTIAL, Status.CANCELED)
# Order.units in SQL (catalog.pricing.order_units), for figures summed over many orders.
UNITS = models.F("quantity") * Coalesce(models.F("runs"), 1)
ACTIVE_STATUSES = (Status.PENDING, Status.IN_PROGRESS, Status.PROCESSING)


class ForwardState(models.TextChoices):
    """Where the order stands with the provider (internal, staff only). The labels stay English:
    error texts the Admin API answers with embed them; staff pages show orders.admin's
    translated FORWARD_STATE_LABELS."""

    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    REJECTED = "rejected", "Rejected"
    UNKNOWN = "unknown", "Unknown outcome"
    CANCELED = "canceled", "Canceled before sending"
    # A manual service's order: never forwarded, polled or reconciled upstream; staff fulfil it
    # (orders/manual.py). Forwarding claims only queued and unknown orders, polling only sent ones.
    MANUAL = "manual", "Manual (fulfilled by staff)"


class Source(models.TextChoices):
    WEB = "web", _("Dashboard")
    API = "api", _("API")
    MASS = "mass", _("Mass order")
    ADMIN = "admin", _("Admin")


class Order(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, related_name="orders"
    )
    service = models.ForeignKey(Service, verbose_name=_("service"), on_delete=models.PROTECT, related_name="orders")
    # Both empty for a manual order (forward state `manual`): no provider fulfils it.
    provider = models.ForeignKey(
        Provider, verbose_name=_("provider"), null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    upstream_service_id = models.CharField(_("upstream service ID"), max_length=64, blank=True)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices, default=Source.WEB)

    link = models.CharField(_("link"), max_length=2000, blank=True)
    quantity = models.PositiveBigIntegerField(_("quantity"), help_text=_("Per run for drip-feed orders."))
    runs = models.PositiveIntegerField(_("runs"), null=True, blank=True)
    interval = models.PositiveIntegerField(
        _("interval"), null=True, blank=True, help_text=_("Minutes between drip-feed runs.")
    )
    # Type-specific parameters (comments, usernames, answer_number, ...) as sent upstream.
    params = models.JSONField(_("params"), default=dict, blank=True)

    charge = models.DecimalField(_("charge"), **MONEY, help_text=_("What the customer was charged."))
    cost_expected = models.DecimalField(
        _("cost expected"), **MONEY, help_text=_("The provider's price at placement, panel currency.")
    )
    cost_actual = models.DecimalField(
        _("cost actual"), null=True, blank=True, **MONEY, help_text=_("The provider's reported charge.")
    )
    refunded = models.DecimalField(_("refunded"), default=Decimal("0"), **MONEY)

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    start_count = models.BigIntegerField(_("start count"), null=True, blank=True)
    remains = models.BigIntegerField(_("remains"), null=True, blank=True)
    upstream_runs = models.IntegerField(_("upstream runs"), null=True, blank=True)
    upstream_posts = models.IntegerField(_("upstream posts"), null=True, blank=True)

    forward_state = models.CharField(
        _("forward state"), max_length=10, choices=ForwardState.choices, default=ForwardState.QUEUED
    )
    upstream_order_id = models.CharField(_("upstream order ID"), max_length=64, blank=True)
    upstream_error = models.TextField(_("upstream error"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    send_started_at = models.DateTimeField(_("send started at"), null=True, blank=True)
    needs_attention = models.BooleanField(_("needs attention"), default=False)
    attention_reason = models.TextField(_("attention reason"), blank=True)

    # Manual orders: who took the order and until when; a lapsed claim makes it pullable again.
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("claimed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)

    next_check_at = models.DateTimeField(_("next check at"), null=True, blank=True)
    last_checked_at = models.DateTimeField(_("last checked at"), null=True, blank=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    idempotency_key = models.CharField(max_length=128, null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["user", "-id"], name="order_user_recent"),
            models.Index(fields=["user", "service", "link"], name="order_user_service_link"),
            models.Index(
                fields=["provider", "next_check_at"],
                name="order_poll_due",
                condition=Q(forward_state="sent", status__in=["Pending", "In progress", "Processing"]),
            ),
            models.Index(
                fields=["forward_state", "next_attempt_at"],
                name="order_forward_due",
                condition=Q(forward_state__in=["queued", "sending"]),
            ),
            models.Index(fields=["upstream_order_id"], name="order_upstream_id"),
            # Staff search by upstream ID ignoring case (the admin's iexact). Search by part of a
            # link has a trigram index, order_link_trgm, on UPPER(link) (migration 0005, PostgreSQL
            # only: written in SQL, as Django cannot express an operator class on an expression).
            models.Index(Upper("upstream_order_id"), name="order_upstream_id_upper"),
            # Orders that need attention, newest first (home page, list filter): a handful of 10M.
            models.Index(fields=["id"], name="order_attention", condition=Q(needs_attention=True)),
            # The manual queue, oldest first, and the pull's scan of unfinished manual orders.
            models.Index(
                fields=["id"],
                name="order_manual_open",
                condition=Q(forward_state="manual", status__in=["Pending", "In progress", "Processing"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="order_idempotency_key_per_user",
            ),
            models.CheckConstraint(condition=Q(charge__gte=0), name="order_charge_not_negative"),
            models.CheckConstraint(
                condition=Q(refunded__gte=0) & Q(refunded__lte=models.F("charge")), name="order_refund_within_charge"
            ),
            # Only a manual order goes without a provider, and a manual order never has one.
            models.CheckConstraint(
                condition=Q(forward_state="manual", provider__isnull=True)
                | (~Q(forward_state="manual") & Q(provider__isnull=False)),
                name="order_provider_unless_manual",
            ),
        ]

    def __str__(self) -> str:
        return f"Order {self.pk}"

    @property
    def units(self) -> int:
        """Total units ordered: quantity x runs for drip-feed."""
        return order_units(self.quantity, self.runs)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def net_charge(self) -> Decimal:
        return self.charge - self.refunded


class OrderEvent(models.Model):
    """The order's timeline: placed, forwarded, status changes, refunds, refills, cancels, staff actions."""

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=16)
    message = models.TextField(_("message"))
    data = models.JSONField(_("data"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True, on_delete=models.PROTECT
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind}: {self.message}"


class Refill(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        REJECTED = "rejected", "Rejected"
        MANUAL = "manual", "Manual (staff resolve it)"

    class Status(models.TextChoices):
        # The protocol's words (stored, answered by the APIs); the labels are for pages.
        PENDING = "Pending", _("Pending")
        IN_PROGRESS = "In progress", _("In progress")
        COMPLETED = "Completed", _("Completed")
        REJECTED = "Rejected", _("Rejected")

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="refills")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, related_name="refills"
    )
    # None for a manual order's refill (state `manual`): staff resolve it, nothing is sent.
    provider = models.ForeignKey(
        Provider, verbose_name=_("provider"), null=True, blank=True, on_delete=models.PROTECT, related_name="refills"
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    upstream_refill_id = models.CharField(_("upstream refill ID"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    next_check_at = models.DateTimeField(_("next check at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("refill")
        verbose_name_plural = _("refills")
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "-id"], name="refill_user_recent")]
        constraints = [
            # One open refill per order, enforced by the database.
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status__in=["Pending", "In progress"]) & ~Q(state="rejected"),
                name="refill_one_open_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"Refill {self.pk} of order {self.order_id}"


class CancelRequest(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        CONFIRMED = "confirmed", "Confirmed by provider"
        REJECTED = "rejected", "Rejected by provider"
        DONE = "done", "Order canceled"
        # A manual order's cancel: waits for staff, who cancel the order (done) or refuse it.
        MANUAL = "manual", "Waiting for staff"

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="cancels")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, related_name="cancels"
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    upstream_cancel_id = models.CharField(_("upstream cancel ID"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("cancel request")
        verbose_name_plural = _("cancel requests")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(state__in=["queued", "confirmed", "manual"]),
                name="cancel_one_open_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"Cancel {self.pk} of order {self.order_id}"


class ReconciliationReport(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    ok = models.BooleanField(_("OK"))
    summary = models.TextField(_("summary"))
    data = models.JSONField(_("data"), default=dict)

    class Meta:
        verbose_name = _("reconciliation report")
        verbose_name_plural = _("reconciliation reports")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Reconciliation {self.created_at:%Y-%m-%d %H:%M} ({'ok' if self.ok else 'issues'})"


class OrderDaily(models.Model):
    """Orders, revenue and cost per day placed (panel time zone), provider and service: the report
    figures without reading every order (orders/rollups.py). On PostgreSQL a trigger on the orders
    table writes each change's difference to OrderDailyDelta; the sweeper folds those in here.
    Plain IDs (provider 0: a manual order) so folding needs no joins; cost is stored unrounded,
    like the per-order figure it sums."""

    day = models.DateField()
    provider_id = models.BigIntegerField()
    service_id = models.BigIntegerField()
    orders = models.BigIntegerField(default=0)
    revenue = models.DecimalField(max_digits=30, decimal_places=5, default=Decimal("0"))
    cost = models.DecimalField(max_digits=40, decimal_places=20, default=Decimal("0"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "provider_id", "service_id"], name="order_daily_key")]

    def __str__(self) -> str:
        return f"{self.day} provider {self.provider_id} service {self.service_id}: {self.orders}"


class OrderDailyDelta(models.Model):
    """A change to OrderDaily not folded in yet (written by the trigger, append-only)."""

    day = models.DateField()
    provider_id = models.BigIntegerField()
    service_id = models.BigIntegerField()
    orders = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=30, decimal_places=5)
    cost = models.DecimalField(max_digits=40, decimal_places=20)

    class Meta:
        indexes = [models.Index(fields=["day"], name="order_daily_delta_day")]

    def __str__(self) -> str:
        return f"{self.day} provider {self.provider_id} service {self.service_id}: {self.orders:+}"


class OrderCustomerTotals(models.Model):
    """Each customer's order figures for their dashboard (orders, active, charged, refunded), kept
    like OrderDaily: the trigger appends differences to OrderCustomerDelta, the sweeper folds."""

    user_id = models.BigIntegerField(primary_key=True)
    orders = models.BigIntegerField(default=0)
    active = models.BigIntegerField(default=0)
    charge = models.DecimalField(max_digits=30, decimal_places=5, default=Decimal("0"))
    refunded = models.DecimalField(max_digits=30, decimal_places=5, default=Decimal("0"))

    def __str__(self) -> str:
        return f"customer {self.user_id}: {self.orders} orders"


class OrderCustomerDelta(models.Model):
    """A change to OrderCustomerTotals not folded in yet (written by the trigger, append-only)."""

    user_id = models.BigIntegerField(db_index=True)
    orders = models.BigIntegerField()
    active = models.BigIntegerField()
    charge = models.DecimalField(max_digits=30, decimal_places=5)
    refunded = models.DecimalField(max_digits=30, decimal_places=5)

    def __str__(self) -> str:
        return f"customer {self.user_id}: {self.orders:+} orders"


class OrderCustomerMonth(models.Model):
    """Each customer's running totals at the end of each month (panel time zone): orders, revenue
    and cost of every order placed up to then, so any period's figures per customer are two
    months' rows apart (orders/rollups.py). A row for every month from the customer's first order
    to their last; `latest` marks the last, which holds for every later month. Kept like
    OrderDaily: the trigger appends differences to OrderCustomerMonthDelta, the sweeper folds."""

    user_id = models.BigIntegerField()
    month = models.DateField()  # the month's first day
    orders = models.BigIntegerField(default=0)
    revenue = models.DecimalField(max_digits=30, decimal_places=5, default=Decimal("0"))
    cost = models.DecimalField(max_digits=40, decimal_places=20, default=Decimal("0"))
    latest = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user_id", "month"], name="order_customer_month_key")]
        # A month's rows in customer order with their figures (index-only reads): the months
        # before the last, and the last (read for every month after it).
        indexes = [
            models.Index(
                fields=["month", "user_id"],
                include=["orders", "revenue", "cost"],
                condition=Q(latest=False),
                name="order_customer_month_past",
            ),
            models.Index(
                fields=["month", "user_id"],
                include=["orders", "revenue", "cost"],
                condition=Q(latest=True),
                name="order_customer_month_last",
            ),
        ]

    def __str__(self) -> str:
        return f"customer {self.user_id} to {self.month:%Y-%m}: {self.orders} orders"


class OrderCustomerMonthDelta(models.Model):
    """A change to a customer's month in OrderCustomerMonth not folded in yet (written by the
    trigger, append-only; the month's own difference, not a running total)."""

    user_id = models.BigIntegerField()
    month = models.DateField()
    orders = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=30, decimal_places=5)
    cost = models.DecimalField(max_digits=40, decimal_places=20)

    class Meta:
        indexes = [models.Index(fields=["month"], name="order_customer_month_delta")]

    def __str__(self) -> str:
        return f"customer {self.user_id} in {self.month:%Y-%m}: {self.orders:+} orders"
