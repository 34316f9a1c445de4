"""Staff pages: bulk service edit, maintenance mode, signing in as a customer."""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST
from hijack.views import AcquireUserView

from catalog.bulk import services_bulk_edit
from catalog.models import Category, Service
from catalog.services import UNSET, ServiceRefused
from panel.admin_tools import PERM_CATALOG

from .site_mode import MAINTENANCE_MAX_LENGTH, PERM_MAINTENANCE, PERM_SIGN_IN_AS, maintenance_set, maintenance_state
from .views import _render, _require

MAX_BULK = 1000
KEEP = ""


class BulkEditForm(forms.Form):
    category = forms.ModelChoiceField(
        label=gettext_lazy("Category"),
        queryset=Category.objects.all(),
        required=False,
        empty_label=gettext_lazy("(keep each service's)"),
    )
    price = forms.ChoiceField(
        label=gettext_lazy("Price"),
        choices=[
            (KEEP, gettext_lazy("Keep each service's price rule")),
            ("markup", gettext_lazy("Set this markup %")),
            ("fixed", gettext_lazy("Set this fixed rate per 1,000")),
            ("rules", gettext_lazy("Back to the rules (no markup or fixed rate of their own)")),
        ],
        required=False,
    )
    markup_percent = forms.DecimalField(
        label=gettext_lazy("Markup percent"), required=False, min_value=Decimal("0"), max_digits=7, decimal_places=2
    )
    fixed_rate = forms.DecimalField(
        label=gettext_lazy("Fixed rate"), required=False, min_value=Decimal("0"), max_digits=18, decimal_places=5
    )
    min = forms.IntegerField(
        label=gettext_lazy("Min"),
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text=gettext_lazy("Empty: keep each one's."),
    )
    max = forms.IntegerField(
        label=gettext_lazy("Max"),
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text=gettext_lazy("Empty: keep each one's."),
    )
    enabled = forms.ChoiceField(
        label=gettext_lazy("Enabled"),
        choices=[
            (KEEP, gettext_lazy("Keep each one's")),
            ("on", gettext_lazy("Enable")),
            ("off", gettext_lazy("Disable")),
        ],
        required=False,
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        required=False,
        max_length=500,
        help_text=gettext_lazy("Recorded in the audit log."),
    )

    def clean(self):
        data = super().clean()
        price = data.get("price")
        if price == "markup" and data.get("markup_percent") is None:
            self.add_error("markup_percent", _("Enter the markup."))
        if price == "fixed" and data.get("fixed_rate") is None:
            self.add_error("fixed_rate", _("Enter the rate."))
        low, high = data.get("min"), data.get("max")
        if low is not None and high is not None and low > high:
            self.add_error("max", _("Max must not be below min."))
        return data

    def changes(self) -> dict:
        data = self.cleaned_data
        changes = {}
        if data.get("category"):
            changes["category_id"] = data["category"].pk
        if data.get("price") == "markup":
            changes["markup_percent"] = data["markup_percent"]
        elif data.get("price") == "fixed":
            changes["fixed_rate"] = data["fixed_rate"]
        elif data.get("price") == "rules":
            changes["markup_percent"] = None
        if data.get("min") is not None:
            changes["min_quantity"] = data["min"]
        if data.get("max") is not None:
            changes["max_quantity"] = data["max"]
        if data.get("enabled") in ("on", "off"):
            changes["enabled"] = data["enabled"] == "on"
        return changes


def _ids(raw: str) -> list[int]:
    ids = [int(part) for part in raw.split(",") if part.isdigit() and len(part) < 19]
    return ids[:MAX_BULK]


def bulk_edit(request):
    _require(request, PERM_CATALOG)
    ids = _ids(request.GET.get("ids", ""))
    services = list(Service.objects.filter(pk__in=ids).select_related("category").order_by("pk"))
    if not services:
        raise Http404
    back = reverse("admin:catalog_service_changelist")
    form = BulkEditForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        if not changes:
            messages.info(request, _("Nothing to change."))
        else:
            try:
                changed = services_bulk_edit(
                    service_ids=[s.pk for s in services],
                    actor_id=request.user.pk,
                    reason=form.cleaned_data["reason"],
                    **{"markup_percent": UNSET, "fixed_rate": UNSET, **changes},
                )
            except ServiceRefused as exc:
                messages.error(request, _("Nothing was changed. %(reason)s") % {"reason": exc})
            else:
                messages.success(
                    request,
                    ngettext(
                        "%(changed)s of %(count)s service changed.",
                        "%(changed)s of %(count)s services changed.",
                        len(services),
                    )
                    % {"changed": changed, "count": len(services)},
                )
                return HttpResponseRedirect(back)
    return _render(
        request,
        "backoffice/bulk_edit.html",
        ngettext("Edit %(count)s service", "Edit %(count)s services", len(services)) % {"count": len(services)},
        form=form,
        services=services,
        back=back,
    )


class MaintenanceForm(forms.Form):
    enabled = forms.BooleanField(required=False, label=gettext_lazy("Maintenance mode on"))
    message = forms.CharField(
        label=gettext_lazy("Message"),
        required=False,
        max_length=MAINTENANCE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 70}),
        help_text=gettext_lazy("What visitors, customers and API clients see. Empty: a standard message."),
    )


def maintenance(request):
    _require(request, PERM_MAINTENANCE)
    enabled, message = maintenance_state(fresh=True)
    form = MaintenanceForm(request.POST or None, initial={"enabled": enabled, "message": message})
    if request.method == "POST" and form.is_valid():
        maintenance_set(
            actor_id=request.user.pk, enabled=form.cleaned_data["enabled"], message=form.cleaned_data["message"]
        )
        if form.cleaned_data["enabled"]:
            messages.warning(
                request, _("Maintenance mode is ON: customers and the API get the message; staff work on.")
            )
        else:
            messages.success(request, _("Maintenance mode is off."))
        return HttpResponseRedirect(reverse("admin:bo_maintenance"))
    return _render(request, "backoffice/maintenance.html", _("Maintenance mode"), form=form, enabled=enabled)


@require_POST
def sign_in_as(request):
    """Start working as a customer (django-hijack's view, behind the backoffice's login and
    two-factor check); the permission check and the audit row are backoffice.site_mode's."""
    if not request.user.has_perm(PERM_SIGN_IN_AS):
        raise PermissionDenied
    return AcquireUserView.as_view()(request)
