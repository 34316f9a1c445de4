"""Purpose-built staff pages where the admin's list/detail model does not fit.

Views are thin: they check the role's permission, show a confirmation form, and call one
function of backoffice.services, which does the work and writes the audit row.
"""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from accounts.models import User
from catalog.models import UpstreamService
from catalog.sync import known_type, sync_provider_unless_running
from orders.admin import forward_state_label
from orders.models import CancelRequest, Order, Refill, Status
from orders.settlement import refund_due
from panel.admin_tools import PERM_CATALOG, PERM_CUSTOMERS, PERM_MONEY, PERM_ORDERS, PERM_REPORTS
from panel.security import SpreadsheetSafeWriter, safe_next_url
from upstream.client import UpstreamError
from upstream.models import Provider
from upstream.services import failure_text, provider_client, provider_refresh_balance

from . import selectors, services
from .forms import (
    BalanceAdjustForm,
    ConfirmForm,
    ImportForm,
    MarkSentForm,
    MarkupForm,
    MoveForm,
    PartialForm,
    ReportForm,
    ResendForm,
    new_token,
)


def _require(request, *perms: str) -> None:
    if not request.user.has_perms(perms):
        raise PermissionDenied


def _render(request, template: str, title: str, **context) -> TemplateResponse:
    return TemplateResponse(request, template, {**admin.site.each_context(request), "title": title, **context})


def _run(request, call) -> services.Outcome | None:
    """Run a staff action, turning its outcome into a message; None when it was refused."""
    try:
        outcome = call()
    except services.ActionError as exc:
        messages.error(request, services.staff_text(exc))
        return None
    (messages.success if outcome.done else messages.info)(request, outcome.message)
    return outcome


# --- Orders --------------------------------------------------------------------------------------

ORDER_ACTIONS = {
    # action: (title, permissions, form class)
    "resend": (gettext_lazy("Resend to the provider"), (PERM_ORDERS,), ResendForm),
    "mark_sent": (gettext_lazy("Mark as sent"), (PERM_ORDERS,), MarkSentForm),
    "cancel": (gettext_lazy("Mark Canceled with a full refund"), (PERM_ORDERS, PERM_MONEY), ConfirmForm),
    "partial": (gettext_lazy("Mark Partial and refund the remains"), (PERM_ORDERS, PERM_MONEY), PartialForm),
    "complete": (gettext_lazy("Mark Completed"), (PERM_ORDERS,), ConfirmForm),
    "recheck": (gettext_lazy("Re-check the status now"), (PERM_ORDERS,), None),
    "move": (gettext_lazy("Move to another provider"), (PERM_ORDERS,), MoveForm),
}


def order_action(request, order_id: int, action: str):
    if action not in ORDER_ACTIONS:
        raise Http404
    title, perms, form_class = ORDER_ACTIONS[action]
    _require(request, *perms)
    order = get_object_or_404(Order.objects.select_related("user", "service", "provider"), pk=order_id)
    back = reverse("admin:orders_order_change", args=[order.pk])
    actor_id = request.user.pk
    kwargs = {"order": order} if action == "move" else {}
    if request.method != "POST" and action == "recheck":
        return HttpResponseRedirect(back)
    form = form_class(request.POST or None, **kwargs) if form_class else None
    preview = None
    if request.method == "POST" and (form is None or form.is_valid()):
        data = form.cleaned_data if form else {}
        if action == "partial" and "preview" in request.POST:
            # What marking it Partial with these remains refunds in total, shown before confirming.
            preview = refund_due(order, status=Status.PARTIAL, remains=min(data["remains"], order.units))
        else:
            calls = {
                "resend": lambda: services.order_resend(order_id=order.pk, actor_id=actor_id),
                "mark_sent": lambda: services.order_mark_sent(
                    order_id=order.pk, upstream_order_id=data["upstream_order_id"], actor_id=actor_id
                ),
                "cancel": lambda: services.order_mark_final(
                    order_id=order.pk, status=Status.CANCELED, actor_id=actor_id, reason=data["reason"]
                ),
                "partial": lambda: services.order_mark_final(
                    order_id=order.pk,
                    status=Status.PARTIAL,
                    actor_id=actor_id,
                    remains=data["remains"],
                    reason=data["reason"],
                ),
                "complete": lambda: services.order_mark_final(
                    order_id=order.pk, status=Status.COMPLETED, actor_id=actor_id, reason=data["reason"]
                ),
                "recheck": lambda: services.order_recheck_now(order_id=order.pk, actor_id=actor_id),
                "move": lambda: services.order_move(
                    order_id=order.pk, service_id=data["service"].pk, actor_id=actor_id
                ),
            }
            _run(request, calls[action])
            return HttpResponseRedirect(back)
    return _render(
        request,
        "backoffice/order_action.html",
        _("%(action)s: order %(id)s") % {"action": title, "id": order.pk},
        order=order,
        forward_state_label=forward_state_label(order.forward_state),
        action=action,
        form=form,
        preview=preview,
        full_refund=order.charge - order.refunded,
        back=back,
    )


