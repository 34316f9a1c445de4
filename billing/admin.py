import json

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from panel.admin_tools import PERM_MONEY, CustomerFilter, ReadOnlyAdmin, admin_extend

from .models import Affiliate, Commission, Deposit, DepositRequest, GatewayEvent, PaymentMethod
from .services import deposit_approve, deposit_reject


@admin.register(PaymentMethod)
class PaymentMethodAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "min_amount", "max_amount", "enabled", "position")
    list_editable = ("enabled", "position")


@admin.register(DepositRequest)
class DepositRequestAdmin(admin.ModelAdmin):
    """Staff who may move money approve (credit once) or reject; every decision is audited."""

    list_display = ("id", "created_at", "user", "method", "amount", "reference", "status", "actor", "decided_at")
    list_filter = ("status", "method", "created_at")
    search_fields = ("user__username", "reference", "=id")
    list_select_related = ("user", "method", "actor")
    readonly_fields = ("user", "method", "amount", "reference", "status", "ledger_entry_id", "actor", "decided_at")
    actions = ["approve", "reject"]

    def has_add_permission(self, request):
        return False

    def has_money_permission(self, request):
        return request.user.has_perm(PERM_MONEY)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(PERM_MONEY) and super().has_change_permission(request, obj)

    @admin.action(description=_("Approve and credit the selected deposits"), permissions=["money"])
    def approve(self, request, queryset):
        actor_id = request.user.pk
        done = sum(deposit_approve(deposit_id=pk, actor_id=actor_id) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"{done} deposit(s) approved and credited.", messages.SUCCESS)

    @admin.action(description=_("Reject the selected deposits"), permissions=["money"])
    def reject(self, request, queryset):
        actor_id = request.user.pk
        done = sum(deposit_reject(deposit_id=pk, actor_id=actor_id) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"{done} deposit(s) rejected.", messages.WARNING)


@admin.register(Affiliate)
class AffiliateAdmin(admin.ModelAdmin):
    list_display = ("user", "code", "commission_percent", "referred_by", "created_at")
    list_editable = ("commission_percent",)
    search_fields = ("user__username", "code")
    readonly_fields = ("user", "code", "referred_by")


@admin.register(Commission)
class CommissionAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "affiliate", "referred", "deposit", "gateway_deposit", "amount")

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


# Gateway payments and their raw events are written only by the webhook: staff read them here.
@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "user",
        "gateway",
        "amount",
        "charge_currency",
        "status",
        "needs_review",
        "paid_at",
    )
    list_filter = (CustomerFilter, "status", "needs_review", "gateway", "created_at")
    search_fields = ("=id", "user__username", "user__email", "=external_id")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    inlines = [GatewayEventInline]


@admin.register(GatewayEvent)
class GatewayEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "received_at", "event_id", "type", "deposit", "processed", "outcome")
    list_filter = ("type", "processed", "gateway", "received_at")
    search_fields = ("=event_id", "=deposit__id", "deposit__user__username")
    list_select_related = ("deposit",)
    date_hierarchy = "received_at"
    fields = ("event_id", "gateway", "type", "deposit", "received_at", "processed", "processed_at", "outcome")
    readonly_fields = (*fields, "raw_payload")

    def get_fields(self, request, obj=None):
        return [*self.fields, "raw_payload"]

    @admin.display(description=_("payload"))
    def raw_payload(self, obj):
        return pretty_payload(obj)


def _customer_payments(request, user) -> dict:
    return {"recent_payments": Deposit.objects.filter(user=user).order_by("-id")[:10]}


admin_extend("accounts.user", change_context=_customer_payments)
