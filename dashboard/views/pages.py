"""Home, services, funds, add funds, account, affiliates, tickets."""

import re

from django.contrib import messages
from django.db.models import Count, Q, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import LedgerEntry
from accounts.services import api_key_rotate
from billing.affiliates import PayoutError, earnings, payout_request_create
from billing.models import Commission, PayoutRequest
from billing.selectors import bonus_tiers, deposit_history, methods_available
from billing.services import affiliate_get, deposit_request_create
from catalog.favourites import favourite_ids
from catalog.pricing import FLAT_TYPES, custom_rates_for, customer_rate
from catalog.selectors import sellable_services, text_matches
from orders.models import Order
from orders.rollups import customer_totals
from support.attachments import ticket_open_with_files, ticket_reply_with_files
from support.models import Ticket
from support.services import ticket_close

from ..forms import DepositForm, GatewayDepositForm, ReplyForm, TicketForm, TimezoneForm
from .common import customer_view, paginate, parse_id, search_text
from .orders import annotate_actions


def home(request):
    # Visitors get the public landing page; customers their dashboard.
    if not request.user.is_authenticated:
        return redirect("site_pages:landing")
    return _home(request)


@customer_view
def _home(request):
    orders = Order.objects.filter(user=request.user)
    # Kept current by the database (orders.rollups): no read of every order a big customer has.
    totals = customer_totals(request.user.pk)
    stats = {"total": totals.orders, "active": totals.active, "spent": totals.charge, "refunded": totals.refunded}
    recent = list(orders.select_related("service")[:6])
    annotate_actions(recent)
    context = {
        "stats": stats,
        "spent": (stats["spent"] or 0) - (stats["refunded"] or 0),
        "recent": recent,
        "open_tickets": Ticket.objects.filter(user=request.user, status=Ticket.Status.ANSWERED).count(),
    }
    return render(request, "dashboard/home.html", context)


@customer_view
def services(request):
    q = search_text(request.GET.get("q"))
    rows = sellable_services()
    if q:
        # In the reader's language or the default one: a customer may type either.
        match = text_matches(q) | text_matches(q, "category__name")
        pk = parse_id(q)
        if pk is not None:
            match |= Q(pk=pk)
        rows = rows.filter(match)
    starred = favourite_ids(request.user.pk)
    favourites = request.GET.get("favourites") == "1"
    if favourites:
        rows = rows.filter(pk__in=starred)
    rows = list(rows.order_by("category__position", "category__name", "position", "id"))
    custom = custom_rates_for(request.user)
    for service in rows:
        service.customer_rate = customer_rate(service, request.user, custom)
        service.flat = service.type in FLAT_TYPES
        service.starred = service.pk in starred
    context = {"services": rows, "q": q, "favourites": favourites, "starred_count": len(starred)}
    return render(request, "dashboard/services.html", context)


@customer_view
def funds(request):
    entries = LedgerEntry.objects.filter(user=request.user)
    kind = request.GET.get("kind", "")
    if kind not in LedgerEntry.Kind.values:
        kind = ""
    if kind:
        entries = entries.filter(kind=kind)
    return render(
        request,
        "dashboard/funds.html",
        {"page": paginate(request, entries), "kind": kind, "kinds": LedgerEntry.Kind.choices},
    )


@customer_view
def add_funds(request):
    if request.method == "POST":
        form = DepositForm(request.POST)
        if form.is_valid():
            deposit = deposit_request_create(
                user=request.user,
                method=form.cleaned_data["method"],
                amount=form.cleaned_data["amount"],
                reference=form.cleaned_data["reference"],
            )
            messages.success(
                request,
                _("Deposit request %(id)s received. Your balance is credited once we confirm the payment.")
                % {"id": deposit.pk},
            )
            return redirect("dashboard:add_funds")
    else:
        method_id = parse_id(request.GET.get("method"))
        form = DepositForm(initial={"method": method_id} if method_id else {})
    return add_funds_page(request, form=form)


def add_funds_page(request, *, form: DepositForm | None = None, gateway_form=None, status: int = 200):
    """The add-funds page: every method customers may use now (gateway methods with their amount
    form and live quote, manual methods with their instructions and the "I have paid" form), the
    bonus tiers, and the customer's deposits with their state."""
    methods = methods_available()
    for method in methods:
        if gateway_form is not None and gateway_form.method.pk == method.pk:
            method.form = gateway_form
        elif not method.is_manual:
            method.form = GatewayDepositForm(method)
        method.fee_shown = method.fee_percent or method.fee_fixed
    manual = [method for method in methods if method.is_manual]
    context = {
        "form": form or DepositForm(),
        "methods": methods,
        "manual_methods": manual,
        "online_methods": [method for method in methods if not method.is_manual],
        "tiers": bonus_tiers(),
        "history": deposit_history(request.user.pk),
    }
    return render(request, "dashboard/add_funds.html", context, status=status)