@require_POST
def refill_retry(request, refill_id: int):
    _require(request, PERM_ORDERS)
    refill = get_object_or_404(Refill, pk=refill_id)
    _run(request, lambda: services.refill_retry(refill_id=refill.pk, actor_id=request.user.pk))
    return HttpResponseRedirect(reverse("admin:orders_refill_changelist"))


@require_POST
def cancel_retry(request, cancel_id: int):
    _require(request, PERM_ORDERS)
    cancel = get_object_or_404(CancelRequest, pk=cancel_id)
    _run(request, lambda: services.cancel_retry(cancel_id=cancel.pk, actor_id=request.user.pk))
    return HttpResponseRedirect(reverse("admin:orders_cancelrequest_changelist"))


# --- Customers -----------------------------------------------------------------------------------


def customer_action(request, user_id: int, action: str):
    user = get_object_or_404(User, pk=user_id)
    back = reverse("admin:accounts_user_change", args=[user.pk])
    actor_id = request.user.pk
    if action == "adjust":
        _require(request, PERM_MONEY)
        form = BalanceAdjustForm(request.POST or None, initial={"token": new_token()})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            outcome = _run(
                request,
                lambda: services.balance_adjust(
                    user_id=user.pk,
                    amount=data["amount"],
                    reason=data["reason"],
                    token=data["token"],
                    actor_id=actor_id,
                ),
            )
            if outcome is not None:
                return HttpResponseRedirect(back)
        return _render(
            request,
            "backoffice/customer_adjust.html",
            _("Adjust the balance of %(customer)s") % {"customer": user},
            customer=user,
            form=form,
            back=back,
        )
    if action in ("ban", "unban", "apikey"):
        _require(request, PERM_CUSTOMERS)
        if request.method != "POST":
            return HttpResponseRedirect(back)
        reason = request.POST.get("reason", "")[:500]
        if action == "apikey":
            try:
                outcome = services.customer_api_key_reset(user_id=user.pk, actor_id=actor_id)
            except services.ActionError as exc:
                messages.error(request, services.staff_text(exc))
                return HttpResponseRedirect(back)
            return _render(
                request,
                "backoffice/api_key.html",
                _("New API key for %(customer)s") % {"customer": user},
                customer=user,
                key=outcome.extra,
                back=back,
            )
        _run(
            request,
            lambda: services.customer_set_active(
                user_id=user.pk, active=action == "unban", actor_id=actor_id, reason=reason
            ),
        )
        return HttpResponseRedirect(back)
    raise Http404


# --- Providers and the catalog -------------------------------------------------------------------


