"""Bonus tiers, affiliates and their settings, commissions and payout requests."""

from django.contrib import admin, messages
from django.db.models import Sum
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from panel.admin_tools import PERM_MONEY, ReadOnlyAdmin

from ..affiliates import payout_credit, payout_mark_paid, payout_reject
from ..models import (
    Affiliate,
    AffiliateSettings,
    BonusTier,
    Commission,
    PayoutRequest,
)
from .common import MoneyPermission


@admin.register(BonusTier)
class BonusTierAdmin(MoneyPermission, admin.ModelAdmin):
    list_display = ("min_amount", "percent", "enabled")
    list_editable = ("percent", "enabled")


@admin.register(AffiliateSettings)
class AffiliateSettingsAdmin(MoneyPermission, admin.ModelAdmin):
    list_display = ("__str__", "payout_threshold")

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request) and not AffiliateSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        AffiliateSettings.load()
        return super().changelist_view(request, extra_context)


@admin.register(Affiliate)
class AffiliateAdmin(admin.ModelAdmin):
    list_display = ("user", "code", "commission_percent", "referred_by", "unpaid", "created_at")
    list_editable = ("commission_percent",)
    search_fields = ("user__username", "code")
    readonly_fields = ("user", "code", "referred_by")

    @admin.display(description=_("unpaid commissions"))
    def unpaid(self, obj):
        total = Commission.objects.filter(
            affiliate_id=obj.user_id, payout__isnull=True, credited_at_deposit=False
        ).aggregate(total=Sum("amount"))["total"]
        return total or "—"


@admin.register(Commission)
class CommissionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "affiliate",
        "referred",
        "deposit",
        "gateway_deposit",
        "amount",
        "payout",
        "credited_at_deposit",
    )
    list_filter = ("credited_at_deposit", "created_at")
    search_fields = ("affiliate__username", "referred__username")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CommissionInline(admin.TabularInline):
    model = Commission
    fk_name = "payout"
    extra = 0
    can_delete = False
    fields = ("created_at", "referred", "deposit", "gateway_deposit", "amount")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PayoutRequest)
class PayoutRequestAdmin(ReadOnlyAdmin):
    """Referrers' payout requests: credit to the balance, mark paid outside the panel, or reject
    (the commissions become unpaid again). One decision per request, audited."""

    list_display = ("id", "created_at", "user", "amount", "status", "actor", "decided_at", "staff_note")
    list_filter = ("status", "created_at")
    search_fields = ("=id", "user__username", "user__email")
    list_select_related = ("user", "actor")
    inlines = [CommissionInline]
    actions = ["credit", "mark_paid", "reject"]

    def has_money_permission(self, request):
        return request.user.has_perm(PERM_MONEY)

    def _decide(self, request, queryset, service) -> int:
        # The note is stored with the decision (English, like every stored note).
        return sum(
            service(payout_id=pk, actor_id=request.user.pk, note="Decided in the backoffice.")
            for pk in queryset.values_list("pk", flat=True)
        )

    @admin.action(description=_("Approve: credit the selected payouts to the balance"), permissions=["money"])
    def credit(self, request, queryset):
        done = self._decide(request, queryset, payout_credit)
        message = ngettext(
            "%(count)s payout credited to the balance.", "%(count)s payouts credited to the balance.", done
        )
        self.message_user(request, message % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Approve: mark the selected payouts paid outside the panel"), permissions=["money"])
    def mark_paid(self, request, queryset):
        done = self._decide(request, queryset, payout_mark_paid)
        message = ngettext(
            "%(count)s payout marked paid outside the panel.", "%(count)s payouts marked paid outside the panel.", done
        )
        self.message_user(request, message % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Reject the selected payouts"), permissions=["money"])
    def reject(self, request, queryset):
        done = self._decide(request, queryset, payout_reject)
        message = ngettext("%(count)s payout rejected.", "%(count)s payouts rejected.", done)
        self.message_user(request, message % {"count": done}, messages.WARNING)
