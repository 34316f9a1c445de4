"""Backoffice: the currency settings (source, the currencies customers may choose, staleness, the
feed's state, every rate in use with its date, "Fetch now") and the exchange rates (staff type
fixed ones; the feed's are read-only). Every change is audited (accounts.AuditLog)."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from panel.tenancy import panel_currency

from .models import CurrencySettings, ExchangeRate, Source
from .selectors import currency_label, currency_settings, feed_newest_date, known_currencies, rates_in_use
from .services import SETTINGS_FIELDS, fixed_rate_delete, fixed_rate_save, rates_fetch, settings_save


class CurrencySettingsForm(forms.ModelForm):
    currencies = forms.MultipleChoiceField(
        label=_("Currencies customers may choose"),
        choices=known_currencies,
        required=False,
        widget=FilteredSelectMultiple(_("currencies"), is_stacked=False),
        help_text=_("The panel currency is always offered; a currency is offered only while it has a rate."),
    )

    class Meta:
        model = CurrencySettings
        fields = ("source", "currencies", "stale_after_days")

    def clean_currencies(self):
        return sorted({code.upper() for code in self.cleaned_data["currencies"]} - {panel_currency()})


@admin.register(CurrencySettings)
class CurrencySettingsAdmin(admin.ModelAdmin):
    form = CurrencySettingsForm
    change_form_template = "admin/currencies/currencysettings/change_form.html"
    fields = ("source", "currencies", "stale_after_days", "feed_checked_at", "feed_ok_at", "feed_error")
    readonly_fields = ("feed_checked_at", "feed_ok_at", "feed_error")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        # One row: the list is its page.
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        CurrencySettings.objects.get_or_create(pk=1)
        return HttpResponseRedirect(reverse("admin:currencies_currencysettings_change", args=[1]))

    def get_urls(self):
        urls = [path("fetch/", self.admin_site.admin_view(self.fetch_now), name="currencies_fetch")]
        return urls + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        config = currency_settings()
        rates = rates_in_use(config.currencies or [], config=config)
        rows = [
            {"code": code, "label": currency_label(code), "rate": rates.get(code)} for code in config.currencies or []
        ]
        extra = {
            "panel_currency": panel_currency(),
            "rates_rows": rows,
            "feed_newest": feed_newest_date(),
            "feed_in_use": config.source == Source.ECB,
            "rates_url": reverse("admin:currencies_exchangerate_changelist"),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def save_model(self, request, obj, form, change):
        stored = CurrencySettings.objects.filter(pk=1).values(*SETTINGS_FIELDS).first() or {}
        settings_save(actor_id=request.user.pk, config=obj, before=stored)

    def fetch_now(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        result = rates_fetch(force=True, actor_id=request.user.pk)
        if not result.ok:
            messages.error(request, gettext("Fetching failed: %(error)s") % {"error": result.error})
        elif result.stale:
            messages.warning(
                request,
                gettext("The feed still gives the rates of %(date)s, which are stale; staff were alerted.")
                % {"date": result.date},
            )
        else:
            messages.success(
                request,
                gettext("%(count)s rates of %(date)s stored.") % {"count": result.count, "date": result.date},
            )
        return HttpResponseRedirect(reverse("admin:currencies_currencysettings_change", args=[1]))


class ExchangeRateForm(forms.ModelForm):
    currency = forms.ChoiceField(label=_("Currency"), choices=known_currencies)
    rate = forms.DecimalField(
        label=_("Rate"),
        max_digits=30,
        decimal_places=12,
        min_value=Decimal("0.000000000001"),
        help_text=_("Units of this currency for one unit of the panel currency."),
    )

    class Meta:
        model = ExchangeRate
        fields = ("currency", "rate", "valid_on")

    def clean(self):
        cleaned = super().clean()
        code, valid_on = cleaned.get("currency"), cleaned.get("valid_on")
        if code == panel_currency():
            self.add_error("currency", gettext("This is the panel currency: its rate is always 1."))
        elif code and valid_on:
            same = ExchangeRate.objects.filter(
                source=Source.FIXED, base=panel_currency(), currency=code, valid_on=valid_on
            ).exclude(pk=self.instance.pk)
            if same.exists():
                message = gettext("There is a fixed rate for this currency and date: change that one.")
                self.add_error("valid_on", message)
        return cleaned


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """Fixed rates: staff add and change them. The feed's: read-only, kept as the history."""

    form = ExchangeRateForm
    list_display = ("currency", "rate_shown", "base", "valid_on", "source", "fetched_at", "entered_by")
    list_filter = ("source", "base", "currency")
    search_fields = ("=currency",)
    date_hierarchy = "valid_on"
    list_select_related = ("entered_by",)
    readonly_fields = ("source", "base", "fetched_at", "entered_by")

    @admin.display(description=_("Rate"), ordering="rate")
    def rate_shown(self, obj):
        return f"1 {obj.base} = {obj.rate.normalize():f} {obj.currency}"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("currency", "rate", "valid_on")
        return ("currency", "rate", "valid_on", "source", "base", "fetched_at", "entered_by")

    def _fixed(self, obj) -> bool:
        return obj is None or obj.source == Source.FIXED

    def has_change_permission(self, request, obj=None):
        return self._fixed(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._fixed(obj) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        before = None
        if change:
            stored = ExchangeRate.objects.filter(pk=obj.pk).values("currency", "rate", "valid_on").first()
            before = stored or None
        fixed_rate_save(actor_id=request.user.pk, rate=obj, before=before)

    def delete_model(self, request, obj):
        fixed_rate_delete(actor_id=request.user.pk, rate=obj)

    def delete_queryset(self, request, queryset):
        for rate in queryset.filter(source=Source.FIXED):
            fixed_rate_delete(actor_id=request.user.pk, rate=rate)
