"""Card payments through Stripe Checkout: the session call is faked with `responses` (no network);
webhook bodies are signed here with Stripe's scheme (t=<timestamp>, v1=HMAC-SHA256 of "<t>.<body>")."""

import hashlib
import hmac
import json
import time
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import responses
from django.urls import reverse

from accounts.ledger import ledger_drift
from accounts.models import LedgerEntry, User
from billing.models import Affiliate, Commission, GatewayEvent, GatewayPayment, PaymentMethod
from billing.services import affiliate_get, referral_record

from .conftest import SECRET_KEY, WEBHOOK_SECRET

SESSIONS_URL = "https://api.stripe.com/v1/checkout/sessions"


def sign(body: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def session_event(
    payment: GatewayPayment,
    type_: str = "checkout.session.completed",
    *,
    event_id: str = "evt_1",
    amount_total: int | None = None,
    currency: str = "usd",
    payment_status: str = "paid",
) -> str:
    session = {
        "id": payment.external_id,
        "object": "checkout.session",
        "mode": "payment",
        "amount_total": int(payment.amount * 100) if amount_total is None else amount_total,
        "currency": currency,
        "payment_status": payment_status,
        "status": "complete",
        "client_reference_id": str(payment.pk),
        "metadata": {"payment_id": str(payment.pk)},
    }
    event = {
        "id": event_id,
        "object": "event",
        "api_version": "2026-10-28",
        "created": int(time.time()),
        "livemode": False,
        "type": type_,
        "data": {"object": session},
    }
    return json.dumps(event)


def post_event(client, body: str, signature: str | None = None):
    return client.post(
        reverse("dashboard:stripe_webhook"),
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body) if signature is None else signature,
    )


@pytest.fixture
def pending(customer, stripe_on):
    """A payment the customer started: our row plus its (pretend) Checkout Session."""
    return GatewayPayment.objects.create(
        user=customer,
        amount=Decimal("20"),
        currency="USD",
        status=GatewayPayment.Status.PENDING,
        external_id="cs_test_abc",
    )


def balance(user) -> Decimal:
    return User.objects.get(pk=user.pk).balance


# --- Starting a payment -------------------------------------------------------------------------


def test_add_funds_shows_the_card_method_only_when_stripe_is_configured(logged_in, settings, db):
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    body = logged_in.get(reverse("dashboard:add_funds")).content.decode()
    assert "Pay by card" not in body
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    assert "Pay by card" not in logged_in.get(reverse("dashboard:add_funds")).content.decode()
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    body = logged_in.get(reverse("dashboard:add_funds")).content.decode()
    assert "Pay by card" in body and "Card (Stripe)" in body
    PaymentMethod.objects.filter(kind=PaymentMethod.Kind.STRIPE).update(enabled=False)
    assert "Pay by card" not in logged_in.get(reverse("dashboard:add_funds")).content.decode()


@responses.activate
def test_checkout_records_the_payment_and_redirects_to_the_session(logged_in, customer, stripe_on):
    responses.add(
        responses.POST,
        SESSIONS_URL,
        json={
            "id": "cs_test_new",
            "object": "checkout.session",
            "url": "https://checkout.stripe.com/c/pay/cs_test_new",
        },
    )
    response = logged_in.post(reverse("dashboard:card_checkout"), {"card-amount": "20.50"})
    assert response.status_code == 302 and response["Location"] == "https://checkout.stripe.com/c/pay/cs_test_new"

    payment = GatewayPayment.objects.get()
    assert (payment.user, payment.amount, payment.currency) == (customer, Decimal("20.50"), "USD")
    assert (payment.status, payment.external_id, payment.provider) == ("pending", "cs_test_new", "stripe")

    call = responses.calls[0].request
    form = parse_qs(call.body if isinstance(call.body, str) else call.body.decode())
    assert form["mode"] == ["payment"]
    assert form["line_items[0][price_data][unit_amount]"] == ["2050"]
    assert form["line_items[0][price_data][currency]"] == ["usd"]
    assert form["line_items[0][quantity]"] == ["1"]
    assert form["client_reference_id"] == [str(payment.pk)] and form["metadata[payment_id]"] == [str(payment.pk)]
    back = f"http://testserver{reverse('dashboard:payment_return', args=[payment.pk])}"
    assert form["success_url"] == [back] and form["cancel_url"] == [f"{back}?cancelled=1"]
    assert call.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert call.headers["Idempotency-Key"] == f"checkout-session:{payment.pk}"
    assert balance(customer) == Decimal("1000")  # nothing is credited before Stripe says so


