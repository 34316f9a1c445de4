"""The manual queue: orders of manual services, and their refill and cancel requests, for staff
to fulfil. Thin views: they check the role's permission, parse the form and call one function
of orders.manual, which changes the order, settles it and writes the audit row."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from catalog.models import Service
from orders import manual
from orders.admin import cancel_state_label
from orders.models import ACTIVE_STATUSES, FINAL_STATUSES, ForwardState, Order, Status
from orders.settlement import refund_due
from orders.staff import ActionError
from panel.admin_tools import PERM_MONEY, PERM_ORDERS

from .services import staff_text
from .views import _render

PER_PAGE = 50
# The statuses the queue filters on: the open ones by default, or any.
QUEUE_STATUSES = (*ACTIVE_STATUSES, *FINAL_STATUSES)
# The order's parameters shown as typed, in this order (what a manual service may be sold with).
PARAM_LABELS = {
    "comments": _("Comments"),
    "usernames": _("Usernames"),
    "username": _("Username"),
    "hashtags": _("Hashtags"),
    "hashtag": _("Hashtag"),
    "keywords": _("Keywords"),
    "media": _("Media"),
    "answer_number": _("Answer number"),
    "groups": _("Groups"),
    "min": _("Min"),
    "max": _("Max"),
    "posts": _("Posts"),
    "old_posts": _("Old posts"),
    "delay": _("Delay"),
    "expiry": _("Expiry"),
    "country": _("Country"),
    "device": _("Device"),
    "type_of_traffic": _("Type of traffic"),
    "google_keyword": _("Google keyword"),
    "referring_url": _("Referring URL"),
}


def _require_view(request) -> None:
    if not request.user.has_perm("orders.view_order"):
        raise PermissionDenied


def order_params(order: Order) -> list[tuple[str, str]]:
    """The order's type-specific parameters as the customer typed them (templates escape them)."""
    params = order.params or {}
    shown = [
        (str(PARAM_LABELS[name]), str(params[name])) for name in PARAM_LABELS if params.get(name) not in (None, "")
    ]
    shown += [(name, str(value)) for name, value in params.items() if name not in PARAM_LABELS]
    return shown


class ManualUpdateForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[("", _("(unchanged)"))] + [(s, Status(s).label) for s in manual.SETTABLE_STATUSES],
        required=False,
    )
    start_count = forms.IntegerField(label=_("Start count"), min_value=0, required=False)
    remains = forms.IntegerField(label=_("Remains"), min_value=0, required=False)
    reason = forms.CharField(label=_("Note"), max_length=500, required=False)
    version = forms.CharField(widget=forms.HiddenInput, max_length=32)


def queue(request):
    """Manual orders, oldest first, filterable by service, status and customer."""
    _require_view(request)
    orders = Order.objects.filter(forward_state=ForwardState.MANUAL).select_related("user", "service", "claimed_by")
    status = request.GET.get("status", "open")
    if status in QUEUE_STATUSES:
        orders = orders.filter(status=status)
    elif status != "all":
        status = "open"
        orders = orders.filter(status__in=ACTIVE_STATUSES)
    service = request.GET.get("service", "").strip()
    if service.isdigit() and len(service) < 12:
        orders = orders.filter(service_id=int(service))
    customer = "".join(ch for ch in request.GET.get("customer", "") if ch.isprintable()).strip()[:150]
    if customer:
        orders = orders.filter(Q(user__username__icontains=customer) | Q(user__email__icontains=customer))
    taken = request.GET.get("taken", "")
    now = timezone.now()
    if taken == "mine":
        orders = orders.filter(claimed_by=request.user, claimed_until__gt=now)
    elif taken == "free":
        orders = orders.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
    page_number = request.GET.get("page", "1")
    page = Paginator(orders.order_by("id"), PER_PAGE).get_page(page_number if page_number.isdigit() else 1)
    for order in page:
        order.shown_params = order_params(order)
        order.taken_live = manual.claim_live(order, now)
    return _render(
        request,
        "backoffice/manual_queue.html",
        gettext("Manual queue"),
        page=page,
        status=status,
        statuses=[(s, Status(s).label) for s in QUEUE_STATUSES],
        service=service,
        customer=customer,
        taken=taken,
        services=Service.objects.filter(manual=True).order_by("name").only("id", "name"),
        refills=manual.manual_refills().select_related("order__service", "user")[:100],
        cancels=manual.manual_cancels().select_related("order__service", "user")[:100],
        can_act=request.user.has_perm(PERM_ORDERS),
        can_refund=request.user.has_perms((PERM_ORDERS, PERM_MONEY)),
    )


