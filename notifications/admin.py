from django import forms
from django.contrib import admin, messages

from panel.admin_tools import CustomerFilter, ReadOnlyAdmin

from .models import CustomerSettings, Delivery, Event, Preference, TelegramBot, TelegramLink, WebhookEndpoint
from .services import telegram_bot_save


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    fields = ("channel", "copy", "recipient", "state", "attempts", "next_attempt_at", "last_status", "last_error")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "key", "user", "created_at", "dispatched_at")
    list_filter = ("kind", CustomerFilter)
    search_fields = ("key", "public_id")
    list_select_related = ("user",)
    inlines = [DeliveryInline]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "event", "channel", "recipient", "state", "attempts", "last_status", "last_error", "sent_at")
    list_filter = ("channel", "state", CustomerFilter)
    search_fields = ("event__key", "event__public_id", "recipient")
    list_select_related = ("event",)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Customers set their endpoint themselves; staff may turn one off. The secret is never shown."""

    list_display = ("user", "url", "enabled", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("user__username", "url")
    fields = ("user", "url", "kinds", "enabled", "created_at", "updated_at")
    readonly_fields = ("user", "url", "kinds", "created_at", "updated_at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Preference)
class PreferenceAdmin(ReadOnlyAdmin):
    list_display = ("user", "kind", "channel", "enabled")
    list_filter = ("channel", "kind", CustomerFilter)


@admin.register(CustomerSettings)
class CustomerSettingsAdmin(ReadOnlyAdmin):
    list_display = ("user", "balance_threshold", "balance_low_notified", "language")
    list_filter = (CustomerFilter,)


class TelegramBotForm(forms.ModelForm):
    # Never rendered back: leave empty to keep the stored token.
    new_token = forms.CharField(
        label="Bot token",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="From @BotFather. Checked with Telegram when saved; leave empty to keep the current one.",
    )

    class Meta:
        model = TelegramBot
        fields = ("staff_chat_id", "enabled")

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                self.saved = telegram_bot_save(
                    token=cleaned.get("new_token", "").strip(),
                    staff_chat_id=cleaned.get("staff_chat_id", ""),
                    enabled=cleaned.get("enabled", False),
                )
            except ValueError as exc:
                raise forms.ValidationError(f"Telegram refused the token: {exc}") from None
        return cleaned


@admin.register(TelegramBot)
class TelegramBotAdmin(admin.ModelAdmin):
    """The owner's bot: customers link their chats to it; staff alerts go to the staff chat."""

    form = TelegramBotForm
    list_display = ("__str__", "staff_chat_id", "enabled")
    fields = ("new_token", "username", "staff_chat_id", "enabled")
    readonly_fields = ("username",)

    def has_add_permission(self, request):
        return not TelegramBot.objects.exists()

    def save_model(self, request, obj, form, change):
        # telegram_bot_save (in the form's clean) stored it, token and all.
        messages.info(request, f"Telegram bot {form.saved} saved.")

    def save_related(self, request, form, formsets, change):
        pass

    def response_add(self, request, obj, post_url_continue=None):
        obj.pk = 1
        return super().response_add(request, obj, post_url_continue)


@admin.register(TelegramLink)
class TelegramLinkAdmin(ReadOnlyAdmin):
    list_display = ("user", "telegram_username", "chat_id", "linked_at")
    list_filter = (CustomerFilter,)