@responses.activate
def test_amount_outside_the_limits_is_refused_beside_the_field(logged_in, stripe_on):
    url = reverse("dashboard:card_checkout")
    for amount, error in (("4.99", "The minimum is 5."), ("501", "The maximum is 500."), ("abc", "Enter a number.")):
        response = logged_in.post(url, {"card-amount": amount})
        assert response.status_code == 400
        assert error in str(response.context["card_form"].errors["amount"])
        assert 'id="field-amount"' in response.content.decode()
    response = logged_in.post(url, {"card-amount": "10.001"})
    assert response.status_code == 400 and "card_form" in response.context
    # STRIPE_MIN_AMOUNT is a floor under the method's own minimum.
    stripe_on.STRIPE_MIN_AMOUNT = "50"
    assert "The minimum is 50." in logged_in.post(url, {"card-amount": "20"}).content.decode()
    assert GatewayPayment.objects.count() == 0 and len(responses.calls) == 0


@responses.activate
def test_a_stripe_error_marks_the_payment_failed_and_says_so(logged_in, stripe_on):
    responses.add(
        responses.POST,
        SESSIONS_URL,
        status=400,
        json={"error": {"type": "invalid_request_error", "message": "Invalid currency"}},
    )
    response = logged_in.post(reverse("dashboard:card_checkout"), {"card-amount": "20"}, follow=True)
    assert "could not reach the card processor" in response.content.decode()
    payment = GatewayPayment.objects.get()
    assert payment.status == "failed" and "InvalidRequestError" in payment.note and SECRET_KEY not in payment.note


def test_checkout_is_refused_when_stripe_is_not_configured(logged_in, settings, db):
    settings.STRIPE_SECRET_KEY = ""
    response = logged_in.post(reverse("dashboard:card_checkout"), {"card-amount": "20"}, follow=True)
    assert "not available" in response.content.decode() and GatewayPayment.objects.count() == 0


def test_the_manual_deposit_form_does_not_offer_the_stripe_method(logged_in, stripe_on):
    stripe = PaymentMethod.objects.get(kind=PaymentMethod.Kind.STRIPE)
    response = logged_in.post(reverse("dashboard:add_funds"), {"method": stripe.pk, "amount": "20"})
    assert "method" in response.context["form"].errors


# --- The webhook --------------------------------------------------------------------------------


def test_completed_event_credits_once_and_replays_credit_nothing(client, customer, pending):
    body = session_event(pending, event_id="evt_completed")
    assert post_event(client, body).status_code == 200
    pending.refresh_from_db()
    assert pending.status == "paid" and pending.paid_at is not None
    assert balance(customer) == Decimal("1020")
    entry = LedgerEntry.objects.get(idempotency_key="stripe:cs_test_abc")
    assert (entry.kind, entry.amount, entry.pk) == ("deposit", Decimal("20"), pending.ledger_entry_id)

    # The same event again (a Stripe retry), re-signed at a later time: acknowledged, nothing moves.
    assert post_event(client, body, sign(body, timestamp=int(time.time()) + 5)).status_code == 200
    # A second, distinct event for the same session: stored, nothing more credited.
    later = session_event(pending, "checkout.session.async_payment_succeeded", event_id="evt_async")
    assert post_event(client, later).status_code == 200
    assert balance(customer) == Decimal("1020")
    assert LedgerEntry.objects.filter(user=customer, kind="deposit").count() == 2  # test funds + this one
    events = {e.event_id: e for e in GatewayEvent.objects.all()}
    assert set(events) == {"evt_completed", "evt_async"}
    assert all(e.processed and e.payment_id == pending.pk for e in events.values())
    assert events["evt_completed"].payload == json.loads(body)
    assert ledger_drift() == []


def test_funds_history_shows_the_card_deposit_and_return_says_succeeded(client, customer, pending):
    post_event(client, session_event(pending))
    client.force_login(customer)
    response = client.get(reverse("dashboard:payment_return", args=[pending.pk]), follow=True)
    body = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("dashboard:funds")
    assert "Payment succeeded" in body and f"Card payment {pending.pk} via Stripe" in body


def test_return_before_the_webhook_says_pending_and_cancel_says_cancelled(logged_in, customer, pending):
    url = reverse("dashboard:payment_return", args=[pending.pk])
    body = logged_in.get(url, follow=True).content.decode()
    assert "Payment pending" in body and "Your card payments" in body and f"#{pending.pk}" in body
    assert "Payment cancelled" in logged_in.get(url + "?cancelled=1", follow=True).content.decode()
    assert balance(customer) == Decimal("1000")


def test_customers_cannot_see_each_others_payments(client_for, other, pending):
    client = client_for(other)
    assert client.get(reverse("dashboard:payment_return", args=[pending.pk])).status_code == 404
    assert f"#{pending.pk}" not in client.get(reverse("dashboard:add_funds")).content.decode()


@pytest.mark.parametrize(
    "signature",
    [
        None,  # signed with another secret (below)
        "",
        "t=123,v1=deadbeef",
        "garbage",
    ],
)
def test_a_bad_signature_is_refused_with_400_and_nothing_stored(client, customer, pending, signature):
    body = session_event(pending)
    if signature is None:
        signature = sign(body, secret="whsec_someone_else")
    assert post_event(client, body, signature).status_code == 400
    assert GatewayEvent.objects.count() == 0 and balance(customer) == Decimal("1000")


