"""Child panels a customer buys: their list, the order form, paying a suspended one."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from panel.tenancy import is_child

from .common import customer_view, parse_id

# The registry of panels (tenants) exists only on PostgreSQL; without it (the SQLite demo) these
# pages say child panels are not available, and nothing of the registry is imported.
if settings.TENANCY:
    from childpanels.billing import MAX_PANELS_PER_CUSTOMER, BuyError, NotEnoughFunds, panel_buy, panel_pay
    from childpanels.forms import ChildPanelForm
    from tenants.models import ChildPanelPlan, Domain, Panel, PanelStatus, SuspendedReason


def _available() -> bool:
    # Child panels are bought on the parent of an install with schemas (PostgreSQL).
    return settings.TENANCY and not is_child()


def _own_panels(user) -> list:
    panels = list(Panel.objects.filter(owner_id=user.pk).exclude(status=PanelStatus.DELETED).order_by("-created"))
    domains: dict[int, str] = {}
    for tenant_id, domain in (
        Domain.objects.filter(tenant__in=panels).order_by("-is_primary", "pk").values_list("tenant_id", "domain")
    ):
        domains.setdefault(tenant_id, domain)
    scheme = urlsplit(settings.PANEL_URL).scheme or "https"
    for panel in panels:
        panel.domain_name = domains.get(panel.pk, "")
        panel.url = f"{scheme}://{panel.domain_name}/" if panel.domain_name else ""
        panel.unpaid = panel.status == PanelStatus.SUSPENDED and panel.suspended_reason == SuspendedReason.UNPAID
        panel.by_staff = panel.status == PanelStatus.SUSPENDED and panel.suspended_reason == SuspendedReason.STAFF
    return panels


def _context(request, form, *, short: bool = False) -> dict:
    plan = ChildPanelPlan.current()
    panels = _own_panels(request.user)
    can_buy = plan.selling and len(panels) < MAX_PANELS_PER_CUSTOMER
    return {
        "plan": plan,
        "panels": panels,
        "pending": any(panel.status == PanelStatus.PENDING for panel in panels),
        "form": (form or ChildPanelForm()) if can_buy else None,
        "short": short,
        "at_most": MAX_PANELS_PER_CUSTOMER,
        "child_panel_domain": settings.CHILD_PANEL_DOMAIN,
    }


@customer_view
def child_panels(request):
    if not _available():
        return render(request, "dashboard/child_panels_unavailable.html", status=404)
    short = False
    form = None
    status = 200
    if request.method == "POST":
        form = ChildPanelForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                panel = panel_buy(
                    user_id=request.user.pk,
                    name=data["name"],
                    domain=data["domain"],
                    currency=data["currency"],
                    staff_username=data["staff_username"],
                    staff_email=data["staff_email"],
                    staff_password_hash=form.password_hash(),
                )
            except NotEnoughFunds as exc:
                short = True
                form.add_error(None, exc.message)
            except BuyError as exc:
                form.add_error(exc.field, exc.message)
            else:
                messages.success(
                    request,
                    _("Your child panel %(name)s is paid for and being prepared: it is ready in a minute.")
                    % {"name": panel.name},
                )
                return redirect("dashboard:child_panels")
        status = 400
    return render(request, "dashboard/child_panels.html", _context(request, form, short=short), status=status)


@customer_view
def child_panel_rows(request):
    """The list alone, which the page reloads every few seconds while a panel is being prepared."""
    if not _available():
        return render(request, "dashboard/child_panels_unavailable.html", status=404)
    return render(request, "dashboard/child_panel_rows.html", _context(request, None))


@customer_view
@require_POST
def child_panel_pay(request, pk):
    if not _available():
        return render(request, "dashboard/child_panels_unavailable.html", status=404)
    outcome = panel_pay(panel_id=parse_id(pk) or 0, user_id=request.user.pk)
    if outcome == "restored":
        messages.success(request, _("Paid: your child panel works again."))
    elif outcome == "short":
        messages.error(request, _("Your balance is too low to pay the next month: add funds first."))
    else:
        messages.info(request, _("This panel has nothing to pay."))
    return redirect("dashboard:child_panels")
