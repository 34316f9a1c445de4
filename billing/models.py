"""Money coming in: payment methods (each backed by a gateway module, or manual), the deposits
made through them with the gateways' events, reversals (refunds and chargebacks) for staff to
review, deposit bonus tiers, affiliates, their commissions and payout requests."""

import json
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from encrypted_model_fields.fields import EncryptedTextField

from panel.money import MONEY
from panel.tenancy import panel_currency

from .gateways import GATEWAYS, gateway_class

MANUAL = "manual"
PERCENT = {"max_digits": 5, "decimal_places": 2}
# Amounts in a gateway's currency: crypto has up to 8 (BTC) or 18 (ETH, shown rounded) places.
CHARGE = {"max_digits": 30, "decimal_places": 10}
RATE = {"max_digits": 24, "decimal_places": 10}


def plain_amount(value: Decimal | None) -> str:
    """An amount in a gateway's currency as people write it: no trailing zeros past the cents."""
    if value is None:
        return ""
    whole, _, frac = f"{value.normalize():f}".partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def kind_choices() -> list[tuple[str, str]]:
    """Manual, then every gateway module's code (billing.gateways.GATEWAYS)."""
    return [(MANUAL, _("Manual (staff approve)")), *((code, gateway_label(code)) for code in GATEWAYS)]


def gateway_label(code: str) -> str:
    """The gateway class's own label; the code itself while its module has not landed."""
    try:
        return str(gateway_class(code).label)
    except (ImportError, AttributeError, KeyError):
        return code


