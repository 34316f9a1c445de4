import json

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from panel.admin_tools import ReadOnlyAdmin

from .models import (
    Affiliate,
    Commission,
    DepositRequest,
    GatewayEvent,
    GatewayPayment,
    PaymentMethod,
    Ticket,
    TicketMessage,
)
from .services import deposit_approve, deposit_reject, ticket_reply


@admin.register(PaymentMethod)
class PaymentMethodAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "min_amount", "max_amount", "enabled", "position")
    list_editable = ("enabled", "position")


@admin.register(DepositRequest)
class DepositRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "user", "method", "amount", "reference", "status", "decided_by", "decided_at")
    list_filter = ("status", "method")
    search_fields = ("user__username", "reference", "=id")
    list_select_related = ("user", "method", "decided_by")
    readonly_fields = ("user", "method", "amount", "reference", "status", "ledger_entry_id", "decided_by", "decided_at")
    actions = ["approve", "reject"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Approve and credit the selected deposits"))
    def approve(self, request, queryset):
        done = sum(
            deposit_approve(deposit_id=pk, staff_id=request.user.pk) for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, _("%(n)d deposit(s) approved and credited.") % {"n": done}, messages.SUCCESS)

    @admin.action(description=_("Reject the selected deposits"))
    def reject(self, request, queryset):
        done = sum(
            deposit_reject(deposit_id=pk, staff_id=request.user.pk) for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, _("%(n)d deposit(s) rejected.") % {"n": done}, messages.WARNING)


@admin.register(Affiliate)
class AffiliateAdmin(admin.ModelAdmin):
    list_display = ("user", "code", "commission_percent", "referred_by", "created_at")
    list_editable = ("commission_percent",)
    search_fields = ("user__username", "code")
    readonly_fields = ("user", "code", "referred_by")


@admin.register(Commission)
class CommissionAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "affiliate", "referred", "deposit", "gateway_payment", "amount")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def pretty_payload(obj) -> str:
    return format_html(
        '<pre style="white-space:pre-wrap;max-height:40em;overflow:auto">{}</pre>',
        json.dumps(obj.payload, indent=2, sort_keys=True),
    )


class GatewayEventInline(admin.StackedInline):
    model = GatewayEvent
    extra = 0
    can_delete = False
    fields = ("event_id", "type", "received_at", "processed", "outcome", "raw_payload")
    readonly_fields = fields
    ordering = ("id",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("payload"))
    def raw_payload(self, obj):
        return pretty_payload(obj)


@admin.register(GatewayPayment)
class GatewayPaymentAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "user", "provider", "amount", "currency", "status", "needs_review", "paid_at")
    list_filter = ("status", "needs_review", "provider", "created_at")
    search_fields = ("=id", "user__username", "user__email", "=external_id")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    inlines = [GatewayEventInline]


@admin.register(GatewayEvent)
class GatewayEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "received_at", "event_id", "type", "payment", "processed", "outcome")
    list_filter = ("type", "processed", "provider", "received_at")
    search_fields = ("=event_id", "=payment__id", "payment__user__username")
    list_select_related = ("payment",)
    date_hierarchy = "received_at"
    fields = ("event_id", "provider", "type", "payment", "received_at", "processed", "processed_at", "outcome")
    readonly_fields = (*fields, "raw_payload")

    def get_fields(self, request, obj=None):
        return [*self.fields, "raw_payload"]

    @admin.display(description=_("payload"))
    def raw_payload(self, obj):
        return pretty_payload(obj)


class TicketMessageInline(admin.TabularInline):
    model = TicketMessage
    extra = 1
    fields = ("created_at", "author", "is_staff", "body")
    readonly_fields = ("created_at", "author", "is_staff")

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ("id", "subject", "user", "topic", "order", "status", "updated_at")
    list_filter = ("status", "topic")
    search_fields = ("subject", "user__username", "=id")
    list_select_related = ("user",)
    readonly_fields = ("user", "order", "deposit", "created_at", "updated_at")
    inlines = [TicketMessageInline]

    def save_formset(self, request, form, formset, change):
        # Staff replies typed into the inline go through the same service as customers' replies.
        for message in formset.save(commit=False):
            if message.pk is None and message.body.strip():
                ticket_reply(ticket=form.instance, author=request.user, body=message.body)