def provider_action(request, provider_id: int, action: str):
    if not request.user.has_perm("upstream.change_provider"):
        raise PermissionDenied
    provider = get_object_or_404(Provider, pk=provider_id)
    back = safe_next_url(
        request, request.POST.get("next"), reverse("admin:upstream_provider_change", args=[provider.pk])
    )
    if request.method != "POST":
        return HttpResponseRedirect(back)
    if action == "test":
        try:
            result = provider_client(provider).balance()
        except UpstreamError as exc:
            messages.error(request, f"{provider.name}: {failure_text(exc)}")
        else:
            messages.success(
                request,
                _("%(provider)s: connected; balance %(balance)s %(currency)s.")
                % {"provider": provider.name, "balance": result.balance, "currency": result.currency},
            )
    elif action == "refresh":
        provider = provider_refresh_balance(provider_id=provider.pk)
        if provider.last_error:
            messages.error(request, f"{provider.name}: {provider.last_error}")
        else:
            level = messages.warning if provider.low_balance else messages.success
            level(
                request,
                _("%(provider)s: balance %(balance)s %(currency)s.")
                % {"provider": provider.name, "balance": provider.balance, "currency": provider.currency},
            )
    elif action == "sync":
        run = sync_provider_unless_running(provider_id=provider.pk)
        if run is None:
            messages.warning(request, _("%(provider)s: a sync is already running.") % {"provider": provider.name})
        elif run.ok:
            messages.success(
                request,
                _("%(provider)s: %(upstream)s upstream services, %(created)s imported, %(changes)s changes.")
                % {
                    "provider": provider.name,
                    "upstream": run.upstream_count,
                    "created": run.created,
                    "changes": run.changes,
                },
            )
        else:
            messages.error(
                request, _("%(provider)s: sync failed: %(error)s") % {"provider": provider.name, "error": run.error}
            )
    else:
        raise Http404
    return HttpResponseRedirect(back)


def import_services(request, provider_id: int):
    _require(request, PERM_CATALOG)
    provider = get_object_or_404(Provider, pk=provider_id)
    q = request.GET.get("q", "").strip()
    upstream_category = request.GET.get("category", "")
    rows = UpstreamService.objects.filter(provider=provider, present=True, services__isnull=True).order_by(
        "category", "name", "pk"
    )
    categories = list(rows.order_by("category").values_list("category", flat=True).distinct())
    if q:
        rows = rows.filter(Q(name__icontains=q) | Q(upstream_id=q))
    if upstream_category:
        rows = rows.filter(category=upstream_category)
    rows = [row for row in rows[:500] if known_type(row.type)]
    form = ImportForm(
        request.POST or None, upstream_choices=[(str(r.pk), r.name) for r in rows], initial={"enabled": True}
    )
    if request.method == "POST":
        # Choices are whatever the page listed; re-validate against this provider's unsold rows.
        form.fields["upstream"].choices = [
            (str(pk), str(pk))
            for pk in UpstreamService.objects.filter(provider=provider, present=True).values_list("pk", flat=True)
        ]
        if form.is_valid():
            data = form.cleaned_data
            outcome = _run(
                request,
                lambda: services.services_import(
                    provider_id=provider.pk,
                    upstream_ids=data["upstream"],
                    actor_id=request.user.pk,
                    category_id=data["category"].pk if data["category"] else None,
                    new_category=data["new_category"],
                    markup_percent=data["markup_percent"],
                    enabled=data["enabled"],
                ),
            )
            if outcome is not None and outcome.done:
                return HttpResponseRedirect(
                    reverse("admin:catalog_service_changelist") + f"?upstream__provider__id__exact={provider.pk}"
                )
    # "N selected" for every N the page can reach, in the reader's language and plural form: the
    # page's script shows the one for the boxes ticked.
    selected_texts = [
        ngettext("%(count)s selected", "%(count)s selected", count) % {"count": count} for count in range(len(rows) + 1)
    ]
    return _render(
        request,
        "backoffice/import.html",
        _("Import services from %(provider)s") % {"provider": provider.name},
        provider=provider,
        rows=rows,
        selected_texts=selected_texts,
        selected_texts_json=json.dumps(selected_texts, ensure_ascii=False),
        form=form,
        q=q,
        categories=categories,
        upstream_category=upstream_category,
        sold=provider.upstream_services.filter(services__isnull=False).distinct().count(),
    )


