"""Deposits through payment gateways: the live quote, starting a deposit, the pay page (redirect,
auto-submitted form, crypto address and QR, the gateway's client checkout), the customer's
return, and the gateways' notifications.

The return never credits anything and never trusts its query string: it asks the gateway server
to server (where it can) and says where the deposit stands. Only a verified notification or a
lookup changes a deposit (billing.payments.report_apply).
"""

import base64
import io
import logging
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import qrcode
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from billing.gateways.base import GatewayError, Incoming
from billing.models import Deposit, PaymentMethod
from billing.payments import (
    OPEN,
    DepositError,
    checkout_from_json,
    deposit_create,
    deposit_lookup,
    deposit_start,
    limits_check,
    method_problem,
    notification_receive,
    quote,
)

from ..forms import GatewayDepositForm
from .common import customer_view
from .pages import add_funds_page

logger = logging.getLogger(__name__)
RAZORPAY_CHECKOUT_JS = "https://checkout.razorpay.com/v1/checkout.js"


def _usable_method(method_id: int) -> PaymentMethod | None:
    method = PaymentMethod.objects.filter(pk=method_id).first()
    if method is None or method.is_manual or method_problem(method):
        return None
    return method


@require_GET
@customer_view
def deposit_quote(request, method_id: int):
    """The fee, bonus and total for an amount, before paying (the add-funds page's live preview)."""
    method = PaymentMethod.objects.filter(pk=method_id, enabled=True).first()
    if method is None:
        raise Http404
    raw = ""
    for key, value in request.GET.items():
        if key.endswith("amount"):
            raw = value
    context = {"method": method, "quote": None, "error": ""}
    if not raw.strip():
        # Nothing typed yet (the page has just loaded, or the field was emptied): nothing to quote
        # and nothing to complain about; pressing Pay with no amount says so on the form.
        return render(request, "dashboard/partials/deposit_quote.html", context)
    try:
        amount = Decimal(raw.strip()[:20]).quantize(Decimal("0.01"))
        if not amount.is_finite():
            raise InvalidOperation
        limits_check(method, amount)
        context["quote"] = quote(method, amount)
    except (InvalidOperation, ValueError):
        context["error"] = _("Enter an amount within the limits.")
    return render(request, "dashboard/partials/deposit_quote.html", context)


@require_POST
@customer_view
def deposit_new(request, method_id: int):
    """Record the deposit, start it at the gateway (outside any transaction), send the customer on."""
    method = _usable_method(method_id)
    if method is None:
        messages.error(request, _("This payment method is not available right now."))
        return redirect("dashboard:add_funds")
    form = GatewayDepositForm(method, request.POST)
    if not form.is_valid():
        return add_funds_page(request, gateway_form=form, status=400)
    try:
        deposit = deposit_create(user=request.user, method=method, amount=form.cleaned_data["amount"])
    except DepositError as error:
        form.add_error("amount", str(error))
        return add_funds_page(request, gateway_form=form, status=400)
    back = request.build_absolute_uri(reverse("dashboard:deposit_return", args=[deposit.pk]))
    notify = request.build_absolute_uri(reverse("dashboard:payment_notify", args=[method.pk]))
    try:
        deposit_start(deposit=deposit, return_url=back, cancel_url=f"{back}?cancelled=1", notify_url=notify)
    except GatewayError:
        messages.error(
            request,
            _("We could not reach %(method)s. Nothing was charged; please try again in a minute or use another method.")
            % {"method": method.name},
        )
        return redirect("dashboard:add_funds")
    return redirect("dashboard:deposit_pay", pk=deposit.pk)


@never_cache
@customer_view
def deposit_pay(request, pk: int):
    """Where the customer pays a started deposit: a link to the gateway's page (followed at once),
    an auto-submitted form to the gateway, an address and QR code to pay to, or the gateway's
    client checkout. The form POSTed from the add-funds page lands here first (same origin), so
    the page's Content-Security-Policy only has to name the one gateway this page sends to."""
    deposit = get_object_or_404(Deposit.objects.select_related("method"), pk=pk, user=request.user)
    if deposit.status not in OPEN:
        return redirect("dashboard:deposit_return", pk=deposit.pk)
    checkout = checkout_from_json(deposit.checkout)
    if checkout.redirect_url and _origin(checkout.redirect_url) == "'none'":
        # Only web addresses are followed (never javascript: or data:, whatever a gateway answers).
        checkout = checkout_from_json({**deposit.checkout, "redirect_url": ""})
    if checkout.form_action and _origin(checkout.form_action) == "'none'":
        checkout = checkout_from_json({**deposit.checkout, "form_action": "", "form_fields": []})
    context = {
        "deposit": deposit,
        "checkout": checkout,
        "qr": _qr_data_uri(checkout.qr_payload or checkout.pay_address) if checkout.pay_address else "",
        "return_url": reverse("dashboard:deposit_return", args=[deposit.pk]),
        "status_url": reverse("dashboard:deposit_status", args=[deposit.pk]),
        "checkout_js": RAZORPAY_CHECKOUT_JS if checkout.client_options and deposit.gateway == "razorpay" else "",
    }
    response = render(request, "dashboard/deposit_pay.html", context)
    update: dict[str, list[str]] = {}
    if checkout.form_action:
        update["form-action"] = [_origin(checkout.form_action)]
    if context["checkout_js"]:
        # Only this page may load the gateway's checkout script and show its frame.
        update["script-src"] = [RAZORPAY_CHECKOUT_JS]
        update["frame-src"] = ["https://api.razorpay.com"]
    if update:
        response._csp_update = update
    return response


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("https", "http") and parts.netloc else "'none'"


