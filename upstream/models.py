from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext
from encrypted_model_fields.fields import EncryptedCharField

from panel.money import MONEY

from .urlguard import check_url


class Provider(models.Model):
    """An upstream panel that speaks API v2 and fulfils our orders."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    api_url = models.URLField(_("API URL"), max_length=500)
    # Encrypted at rest with FIELD_ENCRYPTION_KEY (Fernet); never rendered back in full.
    api_key = EncryptedCharField(_("API key"), max_length=500)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    exchange_rate = models.DecimalField(
        _("exchange rate"),
        max_digits=18,
        decimal_places=8,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.00000001"))],
        help_text=_("Panel currency per one unit of the provider's currency."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    connect_timeout = models.DecimalField(
        _("connect timeout"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("5"),
        validators=[MinValueValidator(Decimal("0.1"))],
    )
    read_timeout = models.DecimalField(
        _("read timeout"),
        max_digits=6,
        decimal_places=2,
        default=Decimal("30"),
        validators=[MinValueValidator(Decimal("0.1"))],
    )
    max_concurrency = models.PositiveSmallIntegerField(
        _("max concurrency"),
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Most requests in flight to this provider at once, across all workers."),
    )
    # Idempotency keys: every `add` carries one (unless switched off for a provider that refuses
    # unknown parameters). A provider that honours them answers a repeated key with the order it
    # already created, so an `add` whose answer was lost can be sent again safely.
    send_idempotency_key = models.BooleanField(
        _("send idempotency key"),
        default=True,
        help_text=_("Send an idempotency key with every order (off for providers that refuse it)."),
    )
    honours_idempotency_keys = models.BooleanField(
        _("honours idempotency keys"),
        default=False,
        help_text=_("Staff know this provider answers a repeated idempotency key with the order it already has."),
    )
    advertises_idempotency_keys = models.BooleanField(
        _("advertises idempotency keys"),
        default=False,
        editable=False,
        help_text=_("The provider said so itself (its answers carry the Idempotency-Keys: honoured header)."),
    )
    # A child panel's provider that is the parent panel's own API (childpanels.provider). Set by
    # the wiring only, never by a form: in a child's backoffice it cannot be edited or deleted,
    # and no other provider can be added (upstream.admin).
    is_parent = models.BooleanField(_("parent panel"), default=False, editable=False)
    # When the provider first refused an order for want of funds in the current shortage; cleared
    # by the next order it accepts. One notice per shortage, not one per order or per retry.
    funds_short_since = models.DateTimeField(_("out of funds since"), null=True, blank=True, editable=False)
    # Pricing default for services bought from this provider (catalog rules may override it).
    markup_percent = models.DecimalField(_("markup percent"), max_digits=7, decimal_places=2, null=True, blank=True)

    balance = models.DecimalField(_("balance"), null=True, blank=True, editable=False, **MONEY)
    balance_checked_at = models.DateTimeField(_("balance checked at"), null=True, blank=True, editable=False)
    low_balance_threshold = models.DecimalField(_("low balance threshold"), default=Decimal("10"), **MONEY)
    low_balance = models.BooleanField(_("low balance"), default=False, editable=False)
    last_error = models.CharField(_("last error"), max_length=500, blank=True, editable=False)

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("provider")
        verbose_name_plural = _("providers")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(exchange_rate__gt=0), name="provider_exchange_rate_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Provider {self.pk} {self.name}>"

    @property
    def resends_unknown_outcomes(self) -> bool:
        """Whether an order whose `add` answer was lost is sent again, with the same key (the
        same rule as `resends_unknown_outcomes_q`, for queries)."""
        return self.send_idempotency_key and (self.honours_idempotency_keys or self.advertises_idempotency_keys)

    @property
    def api_key_hint(self) -> str:
        """How much of the key staff see, in their language: its last 4 characters, or whether one is set."""
        key = self.api_key or ""
        if len(key) > 8:
            return f"…{key[-4:]}"
        return pgettext("a secret on file", "set") if key else pgettext("a secret on file", "not set")

    def clean(self) -> None:
        try:
            provider_url_check(self.api_url)
        except ValueError as exc:
            raise ValidationError({"api_url": exc.translated()}) from None


def provider_url_check(url: str) -> None:
    """Raise ValueError when staff may not point a provider at this URL."""
    check_url(url, allow_private=settings.UPSTREAM_ALLOW_PRIVATE)


def resends_unknown_outcomes_q(prefix: str = "") -> Q:
    """Provider.resends_unknown_outcomes as a query condition; `prefix` reaches the provider
    from another model ("provider__" from an order)."""
    return Q(**{f"{prefix}send_idempotency_key": True}) & (
        Q(**{f"{prefix}honours_idempotency_keys": True}) | Q(**{f"{prefix}advertises_idempotency_keys": True})
    )
