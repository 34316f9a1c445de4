"""Orders, refills and cancel requests for staff: read-only pages with the order's timeline and
the staff actions that make sense for it; the actions themselves are the backoffice's pages,
which call orders' transitions and write the audit row."""

from datetime import timedelta

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from accounts.models import AuditLog, LedgerEntry
from panel.admin_tools import (
    PERM_MONEY,
    PERM_ORDERS,
    PERM_REPORTS,
    CustomerFilter,
    InputFilter,
    ReadOnlyAdmin,
    admin_extend,
    labelled_choices_filter,
)
from panel.pagination import EstimatedCountPaginator

from .failover import provider_failovers, service_fulfilment
from .models import ACTIVE_STATUSES, CancelRequest, ForwardState, Order, ReconciliationReport, Refill, Status

# Staff read these states translated; the models' own labels stay English, as error texts the
# Admin API answers with (orders.staff, orders.manual, orders.cancels) embed them.
FORWARD_STATE_LABELS = {
    ForwardState.QUEUED: gettext_lazy("Queued"),
    ForwardState.SENDING: gettext_lazy("Sending"),
    ForwardState.SENT: gettext_lazy("Sent"),
    ForwardState.REJECTED: gettext_lazy("Rejected"),
    ForwardState.UNKNOWN: gettext_lazy("Unknown outcome"),
    ForwardState.CANCELED: gettext_lazy("Canceled before sending"),
    ForwardState.MANUAL: gettext_lazy("Manual (fulfilled by staff)"),
}
REFILL_STATE_LABELS = {
    Refill.State.QUEUED: gettext_lazy("Queued"),
    Refill.State.SENT: gettext_lazy("Sent"),
    Refill.State.REJECTED: gettext_lazy("Rejected"),
    Refill.State.MANUAL: gettext_lazy("Manual (staff resolve it)"),
}
CANCEL_STATE_LABELS = {
    CancelRequest.State.QUEUED: gettext_lazy("Queued"),
    CancelRequest.State.CONFIRMED: gettext_lazy("Confirmed by provider"),
    CancelRequest.State.REJECTED: gettext_lazy("Rejected by provider"),
    CancelRequest.State.DONE: gettext_lazy("Order canceled"),
    CancelRequest.State.MANUAL: gettext_lazy("Waiting for staff"),
}
# The kinds of the order's timeline (OrderEvent.kind, and the rows added from other tables).
TIMELINE_KINDS = {
    "placed": pgettext_lazy("order timeline", "placed"),
    "forwarded": pgettext_lazy("order timeline", "forwarded"),
    "rejected": pgettext_lazy("order timeline", "rejected"),
    "retry": pgettext_lazy("order timeline", "retry"),
    "attention": pgettext_lazy("order timeline", "attention"),
    "staff": pgettext_lazy("order timeline", "staff"),
    "refund": pgettext_lazy("order timeline", "refund"),
    "refill": pgettext_lazy("order timeline", "refill"),
    "cancel": pgettext_lazy("order timeline", "cancel"),
    "canceled": pgettext_lazy("order timeline", "canceled"),
    "sweeper": pgettext_lazy("order timeline", "sweeper"),
    "ledger": pgettext_lazy("order timeline", "ledger"),
    "audit": pgettext_lazy("order timeline", "audit"),
}


def forward_state_label(value: str) -> str:
    return str(FORWARD_STATE_LABELS.get(value, value))


def refill_state_label(value: str) -> str:
    return str(REFILL_STATE_LABELS.get(value, value))


def cancel_state_label(value: str) -> str:
    return str(CANCEL_STATE_LABELS.get(value, value))


class ServiceFilter(InputFilter):
    title = gettext_lazy("service ID")
    parameter_name = "service_id"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return queryset.filter(service_id=int(value)) if value.isdigit() else queryset


def order_actions_for(order: Order, user) -> list[tuple[str, str, bool]]:
    """(action, label, dangerous) that make sense for this order and this staff member."""
    if not user.has_perm(PERM_ORDERS):
        return []
    money = user.has_perm(PERM_MONEY)
    unsent = order.forward_state in (ForwardState.QUEUED, ForwardState.UNKNOWN)
    # A manual order is delivered by staff: it ends like one the provider has.
    reached = order.forward_state in (ForwardState.SENT, ForwardState.UNKNOWN, ForwardState.MANUAL)
    actions = []
    if order.forward_state == ForwardState.UNKNOWN and not order.is_final:
        actions.append(("resend", _("Resend…"), True))
    if unsent and not order.is_final:
        actions.append(("mark_sent", _("Mark as sent…"), False))
    if order.forward_state == ForwardState.SENT and not order.is_final:
        actions.append(("recheck", _("Re-check status now"), False))
    if unsent and order.status in ACTIVE_STATUSES:
        actions.append(("move", _("Move to another provider…"), False))
    if reached and order.status != Status.COMPLETED and order.refunded == 0:
        actions.append(("complete", _("Mark Completed…"), False))
    if money and reached and order.status != Status.CANCELED:
        actions.append(("partial", _("Mark Partial…"), True))
    if money and order.status != Status.CANCELED and order.forward_state != ForwardState.SENDING:
        actions.append(("cancel", _("Cancel with full refund…"), True))
    return actions