def test_a_tampered_or_stale_body_is_refused(client, customer, pending):
    body = session_event(pending)
    tampered = body.replace('"amount_total": 2000', '"amount_total": 200000')
    assert post_event(client, tampered, sign(body)).status_code == 400
    assert post_event(client, body, sign(body, timestamp=int(time.time()) - 3600)).status_code == 400
    assert post_event(client, "not json", sign("not json")).status_code == 400
    assert GatewayEvent.objects.count() == 0 and balance(customer) == Decimal("1000")


def test_the_webhook_takes_only_post(client, stripe_on):
    assert client.get(reverse("dashboard:stripe_webhook")).status_code == 405


@pytest.mark.parametrize(("amount_total", "currency"), [(1999, "usd"), (2000, "eur"), (None, "usd")])
def test_an_amount_or_currency_mismatch_is_not_credited_but_flagged(client, customer, pending, amount_total, currency):
    body = session_event(pending, amount_total=amount_total if amount_total is not None else 2000, currency=currency)
    if amount_total is None:  # the session carries no amount at all
        event = json.loads(body)
        del event["data"]["object"]["amount_total"]
        body = json.dumps(event)
    assert post_event(client, body).status_code == 200
    pending.refresh_from_db()
    assert pending.needs_review and "not credited" in pending.note and pending.status == "pending"
    assert balance(customer) == Decimal("1000")
    assert not LedgerEntry.objects.filter(idempotency_key="stripe:cs_test_abc").exists()
    assert ledger_drift() == []


def test_an_event_for_another_session_of_the_same_payment_is_flagged(client, customer, pending):
    body = session_event(pending)
    event = json.loads(body)
    event["data"]["object"]["id"] = "cs_test_other"
    assert post_event(client, json.dumps(event)).status_code == 200
    pending.refresh_from_db()
    assert pending.needs_review and balance(customer) == Decimal("1000")


def test_expired_and_failed_events_close_the_payment_without_money(client, customer, pending, stripe_on):
    assert (
        post_event(client, session_event(pending, "checkout.session.expired", payment_status="unpaid")).status_code
        == 200
    )
    pending.refresh_from_db()
    assert pending.status == "expired"

    failing = GatewayPayment.objects.create(
        user=customer, amount=Decimal("30"), currency="USD", status="pending", external_id="cs_test_async"
    )
    body = session_event(failing, "checkout.session.async_payment_failed", event_id="evt_f", payment_status="unpaid")
    post_event(client, body)
    failing.refresh_from_db()
    assert failing.status == "failed" and balance(customer) == Decimal("1000")


def test_a_paid_payment_is_never_downgraded_by_a_late_expiry(client, customer, pending):
    post_event(client, session_event(pending, event_id="evt_paid"))
    post_event(client, session_event(pending, "checkout.session.expired", event_id="evt_exp"))
    pending.refresh_from_db()
    assert pending.status == "paid" and balance(customer) == Decimal("1020")


def test_delayed_payment_waits_for_async_success(client, customer, pending):
    post_event(client, session_event(pending, event_id="evt_c", payment_status="unpaid"))
    pending.refresh_from_db()
    assert pending.status == "pending" and balance(customer) == Decimal("1000")
    post_event(client, session_event(pending, "checkout.session.async_payment_succeeded", event_id="evt_s"))
    assert balance(customer) == Decimal("1020")


def test_unknown_events_and_unknown_payments_are_stored_and_acknowledged(client, customer, pending):
    other = json.dumps({"id": "evt_x", "object": "event", "type": "customer.created", "data": {"object": {}}})
    assert post_event(client, other).status_code == 200
    orphan = json.loads(session_event(pending, event_id="evt_orphan"))
    orphan["data"]["object"]["metadata"] = {"payment_id": "999999"}
    orphan["data"]["object"]["client_reference_id"] = "999999"
    assert post_event(client, json.dumps(orphan)).status_code == 200
    stored = {e.event_id: e for e in GatewayEvent.objects.all()}
    assert stored["evt_x"].type == "customer.created" and stored["evt_x"].processed
    assert stored["evt_orphan"].payment is None and "No payment" in stored["evt_orphan"].outcome
    assert balance(customer) == Decimal("1000")


def test_a_card_payment_pays_the_referrers_commission_once(client, customer, pending, db):
    referrer = User.objects.create(username="referrer")
    Affiliate.objects.filter(pk=affiliate_get(user=referrer).pk).update(commission_percent=Decimal("10"))
    assert referral_record(user=customer, code=Affiliate.objects.get(user=referrer).code)
    post_event(client, session_event(pending, event_id="evt_1"))
    post_event(client, session_event(pending, "checkout.session.async_payment_succeeded", event_id="evt_2"))
    commission = Commission.objects.get()
    assert (commission.gateway_payment, commission.deposit, commission.amount) == (pending, None, Decimal("2"))
    assert balance(referrer) == Decimal("2")
    assert LedgerEntry.objects.filter(idempotency_key=f"commission:payment:{pending.pk}").count() == 1
    assert ledger_drift() == []
