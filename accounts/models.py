from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from panel.money import MONEY


class User(AbstractUser):
    """A login: customers and staff alike. Customers carry a balance and an API key.

    `balance` is a cache of the sum of the user's ledger entries; only accounts.ledger writes it.
    """

    email = models.EmailField(_("email address"), blank=True)
    balance = models.DecimalField(_("balance"), default=Decimal("0"), editable=False, **MONEY)
    # The downstream API key is stored only as a SHA-256 hash; the prefix lets a customer
    # recognise which key is active without it ever being shown again.
    api_key_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    api_key_prefix = models.CharField(_("API key prefix"), max_length=12, blank=True, editable=False)
    api_key_created_at = models.DateTimeField(_("API key created at"), null=True, blank=True, editable=False)
    discount_percent = models.DecimalField(
        _("discount percent"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        help_text=_("Reseller discount on every service."),
    )
    timezone = models.CharField(_("timezone"), max_length=64, default="UTC")
    # One of settings.LANGUAGES, or blank: the browser's (or the cookie's) language, else the panel's.
    language = models.CharField(_("language"), max_length=10, blank=True, default="")
    # An ISO code the customer sees prices and balances in, or blank: the panel currency. Display only:
    # the ledger and every charge stay in settings.PANEL_CURRENCY.
    display_currency = models.CharField(_("display currency"), max_length=3, blank=True, default="")

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        indexes = [
            # Staff find a customer by username or email ignoring case (the list filters' iexact):
            # an index each instead of a scan of every user (migration 0005, PostgreSQL).
            models.Index(Upper("username"), name="user_username_upper"),
            models.Index(Upper("email"), name="user_email_upper"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="user_balance_not_negative"),
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0) & Q(discount_percent__lt=100), name="user_discount_range"
            ),
        ]

    def __str__(self) -> str:
        return self.username


class PanelApiKey(models.Model):
    """A second API key of a parent customer, held by one of their child panels.

    A child panel calls the parent's API v2 as its owner (the parent is the child's provider).
    It gets a key of its own rather than the owner's: rotating the owner's key would break the
    panel, and handing the panel that key would break the owner's scripts when the panel's is
    replaced. The API accepts it as the owner (accounts.services.user_by_api_key) in the same
    single indexed query as the main key. Stored like the main key: a SHA-256 hash and a prefix.
    Lives in the parent's schema only in practice; deleting the row revokes the key.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="panel_api_keys"
    )
    # The child panel's schema name (tenants.Panel.schema_name): a plain name, not a foreign key,
    # since accounts sits below the registry and the registry lives in the parent's schema.
    panel_schema = models.CharField(_("child panel"), max_length=63, unique=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(_("API key prefix"), max_length=12, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("child panel API key")
        verbose_name_plural = _("child panel API keys")

    def __str__(self) -> str:
        return f"{self.panel_schema}: {self.key_prefix}…"


class LedgerEntry(models.Model):
    """One movement of a customer's money. Append-only: corrections are new entries."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", _("Deposit")
        CHARGE = "charge", _("Charge")
        REFUND = "refund", _("Refund")
        ADJUSTMENT = "adjustment", _("Adjustment")
        BONUS = "bonus", _("Deposit bonus")
        COMMISSION = "commission", _("Affiliate payout")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, related_name="ledger_entries"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), **MONEY, help_text=_("Signed: positive credits, negative debits."))
    balance_after = models.DecimalField(_("balance after"), **MONEY)
    # A plain ID, not a foreign key: accounts/ sits below orders/ and must not import it.
    order_id = models.BigIntegerField(_("order ID"), null=True, blank=True, db_index=True)
    # Who made the entry: staff for adjustments and decided deposits, None for the customer's own.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    memo = models.CharField(_("memo"), max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=128, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "-id"], name="ledger_user_recent")]
        constraints = [
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="ledger_balance_after_not_negative"),
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_not_zero"),
            models.CheckConstraint(
                condition=(Q(kind="deposit", amount__gt=0) | Q(kind="charge", amount__lt=0))
                | Q(kind="refund", amount__gt=0)
                | Q(kind="adjustment")
                | Q(kind__in=["bonus", "commission"], amount__gt=0),
                name="ledger_sign_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.user_id})"


class AuditLog(models.Model):
    """One staff action that moved money or changed an order, a customer or the catalog: who,
    when, what, the state before and after, and why. Written by the action's service in the same
    transaction as the change itself, so there is never a change without its row (or a row
    without its change). It lives here, in the lowest app with models, so that every app's
    services can write it."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(_("action"), max_length=48, db_index=True)
    object_type = models.CharField(_("object type"), max_length=48)
    object_id = models.CharField(_("object ID"), max_length=64)
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        verbose_name = _("audit log")
        verbose_name_plural = _("audit logs")
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "-id"], name="audit_object_recent")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object_type} {self.object_id}"
