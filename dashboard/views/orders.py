"""New order (with a live quote), mass order, the orders list with live statuses, refills."""

from django.contrib import messages
from django.db.models import Exists, OuterRef, Q
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from catalog.favourites import favourite_ids
from catalog.models import Category, Service, ServiceType
from catalog.pricing import FLAT_TYPES, quote
from catalog.selectors import sellable_services, text_matches
from orders.cancels import cancel_error, cancel_request, cancels_open
from orders.errors import OrderError
from orders.models import ACTIVE_STATUSES, Order, Refill, Source, Status
from orders.placement import order_place
from orders.refills import refill_order_error, refill_request, refills_blocking
from orders.validation import MAX_RUNS, MAX_TEXT
from panel.pagination import keyset_page
from panel.security import safe_next_url
from upstream.lines import LineError, split_lines

from ..forms import MassOrderForm, OrderFilterForm, OrderForm, supports_dripfeed
from ..templatetags.labels import STATUS_LABELS
from .common import MAX_PAGE, PAGE_SIZE, bounded, customer_view, paginate, parse_id, search_text, whole

STATUS_TABS = [
    ("", gettext_lazy("All")),
    *(
        (status, STATUS_LABELS[status])
        for status in (
            Status.PENDING,
            Status.IN_PROGRESS,
            Status.PROCESSING,
            Status.COMPLETED,
            Status.PARTIAL,
            Status.CANCELED,
        )
    ),
]
LINE_COUNTED = {
    ServiceType.CUSTOM_COMMENTS: "comments",
    ServiceType.CUSTOM_COMMENTS_PACKAGE: "comments",
    ServiceType.MENTIONS_CUSTOM_LIST: "usernames",
}
# Subscriptions: how many future posts a quote is worked out for; the order engine has the
# final word on the limit, this only keeps the arithmetic of a live quote sane.
MAX_QUOTED_POSTS = 100_000


def _service_or_none(raw) -> Service | None:
    pk = parse_id(raw)
    if pk is None:
        return None
    return sellable_services().filter(pk=pk).first()


# The category picker's entry for the customer's starred services.
FAVOURITES = "favourites"


def _services_for(category_id: int | str | None, q: str, user_id: int | None = None):
    """The services of a category (or the customer's favourites), or those matching a search
    (by name or ID)."""
    services = sellable_services()
    q = search_text(q)
    if q:
        match = text_matches(q)
        pk = parse_id(q)
        if pk is not None:
            match |= Q(pk=pk)
        return services.filter(match)[:200]
    if category_id == FAVOURITES:
        return services.filter(pk__in=favourite_ids(user_id))
    if category_id:
        return services.filter(category_id=category_id)
    return services.none()


def _category_pick(raw) -> int | str | None:
    """A category ID, or FAVOURITES, as the category picker sends it."""
    return FAVOURITES if raw == FAVOURITES else parse_id(raw)


def _categories():
    return Category.objects.with_sellable_services()


def _service_context(request, service: Service | None, form: OrderForm | None = None) -> dict:
    if service is None:
        return {"service": None, "form": None}
    form = form or OrderForm(service=service)
    price = quote(service, request.user, quantity=service.min)
    return {
        "service": service,
        "form": form,
        "starred": service.pk in favourite_ids(request.user.pk),
        "rate": price.rate,
        "flat": service.type in FLAT_TYPES,
        "dripfeed": supports_dripfeed(service),
        "quote_html": _quote_context(request, service, form.data if form.is_bound else form.initial),
    }


@customer_view
def order_new(request):
    placed = None
    service = _service_or_none(request.POST.get("service") if request.method == "POST" else request.GET.get("service"))
    form = None
    if request.method == "POST":
        if service is None:
            messages.error(request, _("Choose a service."))
            return redirect("dashboard:order_new")
        form = OrderForm(request.POST, service=service)
        if form.is_valid():
            try:
                result = order_place(
                    user=request.user,
                    service_id=service.pk,
                    data=form.order_data(),
                    source=Source.WEB,
                    idempotency_key="web:" + form.cleaned_data["idempotency_key"],
                )
            except OrderError as exc:
                form.add_error(form.shown_field(exc.field), exc.translated())
            else:
                return redirect(f"{reverse('dashboard:order_new')}?service={service.pk}&placed={result.order.pk}")
    placed_id = parse_id(request.GET.get("placed"))
    if placed_id is not None:
        placed = Order.objects.filter(user=request.user, pk=placed_id).select_related("service").first()
    category_id = service.category_id if service else _category_pick(request.GET.get("category"))
    categories = list(_categories())
    if not service and (category_id == FAVOURITES or (not category_id and categories)):
        category_id = category_id or categories[0].pk
        service = _services_for(category_id, "", request.user.pk).first()
    context = {
        "categories": categories,
        "category_id": category_id,
        "has_favourites": bool(favourite_ids(request.user.pk)),
        "services": _services_for(category_id, "", request.user.pk),
        "placed": placed,
        **_service_context(request, service, form),
    }
    return render(request, "dashboard/order_new.html", context)