def services_markup(request):
    _require(request, PERM_CATALOG)
    ids = [int(i) for i in request.GET.get("ids", "").split(",") if i.isdigit()]
    if not ids:
        raise Http404
    form = MarkupForm(request.POST or None)
    back = reverse("admin:catalog_service_changelist")
    if request.method == "POST" and form.is_valid():
        markup = form.cleaned_data["markup_percent"]
        _run(
            request,
            lambda: services.services_set_markup(service_ids=ids, markup_percent=markup, actor_id=request.user.pk),
        )
        return HttpResponseRedirect(back)
    return _render(
        request,
        "backoffice/markup.html",
        ngettext("Set the markup of %(count)s service", "Set the markup of %(count)s services", len(ids))
        % {"count": len(ids)},
        form=form,
        count=len(ids),
        back=back,
    )


# --- Reports -------------------------------------------------------------------------------------


def _report_form(request) -> ReportForm:
    data = request.GET if "start" in request.GET else ReportForm.defaults()
    return ReportForm(data)


REPORT_ROWS = 500
# The report's headings per grouping (whole sentences: a language may inflect the grouping's name).
REPORT_TITLES = {
    "day": (gettext_lazy("Revenue, cost and profit by day"), gettext_lazy("By day")),
    "provider": (gettext_lazy("Revenue, cost and profit by provider"), gettext_lazy("By provider")),
    "service": (gettext_lazy("Revenue, cost and profit by service"), gettext_lazy("By service")),
    "customer": (gettext_lazy("Revenue, cost and profit by customer"), gettext_lazy("By customer")),
}


def reports(request):
    _require(request, PERM_REPORTS)
    form = _report_form(request)
    rows, count, chart, total = [], 0, None, None
    if form.is_valid():
        data = form.cleaned_data
        rows, count, total = selectors.report_page(data["start"], data["end"], data["by"], REPORT_ROWS)
        if data["by"] == "provider":
            # Manual orders have no provider: their row's label is the word, in the reader's language.
            for row in rows:
                if row.get("provider_id") is None:
                    row["label"] = _("Manual")
        shown = rows if data["by"] == "day" else rows[:15]
        chart = {
            "labels": [str(row["label"]) for row in shown],
            "revenue": [float(row["revenue"]) for row in shown],
            "cost": [float(row["cost"]) for row in shown],
            "profit": [float(row["profit"]) for row in shown],
            # The series' names, for the chart's legend.
            "names": {"revenue": _("Revenue"), "cost": _("Upstream cost"), "profit": _("Profit")},
        }
    by = form.data.get("by") if form.data.get("by") in REPORT_TITLES else "day"
    chart_title, table_title = REPORT_TITLES[by]
    return _render(
        request,
        "backoffice/reports.html",
        _("Reports"),
        form=form,
        # A page of a year by customer would be a table of every customer: the largest rows are
        # shown, the CSV has them all.
        rows=rows[:REPORT_ROWS],
        rows_hidden=max(count - REPORT_ROWS, 0),
        total=total,
        chart_json=json.dumps(chart) if chart else "",
        by_label=dict(form.fields["by"].choices)[by],
        chart_title=chart_title,
        table_title=table_title,
        query=request.GET.urlencode() or "&".join(f"{k}={v}" for k, v in ReportForm.defaults().items()),
    )


def reports_csv(request):
    _require(request, PERM_REPORTS)
    form = _report_form(request)
    if not form.is_valid():
        return HttpResponse(
            _("Bad period: %(errors)s") % {"errors": form.errors.as_text()}, status=400, content_type="text/plain"
        )
    data = form.cleaned_data
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="report-{data["by"]}-{data["start"]}-{data["end"]}.csv"'
    writer = SpreadsheetSafeWriter(response)
    writer.writerow([data["by"], "orders", "revenue", "cost", "profit"])
    for row in selectors.report(data["start"], data["end"], data["by"]):
        writer.writerow([row["label"], row["orders"], row["revenue"], row["cost"], row["profit"]])
    return response
