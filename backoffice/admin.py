"""Richer admin pages for the other apps' models, registered over theirs.

Each class extends the app's own ModelAdmin; what it adds is the staff actions (which go
through backoffice.services and so are audited), the order timeline, and role checks.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from accounts import admin as accounts_admin
from accounts.models import LedgerEntry, User
from catalog import admin as catalog_admin
from catalog.models import CustomerPrice, Service
from dashboard import admin as dashboard_admin
from dashboard.models import DepositRequest, GatewayEvent, GatewayPayment, Ticket
from orders import admin as orders_admin
from orders.models import ACTIVE_STATUSES, CancelRequest, ForwardState, Order, Refill, Status
from panel.admin_tools import ReadOnlyAdmin
from upstream import admin as upstream_admin
from upstream.models import Provider

from . import services
from .models import AuditLog, TicketAssignment

PERM_ORDERS = "backoffice.order_actions"
PERM_MONEY = "backoffice.money_actions"
PERM_CUSTOMERS = "backoffice.customer_actions"
PERM_CATALOG = "backoffice.catalog_actions"


class InputFilter(admin.SimpleListFilter):
    """A free-text list filter (customer name, service ID) instead of a list of every value."""

    template = "backoffice/input_filter.html"

    def lookups(self, request, model_admin):
        return ((None, None),)

    def choices(self, changelist):
        # The template renders one text box; keep the other filters in hidden fields.
        query = changelist.get_filters_params()
        query.pop(self.parameter_name, None)
        yield {"query_parts": [(k, v) for k, values in query.items() for v in values]}


class CustomerFilter(InputFilter):
    title = "customer"
    parameter_name = "customer"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        return queryset.filter(Q(user__username__iexact=value) | Q(user__email__iexact=value))


class ServiceFilter(InputFilter):
    title = "service ID"
    parameter_name = "service_id"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return queryset.filter(service_id=int(value)) if value.isdigit() else queryset


# --- Orders --------------------------------------------------------------------------------------


def order_actions_for(order: Order, user) -> list[tuple[str, str, bool]]:
    """(action, label, dangerous) that make sense for this order and this staff member."""
    if not user.has_perm(PERM_ORDERS):
        return []
    money = user.has_perm(PERM_MONEY)
    unsent = order.forward_state in (ForwardState.QUEUED, ForwardState.UNKNOWN)
    reached = order.forward_state in (ForwardState.SENT, ForwardState.UNKNOWN)
    actions = []
    if order.forward_state == ForwardState.UNKNOWN and not order.is_final:
        actions.append(("resend", "Resend…", True))
    if unsent and not order.is_final:
        actions.append(("mark_sent", "Mark as sent…", False))
    if order.forward_state == ForwardState.SENT and not order.is_final:
        actions.append(("recheck", "Re-check status now", False))
    if unsent and order.status in ACTIVE_STATUSES:
        actions.append(("move", "Move to another provider…", False))
    if reached and order.status != Status.COMPLETED and order.refunded == 0:
        actions.append(("complete", "Mark Completed…", False))
    if money and reached and order.status != Status.CANCELED:
        actions.append(("partial", "Mark Partial…", True))
    if money and order.status != Status.CANCELED and order.forward_state != ForwardState.SENDING:
        actions.append(("cancel", "Cancel with full refund…", True))
    return actions


def order_timeline(order: Order) -> list[dict]:
    """Everything that happened to the order, oldest first: its events (placed, forwarded,
    status changes, refunds, refills, cancels, staff actions), its ledger entries, and the
    audit rows of staff actions on it."""
    items = [
        {"at": e.created_at, "kind": e.kind, "text": e.message, "by": e.created_by, "data": e.data}
        for e in order.events.select_related("created_by")
    ]
    items += [
        {
            "at": entry.created_at,
            "kind": "ledger",
            "text": f"{entry.get_kind_display()} {entry.amount:+} (balance {entry.balance_after}) {entry.memo}",
            "by": entry.created_by,
            "data": None,
        }
        for entry in LedgerEntry.objects.filter(order_id=order.pk).select_related("created_by")
    ]
    items += [
        {
            "at": refill.created_at,
            "kind": "refill",
            "text": f"Refill {refill.pk}: {refill.get_state_display()}, {refill.status}"
            + (f" — {refill.error}" if refill.error else ""),
            "by": None,
            "data": None,
        }
        for refill in order.refills.all()
    ]
    items += [
        {
            "at": cancel.created_at,
            "kind": "cancel",
            "text": f"Cancel request {cancel.pk}: {cancel.get_state_display()}"
            + (f" — {cancel.error}" if cancel.error else ""),
            "by": None,
            "data": None,
        }
        for cancel in order.cancels.all()
    ]
    items += [
        {"at": row.created_at, "kind": "audit", "text": row.action, "by": row.actor, "data": row.after}
        for row in AuditLog.objects.filter(object_type="orders.order", object_id=str(order.pk)).select_related("actor")
    ]
    return sorted(items, key=lambda item: item["at"])


admin.site.unregister(Order)


@admin.register(Order)
class OrderAdmin(orders_admin.OrderAdmin):
    list_display = (
        "id",
        "created_at",
        "customer",
        "service_short",
        "provider",
        "link_short",
        "quantity",
        "charge",
        "refunded",
        "status_badge",
        "forward_state",
        "upstream_order_id",
        "needs_attention",
    )
    list_display_links = ("id", "created_at")
    list_filter = (
        "needs_attention",
        "status",
        "forward_state",
        "provider",
        CustomerFilter,
        ServiceFilter,
        "source",
        "created_at",
    )
    search_fields = ("=id", "=upstream_order_id", "link")
    list_select_related = ("user", "service", "provider")
    inlines = []
    list_per_page = 50
    show_full_result_count = False
    change_form_template = "backoffice/order_change_form.html"
    fieldsets = (
        (
            "Order",
            {
                "fields": (
                    "user",
                    "service",
                    "provider",
                    "upstream_service_id",
                    "source",
                    "link",
                    "quantity",
                    "runs",
                    "interval",
                    "params",
                )
            },
        ),
        ("Money", {"fields": ("charge", "refunded", "cost_expected", "cost_actual")}),
        ("Status", {"fields": ("status", "start_count", "remains", "created_at", "completed_at", "settled_at")}),
        (
            "Forwarding",
            {
                "fields": (
                    "forward_state",
                    "upstream_order_id",
                    "upstream_error",
                    "attempts",
                    "needs_attention",
                    "attention_reason",
                    "next_attempt_at",
                    "next_check_at",
                    "last_checked_at",
                ),
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_change_permission(self, request, obj=None):
        # Orders change only through the audited actions, never through the form.
        return False

    @admin.display(description="Customer", ordering="user__username")
    def customer(self, obj):
        url = reverse("admin:accounts_user_change", args=[obj.user_id])
        return format_html('<a href="{}">{}</a>', url, obj.user.username)

    @admin.display(description="Service", ordering="service_id")
    def service_short(self, obj):
        return format_html('<span title="{}">#{} {}</span>', obj.service.name, obj.service_id, obj.service.name[:28])

    @admin.display(description="Link")
    def link_short(self, obj):
        return format_html('<span class="bo-link" title="{}">{}</span>', obj.link, obj.link[:40])

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return format_html('<span class="bo-badge bo-{}">{}</span>', obj.status.lower().replace(" ", "-"), obj.status)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        extra = {}
        if order is not None:
            extra = {
                "timeline": order_timeline(order),
                "staff_actions": order_actions_for(order, request.user),
                "order": order,
            }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})


class ReadOnlyRequestAdmin(ReadOnlyAdmin):
    """Refill and cancel requests are written by the engine and the retry action, never by forms."""

    @admin.display(description="Order")
    def order_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[obj.order_id]), obj.order_id
        )


admin.site.unregister(Refill)


@admin.register(Refill)
class RefillAdmin(ReadOnlyRequestAdmin, orders_admin.RefillAdmin):
    list_display = (
        "id",
        "created_at",
        "order_link",
        "user",
        "provider",
        "state",
        "status",
        "upstream_refill_id",
        "error",
        "retry",
    )
    list_filter = ("state", "status", "provider")
    list_select_related = ("user", "provider")

    @admin.display(description="")
    def retry(self, obj):
        if obj.state == Refill.State.SENT:
            return ""
        return format_html(
            '<button class="button bo-post" data-url="{}">Retry</button>',
            reverse("admin:bo_refill_retry", args=[obj.pk]),
        )


admin.site.unregister(CancelRequest)


@admin.register(CancelRequest)
class CancelRequestAdmin(ReadOnlyRequestAdmin, orders_admin.CancelRequestAdmin):
    list_display = ("id", "created_at", "order_link", "user", "state", "upstream_cancel_id", "error", "retry")
    list_select_related = ("user",)

    @admin.display(description="")
    def retry(self, obj):
        if obj.state not in (CancelRequest.State.QUEUED, CancelRequest.State.REJECTED):
            return ""
        return format_html(
            '<button class="button bo-post" data-url="{}">Retry</button>',
            reverse("admin:bo_cancel_retry", args=[obj.pk]),
        )


# --- Customers -----------------------------------------------------------------------------------

admin.site.unregister(User)


@admin.register(User)
class UserAdmin(accounts_admin.PanelUserAdmin):
    list_display = ("username", "email", "balance", "discount_percent", "is_staff", "active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    change_form_template = "backoffice/user_change_form.html"

    def get_readonly_fields(self, request, obj=None):
        fields = [*super().get_readonly_fields(request, obj), "is_active"]
        if obj is not None and not request.user.has_perm(PERM_CUSTOMERS):
            fields.append("discount_percent")
        return fields

    @admin.display(description="Active", boolean=True, ordering="is_active")
    def active(self, obj):
        return obj.is_active

    def save_model(self, request, obj, form, change):
        # The discount goes through the audited service; everything else saves as usual.
        new_discount = obj.discount_percent
        if change and "discount_percent" in form.changed_data:
            obj.discount_percent = form.initial["discount_percent"]
        super().save_model(request, obj, form, change)
        if change and "discount_percent" in form.changed_data:
            services.customer_discount_change(user_id=obj.pk, percent=new_discount, by=request.user.pk)
            obj.discount_percent = new_discount

    def change_view(self, request, object_id, form_url="", extra_context=None):
        user = self.get_object(request, object_id)
        extra = {}
        if user is not None:
            extra = {
                "customer": user,
                "recent_orders": Order.objects.filter(user=user).select_related("service").order_by("-id")[:10],
                "recent_ledger": LedgerEntry.objects.filter(user=user).order_by("-id")[:10],
                "custom_prices": CustomerPrice.objects.filter(user=user).select_related("service")[:50],
                "recent_payments": GatewayPayment.objects.filter(user=user).order_by("-id")[:10],
                "can_money": request.user.has_perm(PERM_MONEY),
                "can_customers": request.user.has_perm(PERM_CUSTOMERS),
            }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})


admin.site.unregister(CustomerPrice)


@admin.register(CustomerPrice)
class CustomerPriceAdmin(catalog_admin.CustomerPriceAdmin):
    def _allowed(self, request):
        return request.user.has_perm(PERM_CUSTOMERS)

    def has_add_permission(self, request):
        return self._allowed(request) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        old = CustomerPrice.objects.filter(pk=obj.pk).first() if change else None
        if old is not None and (old.user_id, old.service_id) != (obj.user_id, obj.service_id):
            services.customer_price_change(
                user_id=old.user_id, service_id=old.service_id, rate=None, by=request.user.pk
            )
        services.customer_price_change(
            user_id=obj.user_id, service_id=obj.service_id, rate=obj.rate, by=request.user.pk
        )
        obj.pk = CustomerPrice.objects.get(user_id=obj.user_id, service_id=obj.service_id).pk

    def delete_model(self, request, obj):
        services.customer_price_change(user_id=obj.user_id, service_id=obj.service_id, rate=None, by=request.user.pk)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


# --- Payments and tickets ------------------------------------------------------------------------

admin.site.unregister(DepositRequest)


@admin.register(DepositRequest)
class DepositRequestAdmin(dashboard_admin.DepositRequestAdmin):
    list_filter = ("status", "method", "created_at")

    def has_money_permission(self, request):
        return request.user.has_perm(PERM_MONEY)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(PERM_MONEY) and super().has_change_permission(request, obj)

    def _decide(self, request, queryset, approve: bool):
        done = 0
        for pk in queryset.values_list("pk", flat=True):
            done += services.deposit_decide(deposit_id=pk, approve=approve, by=request.user.pk).done
        verb = "approved and credited" if approve else "rejected"
        self.message_user(request, f"{done} deposit(s) {verb}.", messages.SUCCESS if approve else messages.WARNING)

    @admin.action(description="Approve and credit the selected deposits", permissions=["money"])
    def approve(self, request, queryset):
        self._decide(request, queryset, True)

    @admin.action(description="Reject the selected deposits", permissions=["money"])
    def reject(self, request, queryset):
        self._decide(request, queryset, False)


# Gateway payments and their raw events are written only by the webhook: staff read them here.
admin.site.unregister(GatewayPayment)


@admin.register(GatewayPayment)
class GatewayPaymentAdmin(dashboard_admin.GatewayPaymentAdmin):
    list_filter = (CustomerFilter, "status", "needs_review", "provider", "created_at")


admin.site.unregister(GatewayEvent)


@admin.register(GatewayEvent)
class GatewayEventAdmin(dashboard_admin.GatewayEventAdmin):
    pass


class TicketForm(forms.ModelForm):
    # The assignment lives in backoffice (the ticket model is the dashboard's); a plain field
    # rather than an inline, so a form posted without it leaves the assignment alone.
    assignee = forms.ModelChoiceField(
        queryset=User.objects.filter(is_staff=True, is_active=True), required=False, label="Assigned to"
    )

    class Meta:
        model = Ticket
        fields = ("subject", "topic", "status")


admin.site.unregister(Ticket)


@admin.register(Ticket)
class TicketAdmin(dashboard_admin.TicketAdmin):
    list_display = ("id", "subject", "user", "topic", "order", "status", "assignee", "updated_at")
    list_filter = ("status", "topic", "assignment__assignee")
    list_select_related = ("user", "assignment__assignee")
    form = TicketForm
    actions = ["assign_to_me", "close"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        assignment = TicketAssignment.objects.filter(ticket=obj).first() if obj else None
        form.base_fields["assignee"].initial = assignment.assignee_id if assignment else None
        return form

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "assignee" in request.POST:
            TicketAssignment.objects.update_or_create(ticket=obj, defaults={"assignee": form.cleaned_data["assignee"]})

    @admin.action(description="Assign the selected tickets to me", permissions=["change"])
    def assign_to_me(self, request, queryset):
        for ticket in queryset:
            TicketAssignment.objects.update_or_create(ticket=ticket, defaults={"assignee": request.user})
        self.message_user(request, f"{queryset.count()} ticket(s) assigned to you.", messages.SUCCESS)

    @admin.display(description="Assigned to", ordering="assignment__assignee__username")
    def assignee(self, obj):
        assignment = getattr(obj, "assignment", None)
        return assignment.assignee if assignment else "—"

    @admin.action(description="Close the selected tickets", permissions=["change"])
    def close(self, request, queryset):
        done = sum(
            services.ticket_close_by_staff(ticket_id=pk, by=request.user.pk).done
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"{done} ticket(s) closed.", messages.SUCCESS)


# --- Providers and the catalog -------------------------------------------------------------------

admin.site.unregister(Provider)


@admin.register(Provider)
class ProviderAdmin(upstream_admin.ProviderAdmin):
    list_display = (
        "name",
        "api_url",
        "enabled",
        "currency",
        "balance_shown",
        "balance_checked_at",
        "last_error",
        "import_link",
    )
    change_form_template = "backoffice/provider_change_form.html"

    @admin.display(description="Balance", ordering="balance")
    def balance_shown(self, obj):
        if obj.balance is None:
            return "—"
        css = "bo-warn" if obj.low_balance else ""
        return format_html('<span class="{}">{} {}</span>', css, obj.balance, obj.currency)

    @admin.display(description="")
    def import_link(self, obj):
        return format_html('<a class="button" href="{}">Import services</a>', reverse("admin:bo_import", args=[obj.pk]))


admin.site.unregister(Service)


@admin.register(Service)
class ServiceAdmin(catalog_admin.ServiceAdmin):
    actions = (*catalog_admin.ServiceAdmin.actions, "set_markup")

    def has_catalog_permission(self, request):
        return request.user.has_perm(PERM_CATALOG)

    @admin.action(description="Set markup / reprice…", permissions=["catalog"])
    def set_markup(self, request, queryset):
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True)[:2000])
        return HttpResponseRedirect(reverse("admin:bo_services_markup") + f"?ids={ids}")


# --- The audit log -------------------------------------------------------------------------------


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor", "action", "object_link", "reason", "change")
    list_filter = ("action", "object_type", ("actor", admin.RelatedOnlyFieldListFilter), "created_at")
    search_fields = ("=object_id", "reason", "actor__username")
    list_select_related = ("actor",)
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description="Object")
    def object_link(self, obj):
        app, _, model = obj.object_type.partition(".")
        try:
            url = reverse(f"admin:{app}_{model}_change", args=[obj.object_id])
        except Exception:
            return f"{obj.object_type} {obj.object_id}"
        return format_html('<a href="{}">{} {}</a>', url, model, obj.object_id)

    @admin.display(description="Before → after")
    def change(self, obj):
        keys = sorted(set(obj.before) | set(obj.after))
        parts = [
            f"{k}: {obj.before.get(k, '—')} → {obj.after.get(k, '—')}"
            for k in keys
            if obj.before.get(k) != obj.after.get(k) and k != "rates"
        ]
        return "; ".join(parts)[:300]
