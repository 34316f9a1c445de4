from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from .models import Affiliate, Commission, DepositRequest, PaymentMethod, Ticket, TicketMessage
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
    list_display = ("id", "created_at", "affiliate", "referred", "deposit", "amount")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