@require_GET
@customer_view
def order_services(request):
    """The service picker for a category or a search, plus the first service's form (out of band)."""
    category = _category_pick(request.GET.get("category"))
    services = list(_services_for(category, request.GET.get("q", ""), request.user.pk))
    service = services[0] if services else None
    context = {"services": services, "oob": True, **_service_context(request, service)}
    return render(request, "dashboard/partials/service_picker.html", context)


@require_GET
@customer_view
def order_service_form(request):
    service = _service_or_none(request.GET.get("service_pick") or request.GET.get("service"))
    return render(request, "dashboard/partials/order_fields.html", _service_context(request, service))


class NoQuote(Exception):
    """What has been typed cannot be priced (yet): the quote shows no charge."""


def _estimate_units(service: Service, data) -> tuple[int | None, int | None]:
    """Quantity and runs as placement would charge them, from what has been typed so far.

    (None, None) while there is nothing to price yet. Counted lists are split by
    upstream.lines, as placement splits them; a list placement would refuse raises LineError,
    numbers no order could have raise NoQuote.
    """
    if service.type in FLAT_TYPES:
        return 1, None
    if service.type in LINE_COUNTED:
        name = LINE_COUNTED[service.type]
        text = str(data.get(name) or "")
        if len(text) > MAX_TEXT:
            raise NoQuote
        return len(split_lines(text, label=name.capitalize())) or None, None
    if service.type == ServiceType.SUBSCRIPTIONS:
        high, posts, old = whole(data.get("max")), whole(data.get("posts")), whole(data.get("old_posts"))
        if high is None or posts is None:
            return None, None
        if not 1 <= posts <= MAX_QUOTED_POSTS or (old is not None and not 0 <= old <= MAX_QUOTED_POSTS):
            raise NoQuote
        return high, posts + (old or 0)
    quantity = whole(data.get("quantity"))
    runs = None
    if data.get("dripfeed") and supports_dripfeed(service) and str(data.get("runs") or "").strip():
        runs = bounded(data.get("runs"), low=2, high=MAX_RUNS)
        if runs is None:
            raise NoQuote
    return quantity, runs


def _quote_context(request, service: Service, data) -> dict:
    """The live quote: the charge placement would make for what has been typed, or why there is none."""
    context = {"service": service, "quantity": None, "runs": None, "balance": request.user.balance}
    try:
        quantity, runs = _estimate_units(service, data)
    except LineError as exc:
        context["error"] = exc.translated()
        return context
    except NoQuote:
        return context
    context.update(quantity=quantity, runs=runs)
    if quantity is None:
        return context
    # Out of range is said, not priced: no absurd number reaches the price function.
    if service.type not in FLAT_TYPES and not service.min <= quantity <= service.max:
        context["out_of_range"] = True
        return context
    price = quote(service, request.user, quantity=quantity, runs=runs)
    context.update(
        price=price,
        short=price.charge > request.user.balance,
        balance_after=request.user.balance - price.charge,
    )
    return context


@require_GET
@customer_view
def order_quote(request):
    service = _service_or_none(request.GET.get("service"))
    if service is None:
        return HttpResponse("")
    return render(request, "dashboard/partials/quote.html", {"q": _quote_context(request, service, request.GET)})


@customer_view
def order_mass(request):
    results = None
    if request.method == "POST":
        form = MassOrderForm(request.POST)
        if form.is_valid():
            results = _place_lines(request.user, form.cleaned_data["orders"], form.cleaned_data["idempotency_key"])
            request.user.refresh_from_db(fields=["balance"])
            form = MassOrderForm()
    else:
        form = MassOrderForm()
    summary = None
    if results is not None:
        placed = [r for r in results if r["order"]]
        summary = {
            "placed": len(placed),
            "rejected": len(results) - len(placed),
            "charged": sum((r["order"].charge for r in placed if r["created"]), start=0),
        }
    return render(request, "dashboard/order_mass.html", {"form": form, "results": results, "summary": summary})


def _place_lines(user, lines: list[str], form_key: str) -> list[dict]:
    results = []
    for number, line in enumerate(lines, start=1):
        parts = [part.strip() for part in line.split("|")]
        row = {"line": number, "text": line.strip(), "order": None, "created": False, "error": None}
        if len(parts) != 3:
            row["error"] = _("Use the format: service ID | link | quantity")
        else:
            service_id, link, quantity = parts
            try:
                # One key per line of this form: submitting the same form twice places nothing new.
                placed = order_place(
                    user=user,
                    service_id=service_id,
                    data={"link": link, "quantity": quantity},
                    source=Source.MASS,
                    idempotency_key=f"mass:{form_key}:{number}",
                )
            except OrderError as exc:
                row["error"] = exc.translated()
            else:
                row["order"], row["created"] = placed.order, placed.created
        results.append(row)
    return results