def order_timeline(order: Order) -> list[dict]:
    """Everything that happened to the order, oldest first: its events (placed, forwarded,
    status changes, refunds, refills, cancels, staff actions), its ledger entries, and the
    audit rows of staff actions on it. The texts of events and audit rows are stored (English);
    the ones written here are in the reader's language."""
    items = [
        {"at": e.created_at, "kind": e.kind, "text": e.message, "by": e.actor, "data": e.data}
        for e in order.events.select_related("actor")
    ]
    items += [
        {
            "at": entry.created_at,
            "kind": "ledger",
            "text": _("%(kind)s %(amount)s (balance %(balance)s) %(memo)s")
            % {
                "kind": entry.get_kind_display(),
                "amount": f"{entry.amount:+}",
                "balance": entry.balance_after,
                "memo": entry.memo,
            },
            "by": entry.actor,
            "data": None,
        }
        for entry in LedgerEntry.objects.filter(order_id=order.pk).select_related("actor")
    ]
    items += [
        {
            "at": refill.created_at,
            "kind": "refill",
            "text": _("Refill %(id)s: %(state)s, %(status)s")
            % {"id": refill.pk, "state": refill_state_label(refill.state), "status": refill.get_status_display()}
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
            "text": _("Cancel request %(id)s: %(state)s") % {"id": cancel.pk, "state": cancel_state_label(cancel.state)}
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
    for item in items:
        item["kind_label"] = TIMELINE_KINDS.get(item["kind"], item["kind"])
    return sorted(items, key=lambda item: item["at"])


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
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
        "forwarding",
        "upstream_order_id",
        "needs_attention",
    )
    list_display_links = ("id", "created_at")
    list_filter = (
        "needs_attention",
        "status",
        ("forward_state", labelled_choices_filter(FORWARD_STATE_LABELS)),
        "provider",
        CustomerFilter,
        ServiceFilter,
        "source",
        "created_at",
    )
    # The search is get_search_results' (below): the same matches, through indexes.
    search_fields = ("=id", "=upstream_order_id", "link")
    list_select_related = ("user", "service", "provider")
    # No date_hierarchy: its year links read the date of every matching order (a full scan at
    # ten million); the created_at filter offers the usual periods.
    list_per_page = 50
    show_full_result_count = False
    # Page numbers from the planner's estimate above 10,000 matches (panel/pagination.py).
    paginator = EstimatedCountPaginator
    change_form_template = "backoffice/order_change_form.html"
    fieldsets = (
        (
            gettext_lazy("Order"),
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
        (gettext_lazy("Money"), {"fields": ("charge", "refunded", "cost_expected", "cost_actual")}),
        (
            gettext_lazy("Status"),
            {"fields": ("status", "start_count", "remains", "created_at", "completed_at", "settled_at")},
        ),
        (
            gettext_lazy("Forwarding"),
            {
                "fields": (
                    "forwarding",
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

    def get_search_results(self, request, queryset, search_term):
        """The admin's own search (each word: ID, or upstream ID ignoring case, or part of the
        link), written so each part can use an index: the ID as a number (the admin compares it
        as text, which no index serves), UPPER(upstream_order_id) and the link's trigram index."""
        terms = [term for term in smart_split(search_term or "") if term]
        for term in terms:
            term = unescape_string_literal(term) if term[0] in "\"'" and term[-1] == term[0] else term
            match = Q(upstream_order_id__iexact=term) | Q(link__icontains=term)
            if term.isascii() and term.isdigit() and str(int(term)) == term and int(term) < 2**63:
                match |= Q(pk=int(term))
            queryset = queryset.filter(match)
        return queryset, False

    def get_readonly_fields(self, request, obj=None):
        return [*(f.name for f in self.model._meta.fields), "forwarding"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Orders change only through the audited actions, never through the form.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("Customer"), ordering="user__username")
    def customer(self, obj):
        url = reverse("admin:accounts_user_change", args=[obj.user_id])
        return format_html('<a href="{}">{}</a>', url, obj.user.username)

    @admin.display(description=gettext_lazy("Service"), ordering="service_id")
    def service_short(self, obj):
        return format_html('<span title="{}">#{} {}</span>', obj.service.name, obj.service_id, obj.service.name[:28])

    @admin.display(description=gettext_lazy("Link"))
    def link_short(self, obj):
        return format_html('<span class="bo-link" title="{}">{}</span>', obj.link, obj.link[:40])

    @admin.display(description=gettext_lazy("Status"), ordering="status")
    def status_badge(self, obj):
        return format_html(
            '<span class="bo-badge bo-{}">{}</span>', obj.status.lower().replace(" ", "-"), obj.get_status_display()
        )

    @admin.display(description=gettext_lazy("forward state"), ordering="forward_state")
    def forwarding(self, obj):
        return forward_state_label(obj.forward_state)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        extra = {}
        if order is not None:
            extra = {
                "timeline": order_timeline(order),
                "staff_actions": order_actions_for(order, request.user),
                "order": order,
                "forward_state_label": forward_state_label(order.forward_state),
            }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})


class ReadOnlyRequestAdmin(ReadOnlyAdmin):
    """Refill and cancel requests are written by the engine and the retry action, never by forms."""

    def get_fields(self, request, obj=None):
        # The state as staff read it (state_shown, translated), not the model's English label.
        return ["state_shown" if name == "state" else name for name in super().get_fields(request, obj)]

    @admin.display(description=gettext_lazy("Order"))
    def order_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[obj.order_id]), obj.order_id
        )


@admin.register(Refill)
class RefillAdmin(ReadOnlyRequestAdmin):
    list_display = (
        "id",
        "created_at",
        "order_link",
        "user",
        "provider",
        "state_shown",
        "status",
        "upstream_refill_id",
        "error",
        "retry",
    )
    list_filter = (("state", labelled_choices_filter(REFILL_STATE_LABELS)), "status", "provider")
    search_fields = ("=id", "=order__id")
    list_select_related = ("user", "provider")

    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_shown(self, obj):
        return refill_state_label(obj.state)

    @admin.display(description="")
    def retry(self, obj):
        if obj.state == Refill.State.SENT:
            return ""
        return format_html(
            '<button class="button bo-post" data-url="{}">{}</button>',
            reverse("admin:bo_refill_retry", args=[obj.pk]),
            _("Retry"),
        )


@admin.register(CancelRequest)
class CancelRequestAdmin(ReadOnlyRequestAdmin):
    list_display = ("id", "created_at", "order_link", "user", "state_shown", "upstream_cancel_id", "error", "retry")
    list_filter = (("state", labelled_choices_filter(CANCEL_STATE_LABELS)),)
    list_select_related = ("user",)

    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_shown(self, obj):
        return cancel_state_label(obj.state)

    @admin.display(description="")
    def retry(self, obj):
        if obj.state not in (CancelRequest.State.QUEUED, CancelRequest.State.REJECTED):
            return ""
        return format_html(
            '<button class="button bo-post" data-url="{}">{}</button>',
            reverse("admin:bo_cancel_retry", args=[obj.pk]),
            _("Retry"),
        )


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(admin.ModelAdmin):
    list_display = ("created_at", "ok", "summary")
    readonly_fields = ("created_at", "ok", "summary", "data")

    # Reports are written by the reconciler only.
    def has_add_permission(self, request):
        return False


def _customer_orders(request, user) -> dict:
    return {"recent_orders": Order.objects.filter(user=user).select_related("service").order_by("-id")[:10]}


admin_extend("accounts.user", change_context=_customer_orders)

FULFILMENT_PERIODS = (7, 30, 90)


def _period_days(request) -> int:
    days = request.GET.get("days", "")
    return int(days) if days.isdigit() and int(days) in FULFILMENT_PERIODS else 30


def _service_fulfilment(request, service) -> dict:
    """The service page's figures: which provider fulfilled its orders, and failovers."""
    days = _period_days(request)
    fulfilment, failovers, unserved = service_fulfilment(
        service_id=service.pk, since=timezone.now() - timedelta(days=days)
    )
    return {
        "fulfilment_service": service,
        "fulfilment": fulfilment,
        "fulfilment_total": sum(row.orders for row in fulfilment),
        "fulfilment_money": request.user.has_perm(PERM_REPORTS),
        "failovers": failovers,
        "failover_total": sum(row.count for row in failovers),
        "failover_unserved": unserved,
        "fulfilment_days": days,
        "fulfilment_periods": FULFILMENT_PERIODS,
    }


admin_extend("catalog.service", change_context=_service_fulfilment)


def _provider_failovers(request, provider) -> dict:
    """The provider page's failovers: orders it refused that went elsewhere, orders it took."""
    days = _period_days(request)
    away, taken = provider_failovers(provider_id=provider.pk, since=timezone.now() - timedelta(days=days))
    return {
        "failover_provider": provider,
        "failovers_away": away,
        "failovers_taken": taken,
        "fulfilment_days": days,
        "fulfilment_periods": FULFILMENT_PERIODS,
    }


admin_extend("upstream.provider", change_context=_provider_failovers)
