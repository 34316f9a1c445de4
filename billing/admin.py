"""Billing in the backoffice: payment methods (settings built from each gateway's fields, secrets
write-only), deposits with their events and review flags, reversals, bonus tiers, affiliates,
commissions and payout requests. Every action that moves money, or decides about it, needs the
money permission (PERM_MONEY) and goes through a billing service that writes the audit row."""

import json

from django import forms
from django.contrib import admin, messages
from django.db.models import Sum
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from panel.admin_tools import PERM_MONEY, CustomerFilter, ReadOnlyAdmin, admin_extend

from .affiliates import payout_credit, payout_mark_paid, payout_reject
from .gateways.base import GatewayError
from .models import (
    MANUAL,
    Affiliate,
    AffiliateSettings,
    BonusTier,
    Commission,
    Deposit,
    DepositRequest,
    GatewayEvent,
    PaymentMethod,
    PayoutRequest,
    Reversal,
)
from .payments import (
    deposit_credit_manually,
    deposit_lookup,
    deposit_review_clear,
    gateway_for,
    method_problem,
    method_test_connection,
    reversal_apply,
    reversal_dismiss,
)
from .services import deposit_approve, deposit_reject


class MoneyPermission:
    """Staff who may move money change these rows and run their actions; others look."""

    def has_money_permission(self, request):
        return request.user.has_perm(PERM_MONEY)

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm(PERM_MONEY) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(PERM_MONEY) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm(PERM_MONEY) and super().has_delete_permission(request, obj)


def _gateway_fields(kind: str):
    if not kind or kind == MANUAL:
        return ()
    try:
        return tuple(gateway_for(PaymentMethod(kind=kind)).fields)
    except (ImportError, AttributeError, KeyError):
        return ()


