from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import get_language_info, gettext, ngettext
from django.utils.translation import gettext_lazy as _

from panel.admin_tools import PERM_CATALOG, PERM_CUSTOMERS, ExtendableAdmin, ReadOnlyAdmin, admin_extend
from tenants.limits import services_room

from .bulk import catalog_edit_audit
from .models import (
    Category,
    CustomerPrice,
    PricingSettings,
    ProviderImport,
    Service,
    ServiceChange,
    ServiceFallback,
    SyncRun,
    UpstreamService,
)
from .pricing import BelowCost, unit_cost
from .services import (
    customer_price_change,
    customer_price_check,
    prices_recompute,
    service_price_check,
    service_save_price,
    services_clear_flag,
    services_delete,
    services_set_enabled,
)
from .sync import sync_provider_unless_running
from .translation import DEFAULT_LANGUAGE, OTHER_LANGUAGES, TRANSLATED, column

# --- Providers: import settings inline, "Sync now" and "Recompute prices" actions -----------


class ProviderImportInline(admin.StackedInline):
    model = ProviderImport
    can_delete = False
    max_num = 1
    verbose_name = verbose_name_plural = _("catalog auto-import")


def _rates_changed(changed: int) -> str:
    return ngettext("%(count)s service rate changed.", "%(count)s service rates changed.", changed) % {"count": changed}


@admin.action(description=_("Sync services now"))
def sync_services_now(modeladmin, request, queryset):
    for provider in queryset:
        run = sync_provider_unless_running(provider_id=provider.pk)
        if run is None:
            modeladmin.message_user(
                request,
                gettext("%(provider)s: a sync is already running.") % {"provider": provider.name},
                messages.WARNING,
            )
        elif run.ok:
            modeladmin.message_user(
                request,
                gettext(
                    "%(provider)s: %(listed)s upstream services, %(imported)s imported, "
                    "%(changes)s changes logged in %(ms)s ms."
                )
                % {
                    "provider": provider.name,
                    "listed": run.upstream_count,
                    "imported": run.created,
                    "changes": run.changes,
                    "ms": run.duration_ms,
                },
                messages.SUCCESS,
            )
        else:
            modeladmin.message_user(
                request,
                gettext("%(provider)s: sync failed: %(error)s") % {"provider": provider.name, "error": run.error},
                messages.ERROR,
            )


@admin.action(description=_("Recompute our prices of their services"))
def recompute_provider_prices(modeladmin, request, queryset):
    service_ids = Service.objects.filter(upstream__provider__in=queryset).values_list("pk", flat=True)
    changed = prices_recompute(service_ids=service_ids)
    modeladmin.message_user(request, _rates_changed(changed), messages.SUCCESS)


admin_extend(
    "upstream.provider", inlines=[ProviderImportInline], actions=[sync_services_now, recompute_provider_prices]
)


@admin.register(ProviderImport)
class ProviderImportAdmin(admin.ModelAdmin):
    list_display = ("provider", "auto_import", "category_prefix", "markup_percent")
    list_editable = ("auto_import", "category_prefix", "markup_percent")
    list_select_related = ("provider",)


# --- Pricing settings and categories ---------------------------------------------------------


@admin.register(PricingSettings)
class PricingSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "default_markup_percent", "decimals", "rounding", "refuse_duplicate_active_link")

    def has_add_permission(self, request):
        return not PricingSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if {"default_markup_percent", "decimals", "rounding"} & set(form.changed_data):
            changed = prices_recompute()
            self.message_user(
                request,
                ngettext(
                    "Prices recomputed: %(count)s service rate changed.",
                    "Prices recomputed: %(count)s service rates changed.",
                    changed,
                )
                % {"count": changed},
            )


# --- Names per language (catalog.translation) ------------------------------------------------


def _language_title(code: str) -> str:
    return f"{dict(settings.LANGUAGES).get(code, code)} ({code})"


TRANSLATIONS_NOTE = _(
    "Customers who read this language see these texts; where one is empty they see the default language's."
)


