from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from modeltranslation.translator import NotRegistered, translator
from modeltranslation.utils import build_localized_fieldname

from panel.money import MONEY
from upstream.models import Provider
from upstream.names import name_key

from .languages import DEFAULT_LANGUAGE, default_language

PERCENT = {"max_digits": 7, "decimal_places": 2}


class ServiceType(models.TextChoices):
    """The service types of API v2 panels, named as the protocol names them."""

    DEFAULT = "Default"
    PACKAGE = "Package"
    SEO = "SEO"
    CUSTOM_COMMENTS = "Custom Comments"
    MENTIONS = "Mentions"
    MENTIONS_WITH_HASHTAGS = "Mentions with Hashtags"
    MENTIONS_CUSTOM_LIST = "Mentions Custom List"
    MENTIONS_HASHTAG = "Mentions Hashtag"
    MENTIONS_USER_FOLLOWERS = "Mentions User Followers"
    MENTIONS_MEDIA_LIKERS = "Mentions Media Likers"
    CUSTOM_COMMENTS_PACKAGE = "Custom Comments Package"
    COMMENT_LIKES = "Comment Likes"
    POLL = "Poll"
    INVITES_FROM_GROUPS = "Invites from Groups"
    SUBSCRIPTIONS = "Subscriptions"
    WEB_TRAFFIC = "Web Traffic"