class PaymentMethodForm(forms.ModelForm):
    """The method's own fields plus one per setting its gateway declares (billing.gateways.base.Field).
    Secret settings are write-only: the box is always empty, a hint shows what is on file, and an
    empty box keeps the stored value."""

    class Meta:
        model = PaymentMethod
        fields = (
            "name",
            "kind",
            "enabled",
            "position",
            "instructions",
            "min_amount",
            "max_amount",
            "fee_percent",
            "fee_fixed",
            "currency",
            "rate",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A saved method's gateway decides the settings (a new method shows them once saved).
        self.gateway_fields = _gateway_fields(self.instance.kind) if self.instance.pk else ()
        for field in self.gateway_fields:
            name = f"gw_{field.name}"
            if field.secret:
                hint = self.instance.secret_hint(field.name) if self.instance.pk else "not set"
                self.fields[name] = forms.CharField(
                    label=field.label,
                    required=False,
                    strip=True,
                    widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                    help_text=f"{field.help} On file: {hint}. Leave empty to keep it.".strip(),
                )
            elif field.choices:
                self.fields[name] = forms.ChoiceField(
                    label=field.label, required=field.required, choices=field.choices, help_text=field.help
                )
                self.fields[name].initial = (self.instance.settings or {}).get(field.name, "")
            else:
                self.fields[name] = forms.CharField(
                    label=field.label, required=field.required, help_text=field.help, max_length=2000
                )
                self.fields[name].initial = (self.instance.settings or {}).get(field.name, "")

    def clean(self):
        data = super().clean()
        for field in self.gateway_fields:
            missing = field.secret and field.required and not data.get(f"gw_{field.name}")
            if missing and not self.instance.secret_values().get(field.name):
                self.add_error(f"gw_{field.name}", _("This setting is required."))
        return data

    def save(self, commit=True):
        method = super().save(commit=False)
        plain = dict(method.settings or {})
        secret = method.secret_values()
        for field in self.gateway_fields:
            value = self.cleaned_data.get(f"gw_{field.name}", "")
            if field.secret:
                if value:
                    secret[field.name] = value
            else:
                plain[field.name] = value
        method.settings = plain
        method.set_secret_values(secret)
        if commit:
            method.save()
        return method


@admin.register(PaymentMethod)
class PaymentMethodAdmin(MoneyPermission, admin.ModelAdmin):
    form = PaymentMethodForm
    list_display = (
        "name",
        "kind",
        "min_amount",
        "max_amount",
        "fee_shown",
        "charge_currency_shown",
        "enabled",
        "position",
        "state",
        "notify_url",
    )
    list_editable = ("enabled", "position")
    list_filter = ("kind", "enabled")
    actions = ["test_connection"]

    def get_fieldsets(self, request, obj=None):
        base = [
            (None, {"fields": ("name", "kind", "enabled", "position", "instructions")}),
            (_("Amounts"), {"fields": ("min_amount", "max_amount", "fee_percent", "fee_fixed", "currency", "rate")}),
        ]
        form = self.get_form(request, obj)
        names = [name for name in form.base_fields if name.startswith("gw_")]
        if names:
            base.append((_("Gateway settings"), {"fields": names}))
        elif obj is None:
            base.append((None, {"fields": (), "description": _("Save the method to fill in its gateway's settings.")}))
        return base

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = None
        form = super().get_form(request, obj, change=change, **kwargs)
        # Gateway fields depend on the row's kind: declare them on a subclass for this row.
        extra = PaymentMethodForm(instance=obj or PaymentMethod()).fields
        for name, field in extra.items():
            if name.startswith("gw_"):
                form.base_fields[name] = field
        return form

    @admin.display(description=_("fee"))
    def fee_shown(self, obj):
        parts = []
        if obj.fee_percent:
            parts.append(f"{obj.fee_percent.normalize():f}%")
        if obj.fee_fixed:
            parts.append(f"{obj.fee_fixed.normalize():f}")
        return " + ".join(parts) or "—"

    @admin.display(description=_("charges in"))
    def charge_currency_shown(self, obj):
        currency = obj.charge_currency()
        return currency if obj.rate == 1 else f"{currency} (rate {obj.rate.normalize():f})"

    @admin.display(description=_("state"))
    def state(self, obj):
        problem = method_problem(obj)
        return format_html('<span class="bo-bad">{}</span>', problem) if problem else "ready"

    @admin.display(description=_("notify URL"))
    def notify_url(self, obj):
        if obj.kind == MANUAL:
            return "—"
        return reverse("dashboard:payment_notify", args=[obj.pk])

    @admin.action(description=_("Test connection"), permissions=["money"])
    def test_connection(self, request, queryset):
        # Outside any transaction (the changelist's actions run in autocommit): the gateway may be slow.
        for method in queryset:
            try:
                answer = method_test_connection(method=method)
            except GatewayError as error:
                self.message_user(request, f"{method.name}: {error}", messages.ERROR)
            except (ImportError, AttributeError, KeyError):
                self.message_user(
                    request, f"{method.name}: the {method.kind} gateway is not installed.", messages.ERROR
                )
            else:
                self.message_user(request, f"{method.name}: {answer}", messages.SUCCESS)


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
        self.message_user(request, f"{done} deposit(s) approved and credited.", messages.SUCCESS)

    @admin.action(description=_("Reject the selected deposits"), permissions=["money"])
    def reject(self, request, queryset):
        actor_id = request.user.pk
        done = sum(deposit_reject(deposit_id=pk, actor_id=actor_id) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"{done} deposit(s) rejected.", messages.WARNING)


def pretty_payload(obj) -> str:
    return format_html(
        '<pre style="white-space:pre-wrap;max-height:40em;overflow:auto">{}</pre>',
        json.dumps(obj.payload, indent=2, sort_keys=True),
    )


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
        self.message_user(
            request, f"{done} deposit(s) credited; already credited ones were left alone.", messages.SUCCESS
        )

    @admin.action(description=_("Mark the selected deposits as reviewed"), permissions=["money"])
    def clear_review(self, request, queryset):
        done = sum(
            deposit_review_clear(deposit_id=pk, actor_id=request.user.pk, note="Reviewed in the backoffice.")
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"{done} deposit(s) marked as reviewed.", messages.SUCCESS)

    @admin.action(description=_("Ask the gateway about the selected open deposits"))
    def ask_gateway(self, request, queryset):
        for pk in queryset.values_list("pk", flat=True)[:50]:
            outcome = deposit_lookup(deposit_id=pk)
            self.message_user(request, f"Deposit {pk}: {outcome or 'nothing to ask (closed, or no lookup).'}")


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
        "gateway_amount",
        "gateway_currency",
        "amount",
        "status",
        "recovered",
        "not_recovered",
        "actor",
    )
    list_filter = ("status", "kind", "created_at")
    search_fields = ("=id", "=deposit__id", "deposit__user__username")
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
        self.message_user(request, f"{done} reversal(s) applied.", messages.SUCCESS)

    @admin.action(description=_("Dismiss the selected reversals"), permissions=["money"])
    def dismiss(self, request, queryset):
        done = sum(
            reversal_dismiss(reversal_id=pk, actor_id=request.user.pk, note="Dismissed in the backoffice.")
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"{done} reversal(s) dismissed.", messages.WARNING)


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

    def _decide(self, request, queryset, service, done_text, level=messages.SUCCESS):
        done = sum(
            service(payout_id=pk, actor_id=request.user.pk, note="Decided in the backoffice.")
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"{done} payout(s) {done_text}.", level)

    @admin.action(description=_("Approve: credit the selected payouts to the balance"), permissions=["money"])
    def credit(self, request, queryset):
        self._decide(request, queryset, payout_credit, "credited to the balance")

    @admin.action(description=_("Approve: mark the selected payouts paid outside the panel"), permissions=["money"])
    def mark_paid(self, request, queryset):
        self._decide(request, queryset, payout_mark_paid, "marked paid outside the panel")

    @admin.action(description=_("Reject the selected payouts"), permissions=["money"])
    def reject(self, request, queryset):
        self._decide(request, queryset, payout_reject, "rejected", messages.WARNING)


def _customer_payments(request, user) -> dict:
    return {"recent_payments": Deposit.objects.filter(user=user).select_related("method").order_by("-id")[:10]}


admin_extend("accounts.user", change_context=_customer_payments)