class TranslatedTextsForm(forms.ModelForm):
    """A catalog form whose `name` (and `description`) fields edit the default language's text,
    as before there were languages (and as the bulk tools and audit rows name them), and whose
    `name_<language>` fields edit the other languages' (catalog.translation)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in TRANSLATED[self._meta.model]:
            verbose = capfirst(self._meta.model._meta.get_field(field).verbose_name)
            if field in self.fields:
                self._label(field, verbose, DEFAULT_LANGUAGE)
                if self.instance.pk is not None:
                    # The model's field reads the staff member's language; this one is the default's.
                    stored = getattr(self.instance, column(field))
                    self.initial[field] = stored if stored is not None else self.instance.__dict__.get(field, "")
            for code in OTHER_LANGUAGES:
                if column(field, code) in self.fields:
                    self._label(column(field, code), verbose, code)

    def _label(self, name: str, verbose: str, code: str) -> None:
        """Name the language beside the field, and have the browser type and spell-check the box in
        it (right to left for Arabic, left to right elsewhere, whatever the page's direction)."""
        self.fields[name].label = f"{verbose} [{code}]"
        direction = "rtl" if get_language_info(code)["bidi"] else "ltr"
        self.fields[name].widget.attrs.update({"lang": code, "dir": direction})

    def save(self, commit=True):
        # modeltranslation keeps the old text when the staff member's own language's field is
        # emptied while the model's field is on the form too: apply every language as sent.
        for field in TRANSLATED[self._meta.model]:
            for code in OTHER_LANGUAGES:
                name = column(field, code)
                if name in self.cleaned_data:
                    setattr(self.instance, name, self.cleaned_data[name])
        return super().save(commit)


class CategoryForm(TranslatedTextsForm):
    class Meta:
        model = Category
        fields = ("name", "position", "hidden", "markup_percent", *(column("name", code) for code in OTHER_LANGUAGES))


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = CategoryForm
    list_display = ("name", "position", "hidden", "markup_percent", "service_count")
    list_editable = ("position", "hidden", "markup_percent")
    list_filter = ("hidden",)
    # Every language's name: staff find a category by the name they know.
    search_fields = tuple(column("name", code) for code in (DEFAULT_LANGUAGE, *OTHER_LANGUAGES))
    fieldsets = (
        (None, {"fields": ("name", "position", "hidden", "markup_percent")}),
        (
            _("Name in other languages"),
            {
                "classes": ("collapse",),
                "fields": tuple(column("name", code) for code in OTHER_LANGUAGES),
                "description": TRANSLATIONS_NOTE,
            },
        ),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(service_total=Count("services"))

    @admin.display(description=_("Services"), ordering="service_total")
    def service_count(self, obj):
        return obj.service_total

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        catalog_edit_audit(actor_id=request.user.pk, obj=obj, form=form, change=change)
        if "markup_percent" in form.changed_data:
            prices_recompute(service_ids=obj.services.values_list("pk", flat=True))


# --- Services ---------------------------------------------------------------------------------


class ServiceForm(TranslatedTextsForm):
    manual_cost = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=18,
        decimal_places=5,
        help_text=Service._meta.get_field("manual_cost").help_text,
    )

    class Meta:
        model = Service
        fields = (
            "category",
            "upstream",
            "manual",
            "manual_cost",
            "name",
            "type",
            "description",
            "min",
            "max",
            "refill",
            "refill_days",
            "cancel",
            "dripfeed",
            "enabled",
            "position",
            "markup_percent",
            "fixed_rate",
            "allow_below_cost",
            *(column(field, code) for code in OTHER_LANGUAGES for field in ("name", "description")),
        )

    def clean_manual_cost(self):
        return self.cleaned_data.get("manual_cost") or Decimal("0")

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and services_room(Service.objects.count) == 0:
            # A child panel's plan includes so many services (tenants.limits).
            raise forms.ValidationError(gettext("This panel's plan includes no more services: its limit is reached."))
        upstream, category = cleaned.get("upstream"), cleaned.get("category")
        manual = cleaned.get("manual", False)
        if manual and upstream is not None:
            self.add_error("upstream", gettext("A manual service has no upstream service: clear one of the two."))
        if not manual and upstream is None:
            self.add_error("upstream", gettext("Pick the upstream service, or tick “manual” to fulfil it yourself."))
        if (upstream is None and not manual) or category is None or "upstream" in self.errors:
            return cleaned
        probe = Service(
            upstream=upstream,
            manual=manual,
            manual_cost=cleaned.get("manual_cost") or Decimal("0"),
            category=category,
            markup_percent=cleaned.get("markup_percent"),
            fixed_rate=cleaned.get("fixed_rate"),
            allow_below_cost=cleaned.get("allow_below_cost", False),
        )
        try:
            rate = service_price_check(probe)
        except BelowCost:
            rate = None
        if rate is None:
            field = "fixed_rate" if probe.fixed_rate is not None else "markup_percent"
            self.add_error(
                field,
                gettext(
                    "This prices the service below its cost of %(cost)s (upstream rate x exchange rate). "
                    "Raise the price, or tick “allow below cost” to sell it as a loss-leader."
                )
                % {"cost": unit_cost(probe)},
            )
        if cleaned.get("enabled") and upstream is not None and not upstream.present:
            self.add_error("enabled", gettext("The provider no longer lists this upstream service."))
        return cleaned


class ServiceChangeInline(admin.TabularInline):
    model = ServiceChange
    fk_name = "service"
    fields = ("created_at", "kind", "field", "old_value", "new_value", "sync_run")
    readonly_fields = fields
    ordering = ("-id",)
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = _("change log")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ServiceFallbackInline(admin.TabularInline):
    """The service's fallbacks for automatic failover (orders.failover), tried in position order."""

    model = ServiceFallback
    fk_name = "service"
    fields = ("position", "upstream", "fallback_provider", "fallback_type", "limits", "fallback_cost", "listed")
    readonly_fields = ("fallback_provider", "fallback_type", "limits", "fallback_cost", "listed")
    autocomplete_fields = ("upstream",)
    ordering = ("position", "id")
    extra = 0
    verbose_name = _("fallback")
    verbose_name_plural = _("fallbacks (automatic failover, tried from the lowest position)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("upstream__provider", "service")

    def has_add_permission(self, request, obj=None):
        # A manual service's orders are never forwarded: nothing to fail over from.
        return super().has_add_permission(request, obj) and not (obj is not None and obj.manual)

    @admin.display(description=_("Provider"))
    def fallback_provider(self, obj):
        return obj.upstream.provider.name if obj.upstream_id else "-"

    @admin.display(description=_("Type"))
    def fallback_type(self, obj):
        return obj.upstream.type if obj.upstream_id else "-"

    @admin.display(description=_("Min - max"))
    def limits(self, obj):
        return f"{obj.upstream.min} - {obj.upstream.max}" if obj.upstream_id else "-"

    @admin.display(description=_("Cost per 1,000"))
    def fallback_cost(self, obj):
        if not obj.upstream_id:
            return "-"
        cost = unit_cost(Service(upstream=obj.upstream))
        if obj.service_id and cost > obj.service.rate and not obj.service.allow_below_cost:
            # Failover skips it for every order not priced above this cost.
            return format_html('{} <span class="bo-bad">{}</span>', cost, _("above our rate"))
        return cost

    @admin.display(description=_("Listed"), boolean=True)
    def listed(self, obj):
        return obj.upstream.present if obj.upstream_id else None


@admin.register(Service)
class ServiceAdmin(ExtendableAdmin):
    form = ServiceForm
    # Higher apps add to the page with admin_extend (orders: who fulfilled the orders, failovers).
    change_form_template = "backoffice/service_change_form.html"
    list_display = (
        "id",
        "name",
        "category",
        "type",
        "rate",
        "cost",
        "provider",
        "upstream_service_id",
        "enabled",
        "flagged",
        "flag_reason",
    )
    list_display_links = ("id", "name")
    list_filter = (
        "enabled",
        "flagged",
        "below_cost",
        "auto_imported",
        "manual",
        "upstream__provider",
        "type",
        "category",
    )
    # Every language's name: staff find a service by the name they know.
    search_fields = (
        *(column("name", code) for code in (DEFAULT_LANGUAGE, *OTHER_LANGUAGES)),
        "=id",
        "=upstream__upstream_id",
    )
    list_select_related = ("category", "upstream__provider")
    autocomplete_fields = ("upstream",)
    readonly_fields = (
        "rate",
        "cost",
        "below_cost",
        "flagged",
        "flag_reason",
        "auto_imported",
        "created_at",
        "updated_at",
        "avg_time",
        "avg_time_orders",
        "avg_time_updated_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "category", "type", "description", "upstream", "enabled", "position")}),
        # One folded section per other language (a <details> element: no script), open when it
        # holds an error.
        *(
            (
                _language_title(code),
                {
                    "classes": ("collapse",),
                    "fields": (column("name", code), column("description", code)),
                    "description": TRANSLATIONS_NOTE,
                },
            )
            for code in OTHER_LANGUAGES
        ),
        (
            _("Manual fulfilment"),
            {
                "fields": ("manual", "manual_cost"),
                "description": _(
                    "A manual service has no upstream service: its orders wait in the backoffice's manual queue. "
                    "Its cost per 1,000 (for the reports) replaces the upstream rate in the pricing rules."
                ),
            },
        ),
        (_("Limits and options"), {"fields": ("min", "max", "refill", "refill_days", "cancel", "dripfeed")}),
        (
            _("Price"),
            {
                "fields": ("rate", "cost", "markup_percent", "fixed_rate", "allow_below_cost", "below_cost"),
                "description": _(
                    "Our rate comes from the most specific rule: a fixed rate, this service's markup, "
                    "its category's, its provider's, then the panel default. It is recomputed on save."
                ),
            },
        ),
        (
            _("Average time"),
            {
                "fields": ("avg_time", "avg_time_orders", "avg_time_updated_at", "avg_time_override"),
                "description": _(
                    "Average completion time per 1,000 of the latest completed orders (refreshed every "
                    "15 minutes; empty: not enough data). Customers see the override instead when it is set."
                ),
            },
        ),
        (_("Review"), {"fields": ("flagged", "flag_reason", "auto_imported", "created_at", "updated_at")}),
    )
    inlines = (ServiceFallbackInline, ServiceChangeInline)
    actions = ("enable", "disable", "clear_flag", "recompute_prices", "set_markup", "bulk_edit")
    show_full_result_count = False

    def has_catalog_permission(self, request):
        return request.user.has_perm(PERM_CATALOG)

    @admin.display(description=_("Cost"))
    def cost(self, obj):
        return unit_cost(obj) if obj.upstream_id or obj.manual else "-"

    @admin.display(description=_("Provider"), ordering="upstream__provider__name")
    def provider(self, obj):
        return gettext("Manual") if obj.manual else obj.upstream.provider.name

    @admin.display(description=_("Upstream ID"), ordering="upstream__upstream_id")
    def upstream_service_id(self, obj):
        if obj.manual:
            return "-"
        url = reverse("admin:catalog_upstreamservice_change", args=[obj.upstream_id])
        return format_html('<a href="{}">{}</a>', url, obj.upstream.upstream_id)

    def save_model(self, request, obj, form, change):
        service_save_price(service=obj)
        catalog_edit_audit(actor_id=request.user.pk, obj=obj, form=form, change=change)

    def delete_model(self, request, obj):
        services_delete(service_ids=[obj.pk])

    def delete_queryset(self, request, queryset):
        services_delete(service_ids=queryset.values_list("pk", flat=True))

    @admin.action(description=_("Enable selected services"))
    def enable(self, request, queryset):
        changed, skipped = services_set_enabled(service_ids=queryset.values_list("pk", flat=True), enabled=True)
        self.message_user(
            request,
            ngettext("%(count)s service enabled.", "%(count)s services enabled.", changed) % {"count": changed},
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request,
                # One English sentence for every count ("their" as for one person unnamed); the
                # plural entry lets translators inflect it.
                ngettext(
                    "%(count)s not enabled: their provider no longer lists them.",
                    "%(count)s not enabled: their provider no longer lists them.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Disable selected services"))
    def disable(self, request, queryset):
        changed, _skipped = services_set_enabled(service_ids=queryset.values_list("pk", flat=True), enabled=False)
        self.message_user(
            request,
            ngettext("%(count)s service disabled.", "%(count)s services disabled.", changed) % {"count": changed},
            messages.SUCCESS,
        )

    @admin.action(description=_("Mark reviewed (clear the flag)"))
    def clear_flag(self, request, queryset):
        cleared = services_clear_flag(service_ids=queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            ngettext("%(count)s flag cleared.", "%(count)s flags cleared.", cleared) % {"count": cleared},
            messages.SUCCESS,
        )

    @admin.action(description=_("Recompute prices from the rules"))
    def recompute_prices(self, request, queryset):
        changed = prices_recompute(service_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, _rates_changed(changed), messages.SUCCESS)

    @admin.action(description=_("Set markup / reprice…"), permissions=["catalog"])
    def set_markup(self, request, queryset):
        # The backoffice's page asks for the markup, then calls its audited service.
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True)[:2000])
        return HttpResponseRedirect(reverse("admin:bo_services_markup") + f"?ids={ids}")

    @admin.action(
        description=_("Bulk edit selected services (category, price, min/max, enabled)"), permissions=["catalog"]
    )
    def bulk_edit(self, request, queryset):
        # The backoffice's page asks what to change, then calls catalog.bulk (audited, all or nothing).
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True)[:1000])
        return HttpResponseRedirect(reverse("admin:bo_services_bulk_edit") + f"?ids={ids}")


