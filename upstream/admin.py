from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from panel.admin_tools import ExtendableAdmin
from panel.tenancy import is_child

from .client import UpstreamError
from .models import Provider
from .services import failure_text, provider_client, provider_refresh_balance


class ProviderForm(forms.ModelForm):
    # The stored key is never sent back to the browser; leaving the field empty keeps it.
    api_key = forms.CharField(
        label=gettext_lazy("API key"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=gettext_lazy("Leave empty to keep the current key."),
    )

    class Meta:
        model = Provider
        fields = (
            "name",
            "api_url",
            "api_key",
            "enabled",
            "currency",
            "exchange_rate",
            "markup_percent",
            "connect_timeout",
            "read_timeout",
            "max_concurrency",
            "low_balance_threshold",
            "send_idempotency_key",
            "honours_idempotency_keys",
        )

    def clean_api_key(self):
        key = self.cleaned_data.get("api_key")
        if not key:
            if not self.instance.pk:
                raise forms.ValidationError(_("A new provider needs an API key."))
            return self.instance.api_key
        return key


@admin.register(Provider)
class ProviderAdmin(ExtendableAdmin):
    """Providers; catalog adds its import settings inline and its sync and reprice actions."""

    form = ProviderForm
    list_display = (
        "name",
        "api_url",
        "enabled",
        "currency",
        "balance_shown",
        "balance_checked_at",
        "last_error",
        "import_link",
    )
    list_filter = ("enabled", "low_balance")
    search_fields = ("name", "api_url")
    readonly_fields = (
        "key_on_file",
        "balance",
        "balance_checked_at",
        "low_balance",
        "advertises_idempotency_keys",
        "last_error",
    )
    actions = ("test_connection", "refresh_balance")
    change_form_template = "backoffice/provider_change_form.html"

    # A child panel's only provider is the parent (childpanels.provider wires it, with a key of
    # the panel's owner on the parent): its staff may look at it, test it and sync it, but not
    # repoint it, delete it or add another one.
    def has_add_permission(self, request):
        return not is_child() and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        if is_child() and (obj is None or obj.is_parent):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if is_child() or (obj is not None and obj.is_parent):
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description=gettext_lazy("Balance"), ordering="balance")
    def balance_shown(self, obj):
        if obj.balance is None:
            return "—"
        css = "bo-warn" if obj.low_balance else ""
        return format_html('<span class="{}">{} {}</span>', css, obj.balance, obj.currency)

    @admin.display(description="")
    def import_link(self, obj):
        return format_html(
            '<a class="button" href="{}">{}</a>', reverse("admin:bo_import", args=[obj.pk]), _("Import services")
        )

    @admin.display(description=gettext_lazy("Key on file"))
    def key_on_file(self, obj):
        return obj.api_key_hint

    @admin.action(description=gettext_lazy("Test connection (reads the balance)"))
    def test_connection(self, request, queryset):
        for provider in queryset:
            try:
                result = provider_client(provider).balance()
            except UpstreamError as exc:
                self.message_user(request, f"{provider.name}: {failure_text(exc)}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(provider)s: OK, balance %(balance)s %(currency)s")
                    % {"provider": provider.name, "balance": result.balance, "currency": result.currency},
                )

    @admin.action(description=gettext_lazy("Refresh balance"))
    def refresh_balance(self, request, queryset):
        for provider in queryset:
            provider = provider_refresh_balance(provider_id=provider.pk)
            level = messages.WARNING if provider.low_balance or provider.last_error else messages.SUCCESS
            message = _("%(provider)s: balance %(balance)s") % {"provider": provider.name, "balance": provider.balance}
            self.message_user(request, f"{message} {provider.last_error}".strip(), level)
