"""The parent's staff and the child panels: the list of every panel with its figures through the
parent, a panel's page (terms editable, audited), suspend / resume / export / delete, the export's
download, and the plan new panels are sold on.

The registry lives in `public`, which a child's search path also reaches: these pages exist only
on the parent. backoffice.sites hides them (and the rest of the install's own models) from a
child's staff; the action pages below answer 404 there too.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, re_path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from panel.admin_tools import PERM_CUSTOMERS, PERM_MONEY, labelled_choices_filter
from panel.tenancy import is_child

# Acting on a panel (suspend, resume, export, delete, download its data) moves the owner's
# business and customers' data: the Admin role's money and customer permissions, like the other
# dangerous actions.
PERMS_ACT = (PERM_MONEY, PERM_CUSTOMERS)

STATUS_LABELS = {
    "pending": gettext_lazy("pending"),
    "active": gettext_lazy("active"),
    "suspended": gettext_lazy("suspended"),
    "deleted": gettext_lazy("deleted"),
}
REASON_LABELS = {
    "": gettext_lazy("none"),
    "unpaid": gettext_lazy("not paid"),
    "staff": gettext_lazy("by staff"),
}
TERM_LABELS = {
    "monthly_price": gettext_lazy("Monthly price"),
    "max_customers": gettext_lazy("Max customers"),
    "max_services": gettext_lazy("Max services"),
    "max_staff": gettext_lazy("Max staff users"),
    "paid_until": gettext_lazy("Paid until"),
}
NO_LIMIT = gettext_lazy("0: no limit.")


def _not_negative(value):
    if value is not None and value < 0:
        raise forms.ValidationError(gettext_lazy("The monthly price cannot be negative."))
    return value


class ReasonField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 500)
        kwargs.setdefault("label", gettext_lazy("Reason"))
        kwargs.setdefault("help_text", gettext_lazy("Kept in the audit log."))
        super().__init__(**kwargs)


class ActionForm(forms.Form):
    reason = ReasonField()


class DeleteForm(forms.Form):
    confirm_domain = forms.CharField(
        label=gettext_lazy("Type the panel's domain to confirm"), max_length=253, required=True
    )
    reason = ReasonField()


ACTIONS = {
    # action: (title, form, button)
    "suspend": (gettext_lazy("Suspend this child panel"), ActionForm, gettext_lazy("Suspend")),
    "resume": (gettext_lazy("Resume this child panel"), ActionForm, gettext_lazy("Resume")),
    "export": (gettext_lazy("Export this child panel's data"), None, gettext_lazy("Export")),
    "delete": (gettext_lazy("Delete this child panel"), DeleteForm, gettext_lazy("Delete for good")),
}


def _act_allowed(request) -> bool:
    return request.user.has_perms(PERMS_ACT)


if settings.TENANCY:
    from tenants.models import ChildPanelPlan, Panel, PanelStatus

    from . import lifecycle, selectors

    class PanelChangeList(ChangeList):
        """Figures through the parent for the whole page at once (childpanels.selectors), put
        on each row the list shows."""

        def get_results(self, request):
            super().get_results(request)
            rows = list(self.result_list)  # fills the queryset's cache: the rows rendered
            figures = selectors.panels_figures(rows)
            for panel in rows:
                panel.figures = figures.get(panel.pk, selectors.NO_FIGURES)

    class PanelTermsForm(forms.ModelForm):
        reason = ReasonField()

        def clean_monthly_price(self):
            return _not_negative(self.cleaned_data.get("monthly_price"))

        class Meta:
            model = Panel
            fields = ["monthly_price", "max_customers", "max_services", "max_staff", "paid_until"]
            labels = TERM_LABELS
            help_texts = {
                "max_customers": NO_LIMIT,
                "max_services": NO_LIMIT,
                "max_staff": NO_LIMIT,
                "paid_until": gettext_lazy("Extending it by hand gives the owner that time free."),
            }

    @admin.register(Panel)
    class PanelAdmin(admin.ModelAdmin):
        form = PanelTermsForm
        change_form_template = "admin/childpanels/panel_change_form.html"
        list_display = (
            "name",
            "owner_link",
            "domain_list",
            "status_label",
            "paid_until",
            "monthly_price",
            "orders",
            "revenue",
            "fees",
            "created_on",
        )
        list_display_links = ("name",)
        list_filter = (
            ("status", labelled_choices_filter(STATUS_LABELS)),
            ("suspended_reason", labelled_choices_filter(REASON_LABELS)),
        )
        search_fields = ("name", "schema_name", "domains__domain")
        ordering = ("-created", "-pk")
        list_per_page = 50
        readonly_fields = (
            "name",
            "schema_name",
            "owner_link",
            "domain_list",
            "status_label",
            "currency",
            "created",
            "exported_at",
            "deleted_at",
        )
        fieldsets = (
            (
                None,
                {"fields": ("name", "schema_name", "owner_link", "domain_list", "status_label", "currency", "created")},
            ),
            (gettext_lazy("Terms"), {"fields": ("monthly_price", "paid_until", "reason")}),
            (gettext_lazy("Limits"), {"fields": ("max_customers", "max_services", "max_staff")}),
            (gettext_lazy("Data"), {"fields": ("exported_at", "deleted_at")}),
        )

        def get_queryset(self, request):
            return super().get_queryset(request).prefetch_related("domains")

        def get_changelist(self, request, **kwargs):
            return PanelChangeList

        def get_search_results(self, request, queryset, search_term):
            found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
            owners = selectors.owner_ids_matching(search_term)
            if owners:
                found = found | queryset.filter(owner_id__in=owners)
            return found, may_have_duplicates

        # Panels are bought (childpanels.billing) or made with `create_child`; deleting is the
        # export-first action below, never the admin's own delete.
        def has_add_permission(self, request):
            return False

        def has_delete_permission(self, request, obj=None):
            return False

        def has_change_permission(self, request, obj=None):
            if obj is not None and obj.status == PanelStatus.DELETED:
                return False
            return super().has_change_permission(request, obj) and request.user.has_perm(PERM_MONEY)

        def save_model(self, request, obj, form, change):
            changed = {f: form.cleaned_data[f] for f in form.changed_data if f in lifecycle.TERM_FIELDS}
            try:
                lifecycle.panel_terms_change(
                    panel_id=obj.pk, actor_id=request.user.pk, reason=form.cleaned_data.get("reason", ""), **changed
                )
            except lifecycle.LifecycleError as exc:
                messages.error(request, str(exc))

        def log_change(self, request, obj, message):
            # The audit log (childpanel.terms) is the record of this change.
            return None

        @admin.display(description=gettext_lazy("Owner"))
        def owner_link(self, obj):
            if obj.owner_id is None:
                return "—"
            figures = getattr(obj, "figures", None)
            if figures is not None:
                username = figures.owner.username if figures.owner is not None else None
            else:
                username = User.objects.filter(pk=obj.owner_id).values_list("username", flat=True).first()
            label = username or f"#{obj.owner_id}"
            return format_html('<a href="{}">{}</a>', reverse("admin:accounts_user_change", args=[obj.owner_id]), label)

        @admin.display(description=gettext_lazy("Domains"))
        def domain_list(self, obj):
            domains = sorted(obj.domains.all(), key=lambda d: (not d.is_primary, d.domain))
            if not domains:
                return "—"
            return format_html_join(", ", "{}", ((d.domain,) for d in domains))

        @admin.display(description=gettext_lazy("Status"), ordering="status")
        def status_label(self, obj):
            label = STATUS_LABELS.get(obj.status, obj.status)
            if obj.status == PanelStatus.SUSPENDED and obj.suspended_reason:
                return format_html(
                    '<span class="cp-status cp-{}">{} ({})</span>',
                    obj.status,
                    label,
                    REASON_LABELS.get(obj.suspended_reason, obj.suspended_reason),
                )
            return format_html('<span class="cp-status cp-{}">{}</span>', obj.status, label)

        @admin.display(description=gettext_lazy("Created"), ordering="created")
        def created_on(self, obj):
            return timezone.localdate(obj.created)

        @admin.display(description=gettext_lazy("Orders"))
        def orders(self, obj):
            return obj.figures.orders

        @admin.display(description=gettext_lazy("Revenue"))
        def revenue(self, obj):
            return obj.figures.revenue

        @admin.display(description=gettext_lazy("Fees paid"))
        def fees(self, obj):
            return obj.figures.fees

        def get_urls(self):
            wrap = self.admin_site.admin_view
            return [
                path("<int:panel_id>/export.json.gz", wrap(self.download_view), name="childpanels_panel_download"),
                re_path(
                    r"^(?P<panel_id>[0-9]+)/(?P<action>" + "|".join(ACTIONS) + ")/$",
                    wrap(self.action_view),
                    name="childpanels_panel_action",
                ),
                *super().get_urls(),
            ]

        def _panel_for(self, request, panel_id: int):
            if is_child():
                raise Http404
            panel = get_object_or_404(Panel, pk=panel_id)
            if not self.has_view_permission(request, panel) or not _act_allowed(request):
                raise PermissionDenied
            return panel

        def change_view(self, request, object_id, form_url="", extra_context=None):
            extra = dict(extra_context or {})
            panel = Panel.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
            if panel is not None and not is_child():
                panel.figures = selectors.panels_figures([panel])[panel.pk]
                path_ = lifecycle.export_path(panel)
                extra.update(
                    panel=panel,
                    figures=panel.figures,
                    export_ready=path_ is not None,
                    export_size=path_.stat().st_size if path_ is not None else 0,
                    export_fresh=lifecycle.export_fresh(panel),
                    may_act=_act_allowed(request),
                    status_text=self.status_label(panel),
                    owner_html=self.owner_link(panel),
                    is_deleted=panel.status == PanelStatus.DELETED,
                    is_suspended=panel.status == PanelStatus.SUSPENDED,
                    is_active=panel.status == PanelStatus.ACTIVE,
                )
            return super().change_view(request, object_id, form_url, extra)

        def action_view(self, request, panel_id: str, action: str):
            if action not in ACTIONS:
                raise Http404
            panel = self._panel_for(request, int(panel_id))
            title, form_class, button = ACTIONS[action]
            back = reverse("admin:tenants_panel_change", args=[panel.pk])
            bound = request.POST if request.method == "POST" else None
            form = form_class(bound) if form_class is not None else None
            if request.method == "POST" and (form is None or form.is_valid()):
                data = form.cleaned_data if form is not None else {}
                try:
                    self._run(request, panel, action, data)
                except lifecycle.LifecycleError as exc:
                    messages.error(request, str(exc))
                else:
                    return HttpResponseRedirect(back)
            context = {
                **self.admin_site.each_context(request),
                "title": title,
                "panel": panel,
                "action": action,
                "form": form,
                "button": button,
                "back": back,
                "domain": lifecycle.primary_domain(panel),
                "export_fresh": lifecycle.export_fresh(panel),
                "opts": self.model._meta,
            }
            return TemplateResponse(request, "admin/childpanels/panel_action.html", context)

        def _run(self, request, panel, action: str, data: dict) -> None:
            actor = request.user.pk
            reason = data.get("reason", "")
            if action == "suspend":
                lifecycle.panel_suspend(panel_id=panel.pk, actor_id=actor, reason=reason)
                messages.success(request, _("The panel is suspended: its pages answer 503 and its API an error."))
            elif action == "resume":
                lifecycle.panel_resume(panel_id=panel.pk, actor_id=actor, reason=reason)
                messages.success(request, _("The panel is active again."))
            elif action == "export":
                lifecycle.panel_export_request(panel_id=panel.pk, actor_id=actor)
                messages.success(
                    request, _("The export has started; reload this page in a moment to download the file.")
                )
            elif action == "delete":
                lifecycle.panel_delete(
                    panel_id=panel.pk, actor_id=actor, confirm_domain=data["confirm_domain"], reason=reason
                )
                messages.success(request, _("The panel is deleted: its domains no longer answer and its data is gone."))

        def download_view(self, request, panel_id: int):
            panel = self._panel_for(request, panel_id)
            found = lifecycle.export_path(panel)
            if found is None:
                raise Http404
            lifecycle.export_downloaded(panel_id=panel.pk, actor_id=request.user.pk)
            response = FileResponse(
                found.open("rb"), as_attachment=True, filename=found.name, content_type="application/gzip"
            )
            response["Cache-Control"] = "private, no-store"
            response["X-Content-Type-Options"] = "nosniff"
            return response

    class PlanForm(forms.ModelForm):
        reason = ReasonField()

        def clean_monthly_price(self):
            return _not_negative(self.cleaned_data.get("monthly_price"))

        class Meta:
            model = ChildPanelPlan
            fields = list(lifecycle.PLAN_FIELDS)
            labels = {
                "selling": gettext_lazy("Sold to customers"),
                "warn_days": gettext_lazy("Warn days before renewal"),
                **{k: v for k, v in TERM_LABELS.items() if k != "paid_until"},
            }
            help_texts = {
                "selling": gettext_lazy("Off: the dashboard offers no child panels; panels bought keep running."),
                "monthly_price": gettext_lazy("For panels bought from now on; each panel keeps its own terms."),
                "max_customers": NO_LIMIT,
                "max_services": NO_LIMIT,
                "max_staff": NO_LIMIT,
            }

    @admin.register(ChildPanelPlan)
    class ChildPanelPlanAdmin(admin.ModelAdmin):
        """One row: the list goes straight to it."""

        form = PlanForm

        def changelist_view(self, request, extra_context=None):
            if not self.has_view_permission(request):
                raise PermissionDenied
            plan = ChildPanelPlan.current()
            return HttpResponseRedirect(reverse("admin:tenants_childpanelplan_change", args=[plan.pk]))

        def has_add_permission(self, request):
            return False

        def has_delete_permission(self, request, obj=None):
            return False

        def has_change_permission(self, request, obj=None):
            return super().has_change_permission(request, obj) and request.user.has_perm(PERM_MONEY)

        def save_model(self, request, obj, form, change):
            changed = {f: form.cleaned_data[f] for f in form.changed_data if f in lifecycle.PLAN_FIELDS}
            try:
                lifecycle.plan_change(actor_id=request.user.pk, reason=form.cleaned_data.get("reason", ""), **changed)
            except lifecycle.LifecycleError as exc:
                messages.error(request, str(exc))

        def log_change(self, request, obj, message):
            # The audit log (childpanel.plan) is the record of this change.
            return None