# --- Per-customer prices -----------------------------------------------------------------------


class CustomerPriceForm(forms.ModelForm):
    class Meta:
        model = CustomerPrice
        fields = ("user", "service", "rate")

    def clean(self):
        cleaned = super().clean()
        service, rate = cleaned.get("service"), cleaned.get("rate")
        if service is not None and rate is not None:
            try:
                customer_price_check(service=service, rate=rate)
            except BelowCost:
                self.add_error(
                    "rate",
                    gettext(
                        "Below the service's cost of %(cost)s; "
                        "only a loss-leader service (allow below cost) may be sold below cost."
                    )
                    % {"cost": unit_cost(service)},
                )
        return cleaned


@admin.register(CustomerPrice)
class CustomerPriceAdmin(admin.ModelAdmin):
    """Per-customer prices: only staff who may manage customers change them, each change audited."""

    form = CustomerPriceForm
    list_display = ("user", "service", "rate", "list_rate")
    list_select_related = ("user", "service")
    search_fields = ("user__username", "service__name", "=service__id")
    autocomplete_fields = ("user", "service")

    @admin.display(description=_("Our rate"))
    def list_rate(self, obj):
        return obj.service.rate

    def _allowed(self, request):
        return request.user.has_perm(PERM_CUSTOMERS)

    def has_add_permission(self, request):
        return self._allowed(request) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        actor_id = request.user.pk
        old = CustomerPrice.objects.filter(pk=obj.pk).first() if change else None
        if old is not None and (old.user_id, old.service_id) != (obj.user_id, obj.service_id):
            customer_price_change(user_id=old.user_id, service_id=old.service_id, rate=None, actor_id=actor_id)
        customer_price_change(user_id=obj.user_id, service_id=obj.service_id, rate=obj.rate, actor_id=actor_id)
        obj.pk = CustomerPrice.objects.get(user_id=obj.user_id, service_id=obj.service_id).pk

    def delete_model(self, request, obj):
        customer_price_change(user_id=obj.user_id, service_id=obj.service_id, rate=None, actor_id=request.user.pk)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


