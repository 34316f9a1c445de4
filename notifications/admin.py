from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from panel.admin_tools import CustomerFilter, ReadOnlyAdmin

from .models import (
    Announcement,
    CatalogUpdate,
    CustomerSettings,
    Delivery,
    Event,
    Preference,
    TelegramBot,
    TelegramLink,
    UpdatesSettings,
    WebhookEndpoint,
)
from .services import deliveries_retry, telegram_bot_save
from .updates import updates_publish


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
    actions = ["try_again"]

    @admin.action(description=gettext_lazy("Try the selected failed deliveries again now"))
    def try_again(self, request, queryset):
        count = deliveries_retry(delivery_ids=list(queryset.values_list("pk", flat=True)))
        messages.success(
            request,
            ngettext(
                "%(count)s failed delivery will be tried again.",
                "%(count)s failed deliveries will be tried again.",
                count,
            )
            % {"count": count},
        )


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
        label=gettext_lazy("Bot token"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=gettext_lazy(
            "From @BotFather. Checked with Telegram when saved; leave empty to keep the current one."
        ),
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
                raise forms.ValidationError(_("Telegram refused the token: %(error)s") % {"error": exc}) from None
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
        messages.info(request, _("Telegram bot %(bot)s saved.") % {"bot": form.saved})

    def save_related(self, request, form, formsets, change):
        pass

    def response_add(self, request, obj, post_url_continue=None):
        obj.pk = 1
        return super().response_add(request, obj, post_url_continue)


@admin.register(TelegramLink)
class TelegramLinkAdmin(ReadOnlyAdmin):
    list_display = ("user", "telegram_username", "chat_id", "linked_at")
    list_filter = (CustomerFilter,)


@admin.register(CatalogUpdate)
class CatalogUpdateAdmin(admin.ModelAdmin):
    """Changes the catalog scan found; customers see the published ones on their Updates page."""

    list_display = ("id", "created_at", "kind", "service", "old_rate", "new_rate", "published_at")
    list_filter = ("kind", ("published_at", admin.EmptyFieldListFilter))
    search_fields = ("service__name", "=service__id")
    list_select_related = ("service",)
    actions = ["publish", "unpublish"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=gettext_lazy("Publish the selected updates"))
    def publish(self, request, queryset):
        count = updates_publish(update_ids=list(queryset.values_list("pk", flat=True)))
        messages.success(
            request, ngettext("%(count)s update published.", "%(count)s updates published.", count) % {"count": count}
        )

    @admin.action(description=gettext_lazy("Hide the selected updates from customers"))
    def unpublish(self, request, queryset):
        count = queryset.filter(published_at__isnull=False).update(published_at=None)
        messages.success(
            request, ngettext("%(count)s update hidden.", "%(count)s updates hidden.", count) % {"count": count}
        )


@admin.register(UpdatesSettings)
class UpdatesSettingsAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "publish_new",
        "publish_price_up",
        "publish_price_down",
        "publish_disabled",
        "publish_back",
    )

    def has_add_permission(self, request):
        return not UpdatesSettings.objects.exists()

    def save_model(self, request, obj, form, change):
        obj.pk = 1
        super().save_model(request, obj, form, change)


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin):
    list_display = ("title", "level", "sticky", "active", "starts_at", "ends_at", "created_at")
    list_filter = ("active", "sticky", "level")
    search_fields = ("title", "body")
    filter_horizontal = ("audience",)
    fields = ("title", "body", "level", "sticky", "active", "starts_at", "ends_at", "audience")

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "audience":
            from django.contrib.auth import get_user_model

            kwargs["queryset"] = get_user_model().objects.filter(is_staff=False).order_by("username")
            kwargs["help_text"] = _("Empty: every customer. Otherwise only the customers chosen here.")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
