from django.contrib import admin

from .models import CancelRequest, Order, OrderEvent, ReconciliationReport, Refill


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "kind", "message", "data", "created_by")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "user",
        "service",
        "link",
        "quantity",
        "charge",
        "status",
        "forward_state",
        "upstream_order_id",
        "needs_attention",
    )
    list_filter = ("status", "forward_state", "needs_attention", "provider", "source", "created_at")
    search_fields = ("=id", "=upstream_order_id", "link", "user__username")
    list_select_related = ("user", "service")
    date_hierarchy = "created_at"
    inlines = [OrderEventInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Refill)
class RefillAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "order", "user", "state", "status", "upstream_refill_id", "error")
    list_filter = ("state", "status")
    search_fields = ("=id", "=order__id")


@admin.register(CancelRequest)
class CancelRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "order", "user", "state", "upstream_cancel_id", "error")
    list_filter = ("state",)


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(admin.ModelAdmin):
    list_display = ("created_at", "ok", "summary")
    readonly_fields = ("created_at", "ok", "summary", "data")

    # Reports are written by the reconciler only.
    def has_add_permission(self, request):
        return False