class PricingSettings(models.Model):
    """Panel-wide pricing defaults (a single row, pk=1)."""

    class Rounding(models.TextChoices):
        UP = "up", gettext_lazy("Round up")
        HALF_UP = "half_up", gettext_lazy("Round half up")

    default_markup_percent = models.DecimalField(
        gettext_lazy("default markup percent"),
        default=Decimal("50"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=gettext_lazy("Markup when neither the service, its category nor its provider sets one."),
        **PERCENT,
    )
    decimals = models.PositiveSmallIntegerField(
        gettext_lazy("decimals"),
        default=4,
        validators=[MaxValueValidator(5)],
        help_text=gettext_lazy("Decimal places of our rates per 1,000."),
    )
    rounding = models.CharField(gettext_lazy("rounding"), max_length=8, choices=Rounding.choices, default=Rounding.UP)
    refuse_duplicate_active_link = models.BooleanField(
        gettext_lazy("refuse duplicate active link"),
        default=True,
        help_text=gettext_lazy("Refuse a second active order for the same link and service."),
    )

    class Meta:
        verbose_name = verbose_name_plural = gettext_lazy("pricing settings")

    def __str__(self) -> str:
        return "Pricing settings"

    @classmethod
    def load(cls) -> "PricingSettings":
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


class ProviderImport(models.Model):
    """How a provider's new upstream services enter our catalog during sync."""

    provider = models.OneToOneField(Provider, on_delete=models.CASCADE, related_name="catalog_import")
    auto_import = models.BooleanField(default=False, help_text="Create our services for new upstream services.")
    category_prefix = models.CharField(
        max_length=50, blank=True, help_text="Prefix for our categories created from upstream category names."
    )
    markup_percent = models.DecimalField(
        null=True,
        blank=True,
        help_text="Markup stored on each imported service; empty: the normal rules apply.",
        **PERCENT,
    )

    def __str__(self) -> str:
        return f"Import settings of {self.provider}"


class UpstreamService(models.Model):
    """A service as a provider lists it, with its raw attributes, recorded by sync."""

    # No index of its own: the unique (provider, upstream_id) index serves lookups by provider.
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="upstream_services", db_index=False)
    upstream_id = models.CharField(max_length=64)
    name = models.CharField(max_length=500)
    type = models.CharField(max_length=64)
    category = models.CharField(max_length=255, blank=True)
    rate = models.DecimalField(**MONEY, help_text="Per 1,000 (per package for packages), provider's currency.")
    min = models.PositiveBigIntegerField()
    max = models.PositiveBigIntegerField()
    refill = models.BooleanField(default=False)
    cancel = models.BooleanField(default=False)
    dripfeed = models.BooleanField(default=False)
    desc = models.TextField(blank=True)
    raw = models.JSONField(default=dict)
    # SHA-256 of `raw` as canonical JSON: sync compares it instead of loading every raw item.
    raw_digest = models.CharField(max_length=64, blank=True, editable=False)
    present = models.BooleanField(default=True, help_text="Listed by the provider at the last sync.")
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["provider", "upstream_id"]
        verbose_name = gettext_lazy("upstream service")
        verbose_name_plural = gettext_lazy("upstream services")
        constraints = [
            models.UniqueConstraint(fields=["provider", "upstream_id"], name="upstream_service_unique_per_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} #{self.upstream_id} {self.name}"


# Types that may be drip-fed: `runs` deliveries of `quantity` each, `interval` minutes apart.
DRIPFEED_TYPES = frozenset({ServiceType.DEFAULT, ServiceType.WEB_TRAFFIC})


class DefaultLanguageLookups(models.QuerySet):
    """Queries of a model with texts per language (catalog.translation): `filter(name=...)`,
    `order_by("name")`, `update(name=...)` and `get_or_create(name=...)` use the default
    language's column, as writes do, whatever language is active; modeltranslation would use the
    active language's, without fallback, so that a lookup by a name just written could miss it.
    Reading stays per language: `service.name`, `.values("name")`. Searches in the reader's
    language: catalog.selectors.text_matches."""

    def _post_init(self) -> None:  # modeltranslation's: it rewrites the model's default ordering
        with default_language():
            super()._post_init()

    def _rewrite_applied_operations(self) -> None:  # modeltranslation's
        with default_language():
            super()._rewrite_applied_operations()

    def _filter_or_exclude(self, negate, args, kwargs):
        with default_language():
            return super()._filter_or_exclude(negate, args, kwargs)

    def order_by(self, *field_names):
        with default_language():
            return super().order_by(*field_names)

    def distinct(self, *field_names):
        with default_language():
            return super().distinct(*field_names)

    def update(self, **kwargs):
        with default_language():
            texts = [name for name in kwargs if name in self._texts()]
            if not texts or not self._rewrite:
                return super().update(**kwargs)
            # Both the default language's column and the model's own, which modeltranslation
            # would leave as it was (catalog.translation).
            for name in texts:
                kwargs.setdefault(build_localized_fieldname(name, DEFAULT_LANGUAGE), kwargs[name])
            return self.rewrite(False).update(**kwargs)

    update.alters_data = True

    def bulk_update(self, objs, fields, batch_size=None):
        # Reads each object's texts in the default language, as save() does.
        with default_language():
            return super().bulk_update(objs, fields, batch_size=batch_size)

    bulk_update.alters_data = True

    def _texts(self) -> tuple[str, ...]:
        """The model's fields with a text per language."""
        try:
            return tuple(translator.get_options_for_model(self.model).all_fields)
        except NotRegistered:
            return ()

    def annotate(self, *args, **kwargs):
        with default_language():
            return super().annotate(*args, **kwargs)


class CategoryQuerySet(DefaultLanguageLookups):
    def with_sellable_services(self) -> "CategoryQuerySet":
        """Visible categories holding at least one service customers may order."""
        return self.filter(hidden=False, pk__in=Service.objects.sellable().values("category_id"))


class ServiceQuerySet(DefaultLanguageLookups):
    def sellable(self) -> "ServiceQuerySet":
        """Services customers may see and order: enabled, in a visible category, from an enabled
        provider (or manual: staff fulfil it). The one definition, used by the catalog pages, the
        dashboard and placement."""
        return self.filter(Q(upstream__provider__enabled=True) | Q(manual=True), enabled=True, category__hidden=False)


class Category(models.Model):
    name = models.CharField(gettext_lazy("name"), max_length=255, unique=True)
    position = models.IntegerField(gettext_lazy("position"), default=0, db_index=True)
    hidden = models.BooleanField(gettext_lazy("hidden"), default=False)
    markup_percent = models.DecimalField(
        gettext_lazy("markup percent"),
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=gettext_lazy("Markup for this category's services, unless a service sets its own."),
        **PERCENT,
    )

    objects = CategoryQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name"]
        verbose_name = gettext_lazy("category")
        verbose_name_plural = gettext_lazy("categories")

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    """What we sell: our ID, name and price, mapped to one upstream service."""

    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="services", verbose_name=gettext_lazy("category")
    )
    # None for a manual service: no provider; staff (or their scripts) fulfil its orders.
    upstream = models.ForeignKey(
        UpstreamService,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="services",
        verbose_name=gettext_lazy("upstream service"),
    )
    manual = models.BooleanField(
        gettext_lazy("manual"),
        default=False,
        help_text=gettext_lazy("Fulfilled by staff: no provider, orders wait in a queue."),
    )
    manual_cost = models.DecimalField(
        gettext_lazy("manual cost"),
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=gettext_lazy("Manual services: what fulfilling 1,000 (or a package) costs us, for the reports."),
        **MONEY,
    )
    name = models.CharField(gettext_lazy("name"), max_length=500)
    type = models.CharField(
        gettext_lazy("type"), max_length=64, choices=ServiceType.choices, default=ServiceType.DEFAULT
    )
    description = models.TextField(gettext_lazy("description"), blank=True)
    rate = models.DecimalField(
        pgettext_lazy("a service's price per 1,000", "rate"),
        **MONEY,
        help_text=gettext_lazy("Our price per 1,000 (per package for packages), before discounts."),
    )
    min = models.PositiveBigIntegerField(gettext_lazy("min"))
    max = models.PositiveBigIntegerField(gettext_lazy("max"))
    refill = models.BooleanField(gettext_lazy("refill"), default=False)
    refill_days = models.PositiveSmallIntegerField(
        gettext_lazy("refill days"), default=30, help_text=gettext_lazy("Refill period after completion.")
    )
    cancel = models.BooleanField(gettext_lazy("cancel"), default=False)
    dripfeed = models.BooleanField(gettext_lazy("drip-feed"), default=False)
    enabled = models.BooleanField(gettext_lazy("enabled"), default=True)
    position = models.IntegerField(gettext_lazy("position"), default=0)
    # Pricing rules specific to this service; the most specific rule wins.
    markup_percent = models.DecimalField(gettext_lazy("markup percent"), null=True, blank=True, **PERCENT)
    fixed_rate = models.DecimalField(gettext_lazy("fixed rate"), null=True, blank=True, **MONEY)
    allow_below_cost = models.BooleanField(
        gettext_lazy("allow below cost"),
        default=False,
        help_text=gettext_lazy("Loss-leader: allow a price below cost."),
    )
    # True while the rules would price the service below cost and the rate was raised instead;
    # the BELOW_COST change is logged when it turns True.
    below_cost = models.BooleanField(default=False, editable=False)
    # Created by sync's auto-import; at most one per upstream service, which the database
    # enforces so that concurrent syncs cannot import the same service twice.
    auto_imported = models.BooleanField(default=False, editable=False)
    # Set by sync when staff should look: the upstream service vanished, changed type, or its
    # cost rose above our price.
    flagged = models.BooleanField(default=False, db_index=True)
    flag_reason = models.CharField(max_length=255, blank=True)
    # Average completion time per 1,000 (orders.completion computes it from recent completed
    # orders; None: not enough data). Staff may set an override that customers see instead.
    avg_time = models.DurationField(null=True, blank=True, editable=False)
    avg_time_orders = models.PositiveSmallIntegerField(default=0, editable=False)
    avg_time_updated_at = models.DateTimeField(null=True, blank=True, editable=False)
    avg_time_override = models.DurationField(
        null=True,
        blank=True,
        validators=[MinValueValidator(timedelta(0))],
        help_text="Shown to customers instead of the computed average time per 1,000 (e.g. 2:30:00). "
        "Empty: the computed figure.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ServiceQuerySet.as_manager()

    class Meta:
        ordering = ["category__position", "position", "id"]
        verbose_name = gettext_lazy("service")
        verbose_name_plural = gettext_lazy("services")
        constraints = [
            models.CheckConstraint(condition=Q(rate__gte=0), name="service_rate_not_negative"),
            models.CheckConstraint(condition=Q(min__lte=models.F("max")), name="service_min_not_above_max"),
            models.UniqueConstraint(
                fields=["upstream"], condition=Q(auto_imported=True), name="service_one_import_per_upstream"
            ),
            models.CheckConstraint(
                condition=Q(manual=True, upstream__isnull=True) | Q(manual=False, upstream__isnull=False),
                name="service_manual_xor_upstream",
            ),
            models.CheckConstraint(condition=Q(manual_cost__gte=0), name="service_manual_cost_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.pk} - {self.name}"

    @property
    def avg_time_shown(self):
        """The average time per 1,000 customers see: staff's override, else the computed one
        (None: not enough data)."""
        return self.avg_time_override if self.avg_time_override is not None else self.avg_time


class ServiceFallback(models.Model):
    """An upstream service on another provider that may fulfil a service's orders when its own
    upstream definitely refuses them; tried in `position` order (orders/failover.py)."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="fallbacks")
    upstream = models.ForeignKey(UpstreamService, on_delete=models.CASCADE, related_name="fallback_for")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["service", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["service", "upstream"], name="service_fallback_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} -> {self.upstream}"

    def clean(self) -> None:
        """A fallback sells the same type at another provider (failover re-checks every order's
        own parameters, limits and price when it picks one)."""
        if self.upstream_id is None:
            return
        try:
            service = self.service  # on a new service's page: the service about to be saved
        except Service.DoesNotExist:
            return
        upstream = self.upstream
        if service.manual or service.upstream_id is None:
            raise ValidationError(_("A manual service has no upstream service to fail over from."))
        if upstream.provider_id == service.upstream.provider_id:
            raise ValidationError(
                {"upstream": _("Pick an upstream service of another provider than the service's own.")}
            )
        if name_key(upstream.type) != name_key(service.type):
            raise ValidationError(
                {
                    "upstream": _("It sells %(theirs)s; this service is %(ours)s.")
                    % {"theirs": upstream.type, "ours": service.type}
                }
            )


class FavouriteService(models.Model):
    """A service a customer starred, to find it again on the services list and the order page."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="favourite_services")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "service"], name="favourite_service_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} * {self.service_id}"


class CustomerPrice(models.Model):
    """A fixed rate for one customer and one service (reseller deals)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="custom_prices")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="custom_prices")
    rate = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0"))])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "service"], name="customer_price_unique")]

    def __str__(self) -> str:
        return f"{self.user} / {self.service_id}: {self.rate}"


class SyncRun(models.Model):
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="sync_runs")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True)
    error = models.TextField(blank=True)
    upstream_count = models.PositiveIntegerField(default=0)
    changes = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"sync {self.provider} {self.started_at:%Y-%m-%d %H:%M}"


class ServiceChange(models.Model):
    """The sync change log that staff read: what changed, from what, to what, when."""

    class Kind(models.TextChoices):
        NEW_UPSTREAM = "new_upstream", "New upstream service"
        IMPORTED = "imported", "Imported"
        CHANGED = "changed", "Changed"
        REMOVED = "removed", "Removed upstream"
        RETYPED = "retyped", "Type changed upstream"
        RESTORED = "restored", "Back upstream"
        BELOW_COST = "below_cost", "Cost above our price"

    # No index of its own: service_change_provider_recent (provider, -id) serves it.
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+", db_index=False)
    upstream_service = models.ForeignKey(UpstreamService, null=True, on_delete=models.CASCADE, related_name="+")
    service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.CASCADE, related_name="changes")
    sync_run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    field = models.CharField(max_length=32, blank=True)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["provider", "-id"], name="service_change_provider_recent")]

    def __str__(self) -> str:
        return f"{self.kind} {self.field} {self.old_value} -> {self.new_value}"