def _qr_data_uri(payload: str) -> str:
    image = qrcode.make(payload, box_size=6, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@never_cache
@customer_view
def deposit_status(request, pk: int):
    """The deposit's state, polled by the pay page while the customer waits for the notification."""
    deposit = get_object_or_404(Deposit, pk=pk, user=request.user)
    return JsonResponse({"status": deposit.status, "open": deposit.status in OPEN})


@csrf_exempt
@never_cache
def deposit_return(request, pk: int):
    """Where the gateway sends the customer back. Some gateways come back with a cross-site POST
    (Razorpay Hosted Checkout), which carries no session cookie (SameSite=Lax) and no CSRF token:
    nothing in it is read; it is answered with a 303 to the same address, whose GET has the cookie."""
    if request.method == "POST":
        return HttpResponseRedirect(request.path, status=303)
    return _deposit_return(request, pk)


@customer_view
def _deposit_return(request, pk: int):
    """Whatever the query string says, ask the gateway (where it allows) and tell the customer
    where the deposit stands."""
    deposit = get_object_or_404(Deposit, pk=pk, user=request.user)
    if deposit.status in OPEN:
        deposit_lookup(deposit_id=deposit.pk)
        deposit.refresh_from_db()
    amount = f"{deposit.amount.normalize():f}"
    if deposit.status == Deposit.Status.PAID:
        credited = f"{deposit.credited.normalize():f}" if deposit.credited else amount
        if deposit.bonus:
            text = _("Payment succeeded: %(amount)s and a bonus of %(bonus)s were added to your balance.") % {
                "amount": credited,
                "bonus": f"{deposit.bonus.normalize():f}",
            }
        else:
            text = _("Payment succeeded: %(amount)s was added to your balance.") % {"amount": credited}
        messages.success(request, text)
        return redirect("dashboard:funds")
    if deposit.status == Deposit.Status.PARTIAL:
        messages.warning(
            request,
            _("Deposit %(id)s was only partly paid: we credited %(credited)s and our staff will look at it.")
            % {"id": deposit.pk, "credited": f"{deposit.credited.normalize():f}"},
        )
        return redirect("dashboard:funds")
    if deposit.status in (Deposit.Status.FAILED, Deposit.Status.EXPIRED):
        messages.error(request, _("Payment %(id)s did not go through: nothing was credited.") % {"id": deposit.pk})
    elif request.GET.get("cancelled"):
        messages.warning(
            request,
            _("Payment %(id)s is not confirmed. If you cancelled it, nothing was charged.") % {"id": deposit.pk},
        )
    else:
        messages.info(
            request,
            _("Payment pending: %(amount)s is added to your balance as soon as the payment processor confirms it.")
            % {"amount": amount},
        )
    return redirect("dashboard:add_funds")


def _incoming(request) -> Incoming:
    body = request.body
    headers = {name.lower(): value for name, value in request.headers.items()}
    form = {}
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = {key: request.POST.get(key, "") for key in request.POST}
    query = {key: request.GET.get(key, "") for key in request.GET}
    # REMOTE_ADDR, as ClientIPMiddleware set it from our own proxies' header.
    return Incoming(body=body, headers=headers, form=form, query=query, remote_addr=request.META.get("REMOTE_ADDR", ""))


@csrf_exempt
@never_cache
def payment_notify(request, method_id: int):
    """A gateway's notification (webhook, IPN, callback) for one method. Verified by the gateway
    module; answered as the gateway expects; never a 500 (billing.payments.notification_receive)."""
    if request.method not in ("POST", "GET"):
        return HttpResponse("method not allowed\n", status=405, content_type="text/plain")
    method = PaymentMethod.objects.filter(pk=method_id).exclude(kind="manual").first()
    if method is None:
        return HttpResponse("unknown method\n", status=404, content_type="text/plain")
    reply = notification_receive(method=method, incoming=_incoming(request))
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """The Stripe webhook address of earlier versions: the oldest Stripe method's notify URL."""
    method = PaymentMethod.objects.filter(kind=PaymentMethod.Kind.STRIPE).order_by("pk").first()
    if method is None:
        return HttpResponse("unknown method\n", status=404, content_type="text/plain")
    reply = notification_receive(method=method, incoming=_incoming(request))
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)