# --- What sync recorded ------------------------------------------------------------------------


@admin.register(UpstreamService)
class UpstreamServiceAdmin(ReadOnlyAdmin):
    list_display = ("upstream_id", "name", "provider", "type", "category", "rate", "min", "max", "present", "sold")
    list_filter = ("present", "provider", "type")
    search_fields = ("name", "=upstream_id", "category")
    list_select_related = ("provider",)
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(sold_count=Count("services"))

    @admin.display(description=_("Sold as"), ordering="sold_count")
    def sold(self, obj):
        return obj.sold_count


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "provider", "ok", "upstream_count", "created", "changes", "duration_ms", "error")
    list_filter = ("ok", "provider")
    list_select_related = ("provider",)
    date_hierarchy = "started_at"


@admin.register(ServiceChange)
class ServiceChangeAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "provider", "kind", "service", "upstream_service", "field", "old_value", "new_value")
    list_filter = ("kind", "provider", "field")
    search_fields = ("service__name", "=service__id", "=upstream_service__upstream_id")
    list_select_related = ("provider", "service", "upstream_service__provider")
    date_hierarchy = "created_at"
    show_full_result_count = False


def _customer_prices(request, user) -> dict:
    return {"custom_prices": CustomerPrice.objects.filter(user=user).select_related("service")[:50]}


admin_extend("accounts.user", change_context=_customer_prices)
