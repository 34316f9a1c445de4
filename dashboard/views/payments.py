"""Card payments through Stripe Checkout: start one, come back from Stripe, and Stripe's webhook."""

import logging

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.gateways import stripe as stripe_gateway
from billing.models import GatewayPayment
from billing.selectors import stripe_method
from billing.services import DepositError, gateway_checkout_start, gateway_payment_create, stripe_event_receive

from ..forms import card_form
from .common import customer_view
from .pages import add_funds_page

logger = logging.getLogger(__name__)


@require_POST
@customer_view
def card_checkout(request):
    """Record the payment, create its Checkout Session, and send the customer to Stripe."""
    method = stripe_method()
    if method is None:
        messages.error(request, _("Card payments are not available right now."))
        return redirect("dashboard:add_funds")
    form = card_form(method, request.POST)
    if not form.is_valid():
        return add_funds_page(request, card=form, status=400)
    try:
        payment = gateway_payment_create(user=request.user, amount=form.cleaned_data["amount"])
        back = request.build_absolute_uri(reverse("dashboard:payment_return", args=[payment.pk]))
        url = gateway_checkout_start(payment=payment, success_url=back, cancel_url=f"{back}?cancelled=1")
    except DepositError as error:
        form.add_error("amount", str(error))
        return add_funds_page(request, card=form, status=400)
    except stripe_gateway.GatewayError:
        messages.error(request, _("We could not reach the card processor. Please try again in a minute."))
        return redirect("dashboard:add_funds")
    return redirect(url)


@customer_view
def payment_return(request, pk: int):
    """Where Stripe sends the customer back: say where the payment stands (the webhook credits it)."""
    payment = get_object_or_404(GatewayPayment, pk=pk, user=request.user)
    amount = f"{payment.amount.normalize():f} {payment.currency}"
    if payment.status == GatewayPayment.Status.PAID:
        messages.success(request, _("Payment succeeded: %(amount)s was added to your balance.") % {"amount": amount})
        return redirect("dashboard:funds")
    if payment.status in (GatewayPayment.Status.FAILED, GatewayPayment.Status.EXPIRED):
        messages.error(request, _("Payment %(id)s did not go through.") % {"id": payment.pk})
    elif request.GET.get("cancelled"):
        messages.warning(request, _("Payment cancelled: nothing was charged."))
    else:
        messages.info(
            request,
            _("Payment pending: %(amount)s is added to your balance as soon as the card processor confirms it.")
            % {"amount": amount},
        )
    return redirect("dashboard:add_funds")


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Stripe's events. A body Stripe did not sign with our secret gets 400; everything else 200."""
    try:
        event = stripe_gateway.event_verify(payload=request.body, signature=request.headers.get("Stripe-Signature", ""))
    except stripe_gateway.BadSignature as error:
        logger.warning("Stripe webhook refused: %s", error)
        return HttpResponseBadRequest("bad signature\n", content_type="text/plain")
    stripe_event_receive(event=event)
    return HttpResponse("ok\n", content_type="text/plain")
