"""Manual deposit requests, gateway deposits with their events and reversals, and reversals."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from panel.admin_tools import PERM_MONEY, CustomerFilter, ReadOnlyAdmin

from ..models import (
    Deposit,
    DepositRequest,
    GatewayEvent,
    Reversal,
)
from ..payments import (
    LOOKUP_APPLIED,
    LOOKUP_FAILED,
    LOOKUP_NO_ANSWER,
    Lookup,
    deposit_ask,
    deposit_credit_manually,
    deposit_review_clear,
    reversal_apply,
    reversal_dismiss,
)
from ..services import deposit_approve, deposit_reject
from .common import pretty_payload


def lookup_label(lookup: Lookup) -> str:
    """What asking the gateway came to, in the staff member's language (the English text the
    lookup returns is the one stored on the gateway event and logged)."""
    if lookup.kind == LOOKUP_APPLIED:
        status = Deposit.Status(lookup.status).label if lookup.status in Deposit.Status.values else lookup.status
        if lookup.needs_review:
            return gettext("%(status)s; left for review (see its note).") % {"status": status}
        return str(status)
    if lookup.kind == LOOKUP_FAILED:
        return gettext("the gateway could not be asked; try again later.")
    if lookup.kind == LOOKUP_NO_ANSWER:
        return gettext("the gateway has nothing on it yet.")
    return gettext("nothing to ask (closed, or no lookup).")


@admin.register(DepositRequest)
class DepositRequestAdmin(admin.ModelAdmin):
    """Manual deposits: staff who may move money approve (credit once) or reject; audited."""

    list_display = (
        "id",
        "created_at",
        "user",
        "method",
        "amount",
        "fee",
        "bonus",
        "reference",
        "status",
        "actor",
        "decided_at",
    )
    list_filter = ("status", "method", "created_at")
    search_fields = ("user__username", "reference", "=id")
    list_select_related = ("user", "method", "actor")
    readonly_fields = (
        "user",
        "method",
        "amount",
        "fee",
        "bonus",
        "reference",
        "status",
        "ledger_entry_id",
        "actor",
        "decided_at",
    )
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
        message = ngettext(
            "%(count)s deposit approved and credited.", "%(count)s deposits approved and credited.", done
        ) % {"count": done}
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description=_("Reject the selected deposits"), permissions=["money"])
    def reject(self, request, queryset):
        actor_id = request.user.pk
        done = sum(deposit_reject(deposit_id=pk, actor_id=actor_id) for pk in queryset.values_list("pk", flat=True))
        message = ngettext("%(count)s deposit rejected.", "%(count)s deposits rejected.", done) % {"count": done}
        self.message_user(request, message, messages.WARNING)


class GatewayEventInline(admin.StackedInline):
    model = GatewayEvent
    fk_name = "deposit"
    extra = 0
    can_delete = False
    fields = ("event_id", "type", "received_at", "processed", "needs_review", "outcome", "raw_payload")
    readonly_fields = fields
    ordering = ("id",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("payload"))
    def raw_payload(self, obj):
        return pretty_payload(obj)


class ReversalInline(admin.TabularInline):
    model = Reversal
    extra = 0
    can_delete = False
    fields = ("link", "kind", "gateway_amount", "gateway_currency", "amount", "status", "recovered", "not_recovered")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("reversal"))
    def link(self, obj):
        return format_html('<a href="{}">#{}</a>', reverse("admin:billing_reversal_change", args=[obj.pk]), obj.pk)


# Deposits and their events are written only by billing's services: staff read them here and act
# through the actions (each audited).
@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "user",
        "method",
        "amount",
        "bonus",
        "charge_shown",
        "status",
        "needs_review",
        "refunded",
        "charged_back",
        "paid_at",
    )
    list_filter = (CustomerFilter, "status", "needs_review", "gateway", "refunded", "charged_back", "created_at")
    search_fields = ("=id", "user__username", "user__email", "=external_id", "=transaction_id")
    list_select_related = ("user", "method")
    date_hierarchy = "created_at"
    inlines = [ReversalInline, GatewayEventInline]
    actions = ["credit_manually", "clear_review", "ask_gateway"]

    def has_money_permission(self, request):
        return request.user.has_perm(PERM_MONEY)

    @admin.display(description=_("charged"))
    def charge_shown(self, obj):
        return obj.charge_display

    @admin.action(
        description=_("Credit the selected deposits by hand (the customer proved the payment)"), permissions=["money"]
    )
    def credit_manually(self, request, queryset):
        done = sum(
            deposit_credit_manually(
                deposit_id=pk, actor_id=request.user.pk, note="Credited by staff from the backoffice."
            )
            for pk in queryset.values_list("pk", flat=True)
        )
        message = ngettext(
            "%(count)s deposit credited; already credited ones were left alone.",
            "%(count)s deposits credited; already credited ones were left alone.",
            done,
        ) % {"count": done}
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description=_("Mark the selected deposits as reviewed"), permissions=["money"])
    def clear_review(self, request, queryset):
        done = sum(
            deposit_review_clear(deposit_id=pk, actor_id=request.user.pk, note="Reviewed in the backoffice.")
            for pk in queryset.values_list("pk", flat=True)
        )
        message = ngettext("%(count)s deposit marked as reviewed.", "%(count)s deposits marked as reviewed.", done) % {
            "count": done
        }
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description=_("Ask the gateway about the selected open deposits"))
    def ask_gateway(self, request, queryset):
        for pk in queryset.values_list("pk", flat=True)[:50]:
            lookup = deposit_ask(deposit_id=pk)
            level = messages.WARNING if lookup.kind == LOOKUP_FAILED or lookup.needs_review else messages.INFO
            outcome = lookup_label(lookup)
            self.message_user(request, gettext("Deposit %(id)s: %(outcome)s") % {"id": pk, "outcome": outcome}, level)


@admin.register(GatewayEvent)
class GatewayEventAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "received_at",
        "gateway",
        "event_id",
        "type",
        "deposit",
        "processed",
        "needs_review",
        "outcome",
    )
    list_filter = ("type", "processed", "needs_review", "gateway", "received_at")
    search_fields = ("=event_id", "=deposit__id", "deposit__user__username")
    list_select_related = ("deposit",)
    date_hierarchy = "received_at"
    fields = (
        "event_id",
        "gateway",
        "method",
        "type",
        "deposit",
        "received_at",
        "processed",
        "needs_review",
        "processed_at",
        "outcome",
    )
    readonly_fields = (*fields, "raw_payload")

    def get_fields(self, request, obj=None):
        return [*self.fields, "raw_payload"]

    @admin.display(description=_("payload"))
    def raw_payload(self, obj):
        return pretty_payload(obj)


@admin.register(Reversal)
class ReversalAdmin(ReadOnlyAdmin):
    """Refunds and chargebacks a gateway reported: staff apply them (the balance is debited as far
    as it goes, the rest recorded as not recovered) or dismiss them; both audited."""

    list_display = (
        "id",
        "created_at",
        "deposit",
        "customer",
        "kind",
        "transaction_id",
        "gateway_amount",
        "gateway_currency",
        "amount",
        "status",
        "recovered",
        "not_recovered",
        "settled_by",
        "actor",
    )
    list_filter = ("status", "kind", "created_at")
    search_fields = ("=id", "=deposit__id", "deposit__user__username", "=transaction_id", "=settled_by")
    list_select_related = ("deposit__user", "actor")
    actions = ["apply_reversal", "dismiss"]

    def has_money_permission(self, request):
        return request.user.has_perm(PERM_MONEY)

    @admin.display(description=_("customer"))
    def customer(self, obj):
        return obj.deposit.user

    @admin.action(
        description=_("Apply: take the amount back from the balance (as far as it goes)"), permissions=["money"]
    )
    def apply_reversal(self, request, queryset):
        done = sum(
            reversal_apply(reversal_id=pk, actor_id=request.user.pk, note="Applied in the backoffice.")
            for pk in queryset.values_list("pk", flat=True)
        )
        message = ngettext("%(count)s reversal applied.", "%(count)s reversals applied.", done) % {"count": done}
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description=_("Dismiss the selected reversals"), permissions=["money"])
    def dismiss(self, request, queryset):
        done = sum(
            reversal_dismiss(reversal_id=pk, actor_id=request.user.pk, note="Dismissed in the backoffice.")
            for pk in queryset.values_list("pk", flat=True)
        )
        message = ngettext("%(count)s reversal dismissed.", "%(count)s reversals dismissed.", done) % {"count": done}
        self.message_user(request, message, messages.WARNING)
