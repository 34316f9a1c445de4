"""Payment methods: their gateway's settings (secrets write-only) and the connection test."""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from ..gateways.base import GatewayError
from ..models import (
    MANUAL,
    PaymentMethod,
)
from ..payments import (
    gateway_for,
    method_problem,
    method_test_connection,
)
from .common import MoneyPermission


def _gateway_fields(kind: str):
    if not kind or kind == MANUAL:
        return ()
    try:
        return tuple(gateway_for(PaymentMethod(kind=kind)).fields)
    except (ImportError, AttributeError, KeyError):
        return ()


class PaymentMethodForm(forms.ModelForm):
    """The method's own fields plus one per setting its gateway declares (billing.gateways.base.Field).
    Secret settings are write-only: the box is always empty, a hint shows what is on file, and an
    empty box keeps the stored value."""

    class Meta:
        model = PaymentMethod
        fields = (
            "name",
            "kind",
            "enabled",
            "position",
            "instructions",
            "min_amount",
            "max_amount",
            "fee_percent",
            "fee_fixed",
            "currency",
            "rate",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A saved method's gateway decides the settings (a new method shows them once saved).
        self.gateway_fields = _gateway_fields(self.instance.kind) if self.instance.pk else ()
        for field in self.gateway_fields:
            name = f"gw_{field.name}"
            if field.secret:
                hint = self.instance.secret_hint(field.name) if self.instance.pk else "not set"
                hint = {
                    "set": pgettext("a secret on file", "set"),
                    "not set": pgettext("a secret on file", "not set"),
                }.get(hint, hint)
                self.fields[name] = forms.CharField(
                    label=field.label,
                    required=False,
                    strip=True,
                    widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                    help_text=(
                        gettext("%(help)s On file: %(hint)s. Leave empty to keep it.")
                        % {"help": field.help, "hint": hint}
                    ).strip(),
                )
            elif field.choices:
                self.fields[name] = forms.ChoiceField(
                    label=field.label, required=field.required, choices=field.choices, help_text=field.help
                )
                self.fields[name].initial = (self.instance.settings or {}).get(field.name, "")
            else:
                self.fields[name] = forms.CharField(
                    label=field.label, required=field.required, help_text=field.help, max_length=2000
                )
                self.fields[name].initial = (self.instance.settings or {}).get(field.name, "")

    def clean(self):
        data = super().clean()
        for field in self.gateway_fields:
            missing = field.secret and field.required and not data.get(f"gw_{field.name}")
            if missing and not self.instance.secret_values().get(field.name):
                self.add_error(f"gw_{field.name}", _("This setting is required."))
        return data

    def save(self, commit=True):
        method = super().save(commit=False)
        plain = dict(method.settings or {})
        secret = method.secret_values()
        for field in self.gateway_fields:
            value = self.cleaned_data.get(f"gw_{field.name}", "")
            if field.secret:
                if value:
                    secret[field.name] = value
            else:
                plain[field.name] = value
        method.settings = plain
        method.set_secret_values(secret)
        if commit:
            method.save()
        return method


@admin.register(PaymentMethod)
class PaymentMethodAdmin(MoneyPermission, admin.ModelAdmin):
    form = PaymentMethodForm
    list_display = (
        "name",
        "kind",
        "min_amount",
        "max_amount",
        "fee_shown",
        "charge_currency_shown",
        "enabled",
        "position",
        "state",
        "notify_url",
    )
    list_editable = ("enabled", "position")
    list_filter = ("kind", "enabled")
    actions = ["test_connection"]

    def get_fieldsets(self, request, obj=None):
        base = [
            (None, {"fields": ("name", "kind", "enabled", "position", "instructions")}),
            (_("Amounts"), {"fields": ("min_amount", "max_amount", "fee_percent", "fee_fixed", "currency", "rate")}),
        ]
        form = self.get_form(request, obj)
        names = [name for name in form.base_fields if name.startswith("gw_")]
        if names:
            base.append((_("Gateway settings"), {"fields": names}))
        elif obj is None:
            base.append((None, {"fields": (), "description": _("Save the method to fill in its gateway's settings.")}))
        return base

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = None
        form = super().get_form(request, obj, change=change, **kwargs)
        # Gateway fields depend on the row's kind: declare them on a subclass for this row.
        extra = PaymentMethodForm(instance=obj or PaymentMethod()).fields
        for name, field in extra.items():
            if name.startswith("gw_"):
                form.base_fields[name] = field
        return form

    @admin.display(description=_("fee"))
    def fee_shown(self, obj):
        parts = []
        if obj.fee_percent:
            parts.append(f"{obj.fee_percent.normalize():f}%")
        if obj.fee_fixed:
            parts.append(f"{obj.fee_fixed.normalize():f}")
        return " + ".join(parts) or "—"

    @admin.display(description=_("charges in"))
    def charge_currency_shown(self, obj):
        currency = obj.charge_currency()
        return currency if obj.rate == 1 else f"{currency} (rate {obj.rate.normalize():f})"

    @admin.display(description=_("state"))
    def state(self, obj):
        problem = method_problem(obj)
        return format_html('<span class="bo-bad">{}</span>', problem) if problem else gettext("ready")

    @admin.display(description=_("notify URL"))
    def notify_url(self, obj):
        if obj.kind == MANUAL:
            return "—"
        return reverse("dashboard:payment_notify", args=[obj.pk])

    @admin.action(description=_("Test connection"), permissions=["money"])
    def test_connection(self, request, queryset):
        # Outside any transaction (the changelist's actions run in autocommit): the gateway may be slow.
        for method in queryset:
            try:
                answer = method_test_connection(method=method)
            except GatewayError as error:
                self.message_user(request, f"{method.name}: {error}", messages.ERROR)
            except (ImportError, AttributeError, KeyError):
                message = gettext("%(method)s: the %(gateway)s gateway is not installed.")
                self.message_user(request, message % {"method": method.name, "gateway": method.kind}, messages.ERROR)
            else:
                self.message_user(request, f"{method.name}: {answer}", messages.SUCCESS)