@customer_view
def account(request):
    return render(request, "dashboard/account.html", _account_context(request))


def _account_context(request, **extra) -> dict:
    return {"tz_form": TimezoneForm(initial={"timezone": request.user.timezone}), "new_key": None, **extra}


@require_POST
@customer_view
def account_timezone(request):
    form = TimezoneForm(request.POST)
    if not form.is_valid():
        return render(request, "dashboard/account.html", {**_account_context(request), "tz_form": form}, status=400)
    request.user.timezone = form.cleaned_data["timezone"]
    request.user.save(update_fields=["timezone"])
    messages.success(request, _("Time zone saved."))
    return redirect("dashboard:account")


@require_POST
@customer_view
def account_api_key(request):
    """Rotate the key and show it in this response only: it is stored as a hash and never again shown."""
    new_key = api_key_rotate(user=request.user)
    response = render(request, "dashboard/account.html", _account_context(request, new_key=new_key))
    response["Cache-Control"] = "no-store"
    return response


@customer_view
def affiliates(request):
    affiliate = affiliate_get(user=request.user)
    link = request.build_absolute_uri(reverse("dashboard:referral", args=[affiliate.code]))
    commissions = Commission.objects.filter(affiliate=request.user)
    context = {
        "affiliate": affiliate,
        "link": link,
        "referrals": request.user.referrals.count(),
        "earned": commissions.aggregate(total=Sum("amount"))["total"] or 0,
        "earnings": earnings(request.user.pk),
        "commissions": commissions.select_related("referred", "payout")[:50],
        "payouts": PayoutRequest.objects.filter(user=request.user)[:20],
    }
    return render(request, "dashboard/affiliates.html", context)


@require_POST
@customer_view
def affiliate_payout(request):
    """Ask for the unpaid commissions to be paid out (staff approve it in the backoffice)."""
    try:
        payout = payout_request_create(user=request.user)
    except PayoutError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("Payout request %(id)s sent: %(amount)s. Staff review it shortly.")
            % {"id": payout.pk, "amount": f"{payout.amount.normalize():f}"},
        )
    return redirect("dashboard:affiliates")


# Referral codes are URL-safe tokens (billing.services.affiliate_get); anything else is not one of ours.
REFERRAL_CODE = re.compile(r"[A-Za-z0-9_-]{1,16}")


def referral(request, code: str):
    """A referral link: remember the code for the sign-up that follows."""
    if REFERRAL_CODE.fullmatch(code):
        request.session["referral_code"] = code
    return redirect("account_signup")


@customer_view
def tickets(request):
    if request.method == "POST":
        form = TicketForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            ticket = ticket_open_with_files(
                user=request.user,
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["message"],
                topic=form.cleaned_data["topic"],
                order_id=form.cleaned_data["order_id"],
                files=form.cleaned_data["attachments"],
            )
            messages.success(
                request, _("Ticket %(id)s opened. We usually answer within a few hours.") % {"id": ticket.pk}
            )
            return redirect("dashboard:ticket", pk=ticket.pk)
    else:
        initial = {}
        order_id = parse_id(request.GET.get("order"))
        if order_id is not None:
            initial = {"topic": Ticket.Topic.ORDER, "order_id": order_id}
        form = TicketForm(initial=initial, user=request.user)
    # Meta.ordering is not applied to a GROUP BY query: order explicitly, newest activity first.
    rows = Ticket.objects.filter(user=request.user).annotate(count=Count("messages")).order_by("-updated_at", "-id")
    return render(request, "dashboard/tickets.html", {"form": form, "page": paginate(request, rows)})


@customer_view
def ticket(request, pk: int):
    item = get_object_or_404(Ticket, pk=pk, user=request.user)
    if request.method == "POST":
        if request.POST.get("action") == "close":
            ticket_close(ticket=item)
            messages.success(request, _("Ticket closed."))
            return redirect("dashboard:ticket", pk=item.pk)
        form = ReplyForm(request.POST, request.FILES)
        if form.is_valid():
            ticket_reply_with_files(
                ticket=item,
                author=request.user,
                body=form.cleaned_data["message"],
                files=form.cleaned_data["attachments"],
            )
            return redirect("dashboard:ticket", pk=item.pk)
    else:
        form = ReplyForm()
    thread = item.messages.select_related("author").prefetch_related("attachments")
    return render(request, "dashboard/ticket.html", {"ticket": item, "thread": thread, "form": form})
