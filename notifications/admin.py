from django.contrib import admin

from panel.admin_tools import CustomerFilter, ReadOnlyAdmin

from .models import CustomerSettings, Delivery, Event, Preference, WebhookEndpoint


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
