from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows only code writes (ledger entries, sync records, payments, audit, requests): staff
    look, nobody adds, edits or deletes them through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
