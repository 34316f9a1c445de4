"""Display currencies: the exchange rates that turn panel-currency amounts into the customer's
currency on pages, and the one settings row where staff choose where rates come from.

The ledger, every charge and the API stay in settings.PANEL_CURRENCY; nothing here moves money.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# A rate is units of the display currency per one unit of the panel currency (as PaymentMethod.rate
# in billing). 12 places keep 8 significant digits even for 1 IDR = 0.0000625 USD; 18 whole digits
# hold any real currency's rate against any other.
RATE = {"max_digits": 30, "decimal_places": 12}


class Source(models.TextChoices):
    FIXED = "fixed", _("Fixed rates typed by staff")
    ECB = "ecb", _("European Central Bank (daily reference rates)")


class CurrencySettings(models.Model):
    """The one row (ID 1) of currency settings: where rates come from, which currencies
    customers may pick, when the feed counts as stale, and how the last fetch went."""

    source = models.CharField(
        _("rates source"),
        max_length=10,
        choices=Source.choices,
        default=Source.FIXED,
        help_text=_(
            "Fixed: the rates staff type in. European Central Bank: fetched every day; a currency the "
            "bank does not publish uses its fixed rate, if there is one."
        ),
    )
    currencies = models.JSONField(
        _("currencies customers may choose"),
        default=list,
        blank=True,
        help_text=_("ISO codes. The panel currency is always offered; a currency without a rate is not."),
    )
    stale_after_days = models.PositiveSmallIntegerField(
        _("stale after (days)"),
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_(
            "Staff are alerted when the newest feed rates are older than this. The bank publishes on "
            "working days only, so allow for weekends and holidays."
        ),
    )
    feed_checked_at = models.DateTimeField(_("feed last asked"), null=True, blank=True, editable=False)
    feed_ok_at = models.DateTimeField(_("feed last answered"), null=True, blank=True, editable=False)
    feed_error = models.CharField(_("feed's last error"), max_length=300, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("currency settings")
        verbose_name_plural = _("currency settings")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="currency_settings_single_row")]

    def __str__(self) -> str:
        return str(_("Currency settings"))


class ExchangeRate(models.Model):
    """The rate of one display currency against the panel currency (`base`) valid from one date,
    from one source. The rate in use is the newest one dated today or earlier; older rows stay as
    the history. The feed writes one row per (currency, date) and writes it again, unchanged or
    corrected, when it runs twice."""

    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    base = models.CharField(_("panel currency"), max_length=3)
    currency = models.CharField(_("currency"), max_length=3)
    rate = models.DecimalField(
        _("rate"), help_text=_("Units of this currency for one unit of the panel currency."), **RATE
    )
    valid_on = models.DateField(_("valid from"), default=timezone.localdate)
    fetched_at = models.DateTimeField(_("fetched or typed at"), default=timezone.now)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        verbose_name=_("typed by"),
    )

    class Meta:
        ordering = ["currency", "-valid_on"]
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        constraints = [
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive"),
            models.UniqueConstraint(
                fields=["source", "base", "currency", "valid_on"], name="exchange_rate_one_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"1 {self.base} = {self.rate.normalize():f} {self.currency} ({self.valid_on}, {self.source})"