class PaymentMethod(models.Model):
    """A way to add funds, backed by a gateway code (``kind``): ``manual`` shows instructions and
    staff approve the deposit requests; any other kind is a gateway module with its own settings.
    Several methods may share a gateway (two PayPal accounts); each has its own notify URL."""

    class Kind:  # the codes the code base names; the full list is kind_choices()
        MANUAL = MANUAL
        STRIPE = "stripe"

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("gateway"), max_length=32, choices=kind_choices, default=MANUAL)
    instructions = models.TextField(_("instructions"), blank=True, help_text=_("Shown to the customer."))
    min_amount = models.DecimalField(_("minimum amount"), default=Decimal("1"), **MONEY)
    max_amount = models.DecimalField(_("maximum amount"), null=True, blank=True, **MONEY)
    enabled = models.BooleanField(_("enabled"), default=True)
    position = models.IntegerField(_("position"), default=0)
    fee_percent = models.DecimalField(
        _("fee percent"),
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("50"))],
        help_text=_("Paid by the customer on top of the amount, shown before paying."),
        **PERCENT,
    )
    fee_fixed = models.DecimalField(
        _("fixed fee"),
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("In the panel's currency, paid by the customer on top of the amount."),
        **MONEY,
    )
    currency = models.CharField(
        _("charge currency"),
        max_length=16,
        blank=True,
        help_text=_("The currency the gateway charges in (ISO code, or the crypto processor's). Empty: the panel's."),
    )
    rate = models.DecimalField(
        _("rate"),
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.0000000001"))],
        help_text=_("Units of the charge currency per one unit of the panel's currency, recorded on each deposit."),
        **RATE,
    )
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    # The gateway's secret settings as a JSON object, encrypted at rest; never rendered back.
    secrets = EncryptedTextField(_("secret settings"), blank=True, default="")

    class Meta:
        verbose_name = _("payment method")
        verbose_name_plural = _("payment methods")
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(min_amount__gt=0), name="payment_method_min_positive"),
            models.CheckConstraint(
                condition=Q(fee_percent__gte=0) & Q(fee_percent__lte=50), name="payment_method_fee_percent_range"
            ),
            models.CheckConstraint(condition=Q(fee_fixed__gte=0), name="payment_method_fee_fixed_not_negative"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="payment_method_rate_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_manual(self) -> bool:
        return self.kind == MANUAL

    def charge_currency(self) -> str:
        return (self.currency or panel_currency()).upper()

    def secret_values(self) -> dict[str, str]:
        try:
            values = json.loads(self.secrets or "{}")
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else {}

    def set_secret_values(self, values: dict[str, str]) -> None:
        self.secrets = json.dumps({k: v for k, v in values.items() if v}, sort_keys=True)

    def config(self) -> dict[str, str]:
        """Every setting by Field.name, secrets decrypted: what the gateway class is built with."""
        plain = {str(k): "" if v is None else str(v) for k, v in (self.settings or {}).items()}
        return {**plain, **self.secret_values()}

    def secret_hint(self, name: str) -> str:
        value = self.secret_values().get(name, "")
        return f"…{value[-4:]}" if len(value) > 12 else "set" if value else "not set"


class DepositRequest(models.Model):
    """A customer's claim to have paid through a manual method; approving it credits the balance
    once (key deposit:<id>) and its bonus (key bonus:request:<id>)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, related_name="deposit_requests"
    )
    method = models.ForeignKey(
        PaymentMethod, verbose_name=_("method"), on_delete=models.PROTECT, related_name="requests"
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    fee = models.DecimalField(_("fee"), default=Decimal("0"), **MONEY)
    bonus = models.DecimalField(_("bonus"), default=Decimal("0"), **MONEY)
    reference = models.CharField(
        _("payment reference"), max_length=255, blank=True, help_text=_("Transaction ID, sender, or a note.")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    staff_note = models.CharField(_("staff note"), max_length=255, blank=True)
    ledger_entry_id = models.BigIntegerField(_("ledger entry ID"), null=True, blank=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("deposit request")
        verbose_name_plural = _("deposit requests")
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="deposit_amount_positive")]

    def __str__(self) -> str:
        return f"Deposit request {self.pk} ({self.user_id}, {self.amount})"


class Deposit(models.Model):
    """One deposit through a gateway: created here, paid at the gateway, credited once through the
    ledger (key <gateway>:<transaction id>) when a verified report says the money arrived.

    ``amount`` is what the balance is to receive (panel currency); the customer pays
    ``charge_amount`` ``charge_currency`` = (amount + fee) x rate; ``bonus`` is credited beside it.
    """

    class Status(models.TextChoices):
        CREATED = "created", _("Created")  # our row exists; the gateway has not answered yet
        PENDING = "pending", _("Pending")  # the customer is (or was) at the gateway
        PAID = "paid", _("Paid")
        PARTIAL = "partial", _("Partly paid")  # less than asked arrived and was credited
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, related_name="gateway_deposits"
    )
    method = models.ForeignKey(
        PaymentMethod, verbose_name=_("method"), on_delete=models.PROTECT, related_name="deposits"
    )
    gateway = models.CharField(_("gateway"), max_length=32)
    amount = models.DecimalField(_("amount"), **MONEY)
    fee = models.DecimalField(_("fee"), default=Decimal("0"), **MONEY)
    bonus = models.DecimalField(_("bonus"), default=Decimal("0"), **MONEY)
    charge_amount = models.DecimalField(_("charge amount"), **CHARGE)
    charge_currency = models.CharField(_("charge currency"), max_length=16)
    rate = models.DecimalField(_("rate"), default=Decimal("1"), **RATE)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.CREATED)
    refunded = models.BooleanField(_("refunded"), default=False)
    charged_back = models.BooleanField(_("charged back"), default=False)
    external_id = models.CharField(_("gateway order ID"), max_length=255, null=True, blank=True)
    transaction_id = models.CharField(_("gateway transaction ID"), max_length=255, null=True, blank=True)
    received_amount = models.DecimalField(_("received"), null=True, blank=True, **CHARGE)
    credited = models.DecimalField(_("credited"), default=Decimal("0"), **MONEY)
    checkout = models.JSONField(_("checkout"), default=dict, blank=True)
    checkout_url = models.URLField(_("checkout URL"), max_length=2000, blank=True)
    needs_review = models.BooleanField(
        _("needs review"), default=False, help_text=_("The gateway reported something that needs a person.")
    )
    note = models.CharField(_("note"), max_length=255, blank=True)
    ledger_entry_id = models.BigIntegerField(_("ledger entry ID"), null=True, blank=True, editable=False)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("deposit")
        verbose_name_plural = _("deposits")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="gateway_payment_amount_positive"),
            models.CheckConstraint(condition=Q(charge_amount__gt=0), name="deposit_charge_positive"),
            models.CheckConstraint(condition=Q(fee__gte=0) & Q(bonus__gte=0), name="deposit_fee_bonus_not_negative"),
            models.UniqueConstraint(fields=["gateway", "external_id"], name="gateway_payment_external_unique"),
            # One credit per payment, whatever arrives twice.
            models.UniqueConstraint(fields=["gateway", "transaction_id"], name="deposit_transaction_unique"),
        ]
        indexes = [
            models.Index(fields=["user", "-id"], name="gateway_payment_user_recent"),
            models.Index(fields=["status", "created_at"], name="deposit_status_created"),
        ]

    def __str__(self) -> str:
        return f"Deposit {self.pk} ({self.gateway}, {self.amount}, {self.status})"

    @property
    def charge_display(self) -> str:
        return f"{plain_amount(self.charge_amount)} {self.charge_currency}"


class GatewayEvent(models.Model):
    """Every verified report a gateway sent (or a lookup returned), stored before it is acted on.
    Its event ID is unique per gateway, so a redelivered notification changes nothing."""

    gateway = models.CharField(_("gateway"), max_length=32, default="stripe")
    method = models.ForeignKey(
        PaymentMethod, verbose_name=_("method"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    event_id = models.CharField(_("event ID"), max_length=255)
    type = models.CharField(_("type"), max_length=100, db_index=True)
    payload = models.JSONField(_("payload"))
    deposit = models.ForeignKey(
        Deposit, verbose_name=_("deposit"), null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    processed = models.BooleanField(_("processed"), default=False)
    needs_review = models.BooleanField(_("needs review"), default=False)
    outcome = models.CharField(_("outcome"), max_length=255, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("gateway event")
        verbose_name_plural = _("gateway events")
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["gateway", "event_id"], name="gateway_event_unique")]

    def __str__(self) -> str:
        return f"{self.gateway} {self.event_id} {self.type}"


class Reversal(models.Model):
    """A refund or chargeback a gateway reported on a credited deposit: never applied by itself.
    Staff apply it (debit what the balance allows, the rest recorded as not recovered) or dismiss it."""

    class Kind(models.TextChoices):
        REFUND = "refunded", _("Refund")
        CHARGEBACK = "chargeback", _("Chargeback")

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for review")
        APPLIED = "applied", _("Applied")
        DISMISSED = "dismissed", _("Dismissed")

    deposit = models.ForeignKey(Deposit, verbose_name=_("deposit"), on_delete=models.PROTECT, related_name="reversals")
    event = models.OneToOneField(
        GatewayEvent, verbose_name=_("event"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    # The gateway's ID of this refund or dispute (Razorpay's rfnd_/disp_, PayPal's refund or
    # dispute ID, Stripe's re_/dp_): one reversal per ID. Empty when the gateway gave none.
    transaction_id = models.CharField(_("gateway reference"), max_length=255, blank=True, default="")
    # A later report of the same money under another ID (a dispute the gateway then settles with a
    # reversal or refund of the capture): remembered here so it is not recorded twice.
    settled_by = models.CharField(_("settled by"), max_length=255, blank=True, default="")
    gateway_amount = models.DecimalField(_("amount at the gateway"), **CHARGE)
    gateway_currency = models.CharField(_("currency at the gateway"), max_length=16)
    amount = models.DecimalField(_("amount to take back"), help_text=_("In the panel's currency."), **MONEY)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    recovered = models.DecimalField(_("recovered"), default=Decimal("0"), **MONEY)
    not_recovered = models.DecimalField(_("not recovered"), default=Decimal("0"), **MONEY)
    ledger_entry_id = models.BigIntegerField(_("ledger entry ID"), null=True, blank=True, editable=False)
    note = models.CharField(_("note"), max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("reversal")
        verbose_name_plural = _("reversals")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="reversal_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(recovered__gte=0) & Q(not_recovered__gte=0), name="reversal_recovered_not_negative"
            ),
            models.UniqueConstraint(
                fields=["deposit", "transaction_id"],
                condition=~Q(transaction_id=""),
                name="reversal_transaction_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk} of deposit {self.deposit_id}"


class BonusTier(models.Model):
    """From ``min_amount`` deposited (panel currency) on, ``percent`` more is credited as a bonus.
    The highest tier the amount reaches applies."""

    min_amount = models.DecimalField(_("from amount"), unique=True, **MONEY)
    percent = models.DecimalField(
        _("bonus percent"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100"))],
        **PERCENT,
    )
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("bonus tier")
        verbose_name_plural = _("bonus tiers")
        ordering = ["min_amount"]
        constraints = [
            models.CheckConstraint(condition=Q(min_amount__gt=0), name="bonus_tier_min_positive"),
            models.CheckConstraint(condition=Q(percent__gt=0) & Q(percent__lte=100), name="bonus_tier_percent_range"),
        ]

    def __str__(self) -> str:
        return f"+{self.percent}% from {self.min_amount}"


class Affiliate(models.Model):
    """A customer's referral code, who referred them, and the commission staff granted them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="affiliate"
    )
    code = models.CharField(_("code"), max_length=16, unique=True)
    commission_percent = models.DecimalField(
        _("commission percent"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("50"))],
        help_text=_("Share of referred customers' deposits this customer earns."),
    )
    referred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("referred by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referrals",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("affiliate")
        verbose_name_plural = _("affiliates")
        constraints = [
            models.CheckConstraint(
                condition=Q(commission_percent__gte=0) & Q(commission_percent__lte=50),
                name="affiliate_commission_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.code})"


class AffiliateSettings(models.Model):
    """Panel-wide affiliate rules (a single row, pk=1)."""

    payout_threshold = models.DecimalField(
        _("payout threshold"),
        default=Decimal("10"),
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("A referrer may ask for a payout once their unpaid commissions reach this amount."),
        **MONEY,
    )

    class Meta:
        verbose_name = verbose_name_plural = _("affiliate settings")

    def __str__(self) -> str:
        return "Affiliate settings"

    @classmethod
    def load(cls) -> "AffiliateSettings":
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


class PayoutRequest(models.Model):
    """A referrer's request to be paid their unpaid commissions (the ones linked to it). Staff
    credit it to the balance (key payout:<id>), mark it paid outside the panel, or reject it
    (its commissions become unpaid again). One open request per referrer."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        CREDITED = "credited", _("Credited to balance")
        PAID_OUTSIDE = "paid_outside", _("Paid outside the panel")
        REJECTED = "rejected", _("Rejected")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, related_name="payout_requests"
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    staff_note = models.CharField(_("staff note"), max_length=255, blank=True)
    ledger_entry_id = models.BigIntegerField(_("ledger entry ID"), null=True, blank=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("payout request")
        verbose_name_plural = _("payout requests")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive"),
            models.UniqueConstraint(fields=["user"], condition=Q(status="pending"), name="payout_one_open"),
        ]

    def __str__(self) -> str:
        return f"Payout {self.pk} ({self.user_id}, {self.amount}, {self.status})"


class Commission(models.Model):
    """One commission earned by an affiliate on one deposit of a referred customer: an approved
    manual deposit request or a paid gateway deposit (exactly one of the two). It accrues: paid
    once the referrer asks for a payout and staff approve it. Rows from before payouts existed
    were credited to the balance at the time (``credited_at_deposit``)."""

    affiliate = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("affiliate"), on_delete=models.PROTECT, related_name="commissions"
    )
    referred = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("referred"), on_delete=models.PROTECT, related_name="+"
    )
    deposit = models.OneToOneField(
        DepositRequest,
        verbose_name=_("deposit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="commission",
    )
    gateway_deposit = models.OneToOneField(
        Deposit,
        verbose_name=_("gateway deposit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="commission",
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    payout = models.ForeignKey(
        PayoutRequest,
        verbose_name=_("payout"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="commissions",
    )
    credited_at_deposit = models.BooleanField(_("credited at deposit"), default=False, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("commission")
        verbose_name_plural = _("commissions")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(deposit__isnull=False, gateway_deposit__isnull=True)
                | Q(deposit__isnull=True, gateway_deposit__isnull=False),
                name="commission_one_source",
            ),
        ]

    def __str__(self) -> str:
        return f"Commission {self.amount} to {self.affiliate_id}"
