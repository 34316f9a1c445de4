"""Money coming in: payment methods, manual deposit requests, gateway payments and their events,
affiliates and the commissions paid to them."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from panel.money import MONEY


class PaymentMethod(models.Model):
    """A way to add funds. Manual methods show instructions; staff approve the deposit requests."""

    class Kind(models.TextChoices):
        MANUAL = "manual", _("Manual (staff approve)")
        STRIPE = "stripe", _("Card via Stripe Checkout")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.MANUAL)
    instructions = models.TextField(_("instructions"), blank=True, help_text=_("Shown to the customer."))
    min_amount = models.DecimalField(_("minimum amount"), default=Decimal("1"), **MONEY)
    max_amount = models.DecimalField(_("maximum amount"), null=True, blank=True, **MONEY)
    enabled = models.BooleanField(_("enabled"), default=True)
    position = models.IntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(min_amount__gt=0), name="payment_method_min_positive"),
            # One Stripe method: its settings (limits, name, position) live on that one row.
            models.UniqueConstraint(fields=["kind"], condition=Q(kind="stripe"), name="payment_method_one_stripe"),
        ]

    def __str__(self) -> str:
        return self.name


class DepositRequest(models.Model):
    """A customer's claim to have paid; approving it credits the balance once (key deposit:<id>)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deposit_requests")
    method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT, related_name="requests")
    amount = models.DecimalField(_("amount"), **MONEY)
    reference = models.CharField(
        _("payment reference"), max_length=255, blank=True, help_text=_("Transaction ID, sender, or a note.")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    staff_note = models.CharField(_("staff note"), max_length=255, blank=True)
    ledger_entry_id = models.BigIntegerField(null=True, blank=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    decided_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="deposit_amount_positive")]

    def __str__(self) -> str:
        return f"Deposit {self.pk} ({self.user_id}, {self.amount})"


class Affiliate(models.Model):
    """A customer's referral code, who referred them, and the commission staff granted them."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="affiliate")
    code = models.CharField(max_length=16, unique=True)
    commission_percent = models.DecimalField(
        _("commission percent"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("50"))],
        help_text=_("Share of referred customers' deposits credited to this customer."),
    )
    referred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="referrals"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(commission_percent__gte=0) & Q(commission_percent__lte=50),
                name="affiliate_commission_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.code})"


class Commission(models.Model):
    """One commission credited to an affiliate for one deposit of a referred customer: an approved
    manual deposit request or a paid gateway payment (exactly one of the two)."""

    affiliate = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="commissions")
    referred = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    deposit = models.OneToOneField(
        DepositRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="commission"
    )
    gateway_payment = models.OneToOneField(
        "GatewayPayment", null=True, blank=True, on_delete=models.PROTECT, related_name="commission"
    )
    amount = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(deposit__isnull=False, gateway_payment__isnull=True)
                | Q(deposit__isnull=True, gateway_payment__isnull=False),
                name="commission_one_source",
            ),
        ]

    def __str__(self) -> str:
        return f"Commission {self.amount} to {self.affiliate_id}"


class GatewayPayment(models.Model):
    """One online payment: created here, paid at the provider (Stripe Checkout), credited once
    through the ledger (key stripe:<session id>) when the provider's signed event says it is paid.
    The amount credited is always ours, never the event's."""

    class Provider(models.TextChoices):
        STRIPE = "stripe", _("Stripe")

    class Status(models.TextChoices):
        CREATED = "created", _("Created")  # our row exists; the provider has not answered yet
        PENDING = "pending", _("Pending")  # the customer is (or was) on the provider's page
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="gateway_payments")
    provider = models.CharField(_("provider"), max_length=16, choices=Provider.choices, default=Provider.STRIPE)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.CREATED)
    external_id = models.CharField(_("provider session ID"), max_length=255, null=True, blank=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    needs_review = models.BooleanField(
        _("needs review"), default=False, help_text=_("The provider reported something we did not credit.")
    )
    note = models.CharField(_("note"), max_length=255, blank=True)
    ledger_entry_id = models.BigIntegerField(null=True, blank=True, editable=False)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="gateway_payment_amount_positive"),
            models.UniqueConstraint(fields=["provider", "external_id"], name="gateway_payment_external_unique"),
        ]
        indexes = [models.Index(fields=["user", "-id"], name="gateway_payment_user_recent")]

    def __str__(self) -> str:
        return f"Payment {self.pk} ({self.provider}, {self.amount} {self.currency}, {self.status})"


class GatewayEvent(models.Model):
    """Every verified event the provider sent, stored raw before it is acted on. The provider's
    event ID is unique, so a redelivered event is recognised and acknowledged without effect."""

    provider = models.CharField(max_length=16, default=GatewayPayment.Provider.STRIPE)
    event_id = models.CharField(_("event ID"), max_length=255, unique=True)
    type = models.CharField(_("type"), max_length=100, db_index=True)
    payload = models.JSONField(_("payload"))
    payment = models.ForeignKey(GatewayPayment, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    processed = models.BooleanField(_("processed"), default=False)
    outcome = models.CharField(_("outcome"), max_length=255, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"
