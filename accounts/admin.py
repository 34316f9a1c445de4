from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from panel.admin_tools import ReadOnlyAdmin

from .models import LedgerEntry, User


@admin.register(User)
class PanelUserAdmin(UserAdmin):
    list_display = ("username", "email", "balance", "api_key_prefix", "is_staff", "is_active", "date_joined")
    readonly_fields = ("balance", "api_key_prefix", "api_key_created_at")
    panel_fields = ("balance", "discount_percent", "timezone", "api_key_prefix", "api_key_created_at")
    fieldsets = (*UserAdmin.fieldsets, ("Panel", {"fields": panel_fields}))


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    """Entries are append-only: the ledger module writes them, nobody edits them."""

    list_display = ("id", "created_at", "user", "kind", "amount", "balance_after", "order_id", "memo")
    list_filter = ("kind",)
    search_fields = ("user__username", "memo", "=order_id")
    list_select_related = ("user",)