def order_filters(request):
    """The customer's orders narrowed by the list's filters (status tab, ID or part of a link,
    service, dates): the list, its live rows and the CSV export read the same ones."""
    form = OrderFilterForm(request.GET or None)
    orders = Order.objects.filter(user=request.user).select_related("service")
    status = request.GET.get("status", "")
    if status not in Status.values:
        status = ""
    if status:
        orders = orders.filter(status=status)
    if form.is_valid():
        if form.cleaned_data["service"]:
            orders = orders.filter(service_id=form.cleaned_data["service"])
        q = form.cleaned_data["q"].strip()
        if q:
            # A number is an order ID when the customer has that order; otherwise part of a link.
            pk = parse_id(q.lstrip("#"))
            if pk is not None and orders.filter(pk=pk).exists():
                orders = orders.filter(pk=pk)
            else:
                orders = orders.filter(link__icontains=q)
        if form.cleaned_data["date_from"]:
            orders = orders.filter(created_at__date__gte=form.cleaned_data["date_from"])
        if form.cleaned_data["date_to"]:
            orders = orders.filter(created_at__date__lte=form.cleaned_data["date_to"])
    return form, orders, status


def annotate_actions(orders) -> None:
    """Which buttons each row gets: refill and cancel only where the order allows them, by the
    rules refill_request and cancel_request apply (so a click never only answers an error)."""
    now = timezone.now()
    for order in orders:
        order.can_refill = refill_order_error(order, now) is None
        order.can_cancel = cancel_error(order) is None
    blocked_refills = refills_blocking([o.pk for o in orders if o.can_refill], now)
    open_cancels = cancels_open([o.pk for o in orders if o.can_cancel])
    for order in orders:
        order.can_refill = order.can_refill and order.pk not in blocked_refills
        order.can_cancel = order.can_cancel and order.pk not in open_cancels


def ordered_services(user_id: int):
    """The services a customer has ordered, for the orders list's service filter."""
    # One probe of the (user, service, link) index per service, not a read of all their orders.
    ordered = Order.objects.filter(user_id=user_id, service_id=OuterRef("pk"))
    return Service.objects.filter(Exists(ordered)).only("pk", "name")


def _orders_context(request) -> dict:
    form, orders, status = order_filters(request)
    # By ID from the row last shown (Next / Previous carry it), so deep pages of a customer with
    # a million orders cost what the first does; counts above 10,000 are the planner's estimate.
    page = keyset_page(
        orders,
        size=PAGE_SIZE,
        number=bounded(request.GET.get("page"), low=1, high=MAX_PAGE) or 1,
        before=parse_id(request.GET.get("before")),
        after=parse_id(request.GET.get("after")),
    )
    annotate_actions(page.object_list)
    return {
        "filter_form": form,
        "page": page,
        "status": status,
        "tabs": STATUS_TABS,
        "live": any(o.status in ACTIVE_STATUSES for o in page.object_list),
        "services": ordered_services(request.user.pk),
    }


@customer_view
def order_list(request):
    return render(request, "dashboard/orders.html", _orders_context(request))


@require_GET
@customer_view
def order_rows(request):
    """The polled part of the orders list: the rows of the current page."""
    return render(request, "dashboard/partials/order_rows.html", _orders_context(request))


def _action_response(request, order_id: int, outcome, done: str):
    if outcome.error:
        # The refusal is the protocol's English text (orders.errors): shown in the customer's language.
        level, text = messages.ERROR, _(outcome.error)
    else:
        level, text = messages.SUCCESS, done
    if request.htmx:
        order = Order.objects.select_related("service").get(pk=order_id)
        annotate_actions([order])
        return render(
            request,
            "dashboard/partials/order_action.html",
            {"o": order, "toast": text, "toast_level": "error" if outcome.error else "success"},
        )
    messages.add_message(request, level, text)
    # Back to the page the button was on: a path on this site (the pages send request.path).
    # HttpResponseRedirect, not redirect(): that one would take a bare word for a view name.
    back = request.POST.get("next") or ""
    return HttpResponseRedirect(
        safe_next_url(request, back if back.startswith("/") else None, reverse("dashboard:orders"))
    )


def _own_order(request, pk: int) -> Order:
    return get_object_or_404(Order, pk=pk, user=request.user)


@require_POST
@customer_view
def order_refill(request, pk: int):
    order = _own_order(request, pk)
    outcome = refill_request(user_id=request.user.pk, order_ids=[order.pk])[0]
    return _action_response(request, order.pk, outcome, _("Refill requested for order %(id)s.") % {"id": order.pk})


@require_POST
@customer_view
def order_cancel(request, pk: int):
    order = _own_order(request, pk)
    outcome = cancel_request(user_id=request.user.pk, order_ids=[order.pk])[0]
    return _action_response(request, order.pk, outcome, _("Cancel requested for order %(id)s.") % {"id": order.pk})


@customer_view
def order_detail(request, pk: int):
    order = get_object_or_404(Order.objects.select_related("service"), pk=pk, user=request.user)
    annotate_actions([order])
    refills = order.refills.all()
    return render(request, "dashboard/order_detail.html", {"o": order, "refills": refills})


@customer_view
def refill_list(request):
    refills = Refill.objects.filter(user=request.user).select_related("order__service")
    return render(request, "dashboard/refills.html", {"page": paginate(request, refills)})
