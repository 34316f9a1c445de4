from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import LedgerEntry, User


@admin.register(User)
class PanelUserAdmin(UserAdmin):
    list_display = ("username", "email", "balance", "api_key_prefix", "is_staff", "is_active", "date_joined")
    readonly_fields = ("balance", "api_key_prefix", "api_key_created_at")
    panel_fields = ("balance", "discount_percent", "timezone", "api_key_prefix", "api_key_created_at")
    fieldsets = (*UserAdmin.fieldsets, ("Panel", {"fields": panel_fields}))


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "user", "kind", "amount", "balance_after", "order_id", "memo")
    list_filter = ("kind",)
    search_fields = ("user__username", "memo", "=order_id")
    list_select_related = ("user",)

    # Entries are append-only: the ledger module writes them, nobody edits them.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