def order_page(request, order_id: int):
    """One manual order: what the customer typed, take it, set progress, end it."""
    _require_view(request)
    order = get_object_or_404(
        Order.objects.select_related("user", "service", "claimed_by"), pk=order_id, forward_state=ForwardState.MANUAL
    )
    form = ManualUpdateForm(initial={"version": manual.order_version(order)})
    if request.method == "POST":
        if not request.user.has_perm(PERM_ORDERS):
            raise PermissionDenied
        form = ManualUpdateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            status = data["status"] or None
            if status in (Status.PARTIAL, Status.CANCELED) and not request.user.has_perm(PERM_MONEY):
                raise PermissionDenied
            try:
                order, refunded = manual.manual_update(
                    order_id=order.pk,
                    actor_id=request.user.pk,
                    version=data["version"],
                    status=status,
                    start_count=data["start_count"],
                    remains=data["remains"],
                    reason=data["reason"],
                )
            except ActionError as exc:
                messages.error(request, staff_text(exc))
            else:
                values = {"id": order.pk, "status": order.get_status_display(), "amount": refunded}
                if refunded:
                    message = gettext("Order %(id)s saved: %(status)s. Refunded %(amount)s.") % values
                else:
                    message = gettext("Order %(id)s saved: %(status)s.") % values
                messages.success(request, message)
                return HttpResponseRedirect(reverse("admin:bo_manual_order", args=[order.pk]))
    return _render(
        request,
        "backoffice/manual_order.html",
        gettext("Manual order %(id)s") % {"id": order.pk},
        order=order,
        params=order_params(order),
        form=form,
        taken_live=manual.claim_live(order),
        can_act=request.user.has_perm(PERM_ORDERS),
        can_refund=request.user.has_perms((PERM_ORDERS, PERM_MONEY)),
        full_refund=order.charge - order.refunded,
        partial_example=refund_due(order, status=Status.PARTIAL, remains=order.remains) if order.remains else None,
        open_refills=order.refills.filter(state="manual").order_by("-id"),
        open_cancels=order.cancels.filter(state="manual").order_by("-id"),
    )


@require_POST
def take(request, order_id: int, action: str):
    """Take (claim) or give back an order."""
    if not request.user.has_perm(PERM_ORDERS):
        raise PermissionDenied
    if action not in ("take", "release"):
        raise Http404
    get_object_or_404(Order, pk=order_id, forward_state=ForwardState.MANUAL)
    try:
        if action == "take":
            manual.manual_take(order_id=order_id, actor_id=request.user.pk)
            messages.success(request, gettext("Order %(id)s is yours for 10 minutes.") % {"id": order_id})
        else:
            manual.manual_release(order_id=order_id, actor_id=request.user.pk)
            messages.info(request, gettext("Order %(id)s is back in the queue.") % {"id": order_id})
    except ActionError as exc:
        messages.error(request, staff_text(exc))
    return HttpResponseRedirect(reverse("admin:bo_manual_order", args=[order_id]))


@require_POST
def refill_resolve(request, refill_id: int, outcome: str):
    if not request.user.has_perm(PERM_ORDERS):
        raise PermissionDenied
    try:
        refill = manual.manual_refill_resolve(
            refill_id=refill_id, actor_id=request.user.pk, outcome=outcome, reason=request.POST.get("reason", "")[:500]
        )
        messages.success(
            request, gettext("Refill %(id)s: %(status)s.") % {"id": refill.pk, "status": refill.get_status_display()}
        )
    except ActionError as exc:
        messages.error(request, staff_text(exc))
    return HttpResponseRedirect(reverse("admin:bo_manual_queue"))


@require_POST
def cancel_resolve(request, cancel_id: int, outcome: str):
    if outcome not in ("accept", "refuse"):
        raise Http404
    needed = (PERM_ORDERS, PERM_MONEY) if outcome == "accept" else (PERM_ORDERS,)
    if not request.user.has_perms(needed):
        raise PermissionDenied
    try:
        cancel, refunded = manual.manual_cancel_resolve(
            cancel_id=cancel_id,
            actor_id=request.user.pk,
            accept=outcome == "accept",
            reason=request.POST.get("reason", "")[:500],
        )
        values = {"id": cancel.pk, "state": cancel_state_label(cancel.state), "amount": refunded}
        if refunded:
            message = gettext("Cancel %(id)s: %(state)s. Refunded %(amount)s.") % values
        else:
            message = gettext("Cancel %(id)s: %(state)s.") % values
        messages.success(request, message)
    except ActionError as exc:
        messages.error(request, staff_text(exc))
    return HttpResponseRedirect(reverse("admin:bo_manual_queue"))
