"""Card payments through Stripe Checkout on the gateway flow: the session call goes to the local
Stripe fake over HTTP (testing.gateways.stripe); webhook bodies are signed here with Stripe's
scheme (t=<timestamp>, v1=HMAC-SHA256 of "<t>.<body>"). The Stripe method takes its keys from the
STRIPE_* settings (the fallback when the method's own settings are empty)."""

import json
import time
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.ledger import ledger_drift
from accounts.models import LedgerEntry, User
from billing.models import Affiliate, Commission, Deposit, GatewayEvent, PaymentMethod
from billing.services import affiliate_get, referral_record
from testing.gateways.stripe import FakeStripe, sign

from .conftest import SECRET_KEY, WEBHOOK_SECRET


@pytest.fixture
def fake_stripe(stripe_on):
    fake = FakeStripe(secret_key=SECRET_KEY)
    fake.start()
    stripe_on.PAYMENT_GATEWAY_BASE_URLS = {"stripe": fake.url}
    yield fake
    fake.stop()


@pytest.fixture
def card(stripe_on) -> PaymentMethod:
    return PaymentMethod.objects.get(kind=PaymentMethod.Kind.STRIPE)


def amount_field(method) -> str:
    return f"m{method.pk}-amount"


def session_event(
    deposit: Deposit,
    type_: str = "checkout.session.completed",
    *,
    event_id: str = "evt_1",
    amount_total: int | None = None,
    currency: str = "usd",
    payment_status: str = "paid",
) -> str:
    session = {
        "id": deposit.external_id,
        "object": "checkout.session",
        "mode": "payment",
        "amount_total": int(deposit.charge_amount * 100) if amount_total is None else amount_total,
        "currency": currency,
        "payment_status": payment_status,
        "payment_intent": f"pi_{deposit.pk}",
        "status": "complete",
        "client_reference_id": str(deposit.pk),
        "metadata": {"deposit_id": str(deposit.pk)},
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


def post_event(client, body: str, signature: str | None = None, url: str | None = None):
    return client.post(
        url or reverse("dashboard:stripe_webhook"),
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, WEBHOOK_SECRET) if signature is None else signature,
    )


@pytest.fixture
def pending(customer, card):
    """A deposit the customer started: our row plus its (pretend) Checkout Session."""
    return Deposit.objects.create(
        user=customer,
        method=card,
        gateway="stripe",
        amount=Decimal("20"),
        charge_amount=Decimal("20"),
        charge_currency="USD",
        status=Deposit.Status.PENDING,
        external_id="cs_test_abc",
    )


def balance(user) -> Decimal:
    return User.objects.get(pk=user.pk).balance


# --- Starting a payment -------------------------------------------------------------------------


def test_add_funds_shows_the_card_method_only_when_stripe_is_configured(logged_in, settings, db):
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    body = logged_in.get(reverse("dashboard:add_funds")).content.decode()
    assert "Pay with Card (Stripe)" not in body
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    assert "Pay with Card (Stripe)" not in logged_in.get(reverse("dashboard:add_funds")).content.decode()
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    body = logged_in.get(reverse("dashboard:add_funds")).content.decode()
    assert "Pay with Card (Stripe)" in body
    PaymentMethod.objects.filter(kind=PaymentMethod.Kind.STRIPE).update(enabled=False)
    assert "Pay with Card (Stripe)" not in logged_in.get(reverse("dashboard:add_funds")).content.decode()


def test_the_methods_own_keys_take_precedence_over_the_environment(logged_in, settings, card):
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    card.set_secret_values({"secret_key": "sk_test_own", "webhook_secret": "whsec_own"})
    card.save()
    assert "Pay with Card (Stripe)" in logged_in.get(reverse("dashboard:add_funds")).content.decode()
    assert "sk_test_own" not in logged_in.get(reverse("dashboard:add_funds")).content.decode()


def test_checkout_records_the_deposit_and_redirects_to_the_session(logged_in, customer, card, fake_stripe):
    response = logged_in.post(reverse("dashboard:deposit_new", args=[card.pk]), {amount_field(card): "20.50"})
    deposit = Deposit.objects.get()
    session = fake_stripe.sessions[deposit.external_id]
    # To our own pay page first (the add-funds page's form-action stays 'self'), which sends the
    # customer on to the session's page.
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:deposit_pay", args=[deposit.pk])
    page = logged_in.get(response["Location"]).content.decode()
    assert f'href="{session["url"]}" id="gateway-link" data-auto-follow' in page
    assert (deposit.user, deposit.amount, deposit.charge_amount, deposit.charge_currency) == (
        customer,
        Decimal("20.50"),
        Decimal("20.50"),
        "USD",
    )
    assert (deposit.status, deposit.gateway, deposit.method) == ("pending", "stripe", card)

    call = fake_stripe.requests[0]
    form = call["params"]
    assert (call["method"], call["path"]) == ("POST", "/v1/checkout/sessions")
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][unit_amount]"] == "2050"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["line_items[0][quantity]"] == "1"
    assert form["client_reference_id"] == str(deposit.pk) and form["metadata[deposit_id]"] == str(deposit.pk)
    back = f"http://testserver{reverse('dashboard:deposit_return', args=[deposit.pk])}"
    assert form["success_url"] == back and form["cancel_url"] == f"{back}?cancelled=1"
    assert call["headers"]["authorization"] == f"Bearer {SECRET_KEY}"
    assert call["headers"]["idempotency-key"] == f"checkout-session:{deposit.pk}"
    assert balance(customer) == Decimal("1000")  # nothing is credited before Stripe says so


def test_amount_outside_the_limits_is_refused_beside_the_field(logged_in, card, fake_stripe):
    url = reverse("dashboard:deposit_new", args=[card.pk])
    for amount, error in (("4.99", "The minimum is 5."), ("501", "The maximum is 500."), ("abc", "Enter a number.")):
        response = logged_in.post(url, {amount_field(card): amount})
        assert response.status_code == 400
        body = response.content.decode()
        assert error in body and 'id="field-amount"' in body
    response = logged_in.post(url, {amount_field(card): "10.001"})
    assert response.status_code == 400
    assert Deposit.objects.count() == 0 and fake_stripe.requests == []


def test_a_stripe_error_marks_the_deposit_failed_and_says_so(logged_in, card, fake_stripe):
    fake_stripe.secret_key = "sk_test_another_account"  # Stripe answers 401 to our key
    response = logged_in.post(reverse("dashboard:deposit_new", args=[card.pk]), {amount_field(card): "20"}, follow=True)
    assert "We could not reach Card (Stripe)" in response.content.decode()
    deposit = Deposit.objects.get()
    assert deposit.status == "failed" and "AuthenticationError" in deposit.note and SECRET_KEY not in deposit.note


def test_checkout_is_refused_when_stripe_is_not_configured(logged_in, settings, card):
    settings.STRIPE_SECRET_KEY = ""
    response = logged_in.post(reverse("dashboard:deposit_new", args=[card.pk]), {amount_field(card): "20"}, follow=True)
    assert "not available" in response.content.decode() and Deposit.objects.count() == 0


def test_the_manual_deposit_form_does_not_offer_the_stripe_method(logged_in, card):
    response = logged_in.post(reverse("dashboard:add_funds"), {"method": card.pk, "amount": "20"})
    assert "method" in response.context["form"].errors


def test_the_quote_shows_fee_and_bonus_before_paying(logged_in, card):
    from billing.models import BonusTier

    PaymentMethod.objects.filter(pk=card.pk).update(fee_percent=Decimal("3"), fee_fixed=Decimal("0.30"))
    BonusTier.objects.create(min_amount=Decimal("100"), percent=Decimal("5"))
    url = reverse("dashboard:deposit_quote", args=[card.pk])
    body = logged_in.get(url, {amount_field(card): "100"}).content.decode()
    assert "$3.30" in body and "+$5.00" in body and "103.30 USD" in body
    body = logged_in.get(url, {amount_field(card): "50"}).content.decode()
    assert "$1.80" in body and "Bonus" not in body and "51.80 USD" in body
    assert "within the limits" in logged_in.get(url, {amount_field(card): "4"}).content.decode()
    assert "within the limits" in logged_in.get(url, {amount_field(card): "NaN"}).content.decode()


def test_the_quote_says_nothing_before_an_amount_is_typed(logged_in, card):
    """The page asks for a quote as it loads (and again when the field is emptied): no error then."""
    url = reverse("dashboard:deposit_quote", args=[card.pk])
    for typed in ("", "   "):
        response = logged_in.get(url, {amount_field(card): typed})
        assert response.status_code == 200 and response.content.decode().strip() == ""
    assert logged_in.get(url).content.decode().strip() == ""


# --- The webhook --------------------------------------------------------------------------------


def test_completed_event_credits_once_and_replays_credit_nothing(client, customer, pending, card):
    body = session_event(pending, event_id="evt_completed")
    assert post_event(client, body).status_code == 200
    pending.refresh_from_db()
    assert pending.status == "paid" and pending.paid_at is not None
    assert balance(customer) == Decimal("1020")
    entry = LedgerEntry.objects.get(idempotency_key="stripe:cs_test_abc")
    assert (entry.kind, entry.amount, entry.pk) == ("deposit", Decimal("20"), pending.ledger_entry_id)

    # The same event again (a Stripe retry), re-signed at a later time, at the new notify URL too.
    notify = reverse("dashboard:payment_notify", args=[card.pk])
    assert post_event(client, body, sign(body, WEBHOOK_SECRET, timestamp=int(time.time()) + 5)).status_code == 200
    assert post_event(client, body, url=notify).status_code == 200
    # A second, distinct event for the same session: stored, nothing more credited.
    later = session_event(pending, "checkout.session.async_payment_succeeded", event_id="evt_async")
    assert post_event(client, later, url=notify).status_code == 200
    assert balance(customer) == Decimal("1020")
    assert LedgerEntry.objects.filter(user=customer, kind="deposit").count() == 2  # test funds + this one
    events = {e.event_id: e for e in GatewayEvent.objects.all()}
    assert set(events) == {"evt_completed", "evt_async"}
    assert all(e.processed and e.deposit_id == pending.pk for e in events.values())
    assert events["evt_completed"].payload["raw"] == json.loads(body)
    assert ledger_drift() == []


def test_funds_history_shows_the_card_deposit_and_return_says_succeeded(client, customer, pending):
    post_event(client, session_event(pending))
    client.force_login(customer)
    response = client.get(reverse("dashboard:deposit_return", args=[pending.pk]), follow=True)
    body = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("dashboard:funds")
    assert "Payment succeeded" in body and f"Deposit {pending.pk} via Card (Stripe)" in body


def test_return_before_the_webhook_asks_stripe_and_says_pending(logged_in, customer, pending, fake_stripe):
    fake_stripe.sessions["cs_test_abc"] = {
        "id": "cs_test_abc",
        "object": "checkout.session",
        "status": "open",
        "payment_status": "unpaid",
        "amount_total": 2000,
        "currency": "usd",
        "metadata": {"deposit_id": str(pending.pk)},
    }
    url = reverse("dashboard:deposit_return", args=[pending.pk])
    body = logged_in.get(url, follow=True).content.decode()
    assert "Payment pending" in body and "Your deposits" in body and f"#{pending.pk}" in body
    assert "not confirmed" in logged_in.get(url + "?cancelled=1", follow=True).content.decode()
    assert balance(customer) == Decimal("1000")
    # Once Stripe's session is paid, the return's own lookup credits it (no webhook needed).
    fake_stripe.sessions["cs_test_abc"].update(status="complete", payment_status="paid")
    assert "Payment succeeded" in logged_in.get(url, follow=True).content.decode()
    assert balance(customer) == Decimal("1020")


def test_customers_cannot_see_each_others_deposits(client_for, other, pending):
    client = client_for(other)
    assert client.get(reverse("dashboard:deposit_return", args=[pending.pk])).status_code == 404
    assert client.get(reverse("dashboard:deposit_pay", args=[pending.pk])).status_code == 404
    assert client.get(reverse("dashboard:deposit_status", args=[pending.pk])).status_code == 404
    assert f"#{pending.pk}" not in client.get(reverse("dashboard:add_funds")).content.decode()


@pytest.mark.parametrize("signature", [None, "", "t=123,v1=deadbeef", "garbage"])
def test_a_bad_signature_is_refused_with_400_and_nothing_stored(client, customer, pending, signature):
    body = session_event(pending)
    if signature is None:
        signature = sign(body, secret="whsec_someone_else")
    assert post_event(client, body, signature).status_code == 400
    assert GatewayEvent.objects.count() == 0 and balance(customer) == Decimal("1000")


def test_a_tampered_or_stale_body_is_refused(client, customer, pending):
    body = session_event(pending)
    tampered = body.replace('"amount_total": 2000', '"amount_total": 200000')
    assert post_event(client, tampered, sign(body, WEBHOOK_SECRET)).status_code == 400
    stale = sign(body, WEBHOOK_SECRET, timestamp=int(time.time()) - 3600)
    assert post_event(client, body, stale).status_code == 400
    assert post_event(client, "not json", sign("not json", WEBHOOK_SECRET)).status_code == 400
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
    assert GatewayEvent.objects.get().needs_review
    assert ledger_drift() == []


def test_an_event_for_another_session_of_the_same_deposit_is_flagged(client, customer, pending):
    body = session_event(pending)
    event = json.loads(body)
    event["data"]["object"]["id"] = "cs_test_other"
    assert post_event(client, json.dumps(event)).status_code == 200
    pending.refresh_from_db()
    assert pending.needs_review and balance(customer) == Decimal("1000")


def test_expired_and_failed_events_close_the_deposit_without_money(client, customer, pending, card):
    assert (
        post_event(client, session_event(pending, "checkout.session.expired", payment_status="unpaid")).status_code
        == 200
    )
    pending.refresh_from_db()
    assert pending.status == "expired"

    failing = Deposit.objects.create(
        user=customer,
        method=card,
        gateway="stripe",
        amount=Decimal("30"),
        charge_amount=Decimal("30"),
        charge_currency="USD",
        status="pending",
        external_id="cs_test_async",
    )
    body = session_event(failing, "checkout.session.async_payment_failed", event_id="evt_f", payment_status="unpaid")
    post_event(client, body)
    failing.refresh_from_db()
    assert failing.status == "failed" and balance(customer) == Decimal("1000")


def test_a_paid_deposit_is_never_downgraded_by_a_late_expiry(client, customer, pending):
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


def test_unknown_events_and_unknown_deposits_are_stored_and_acknowledged(client, customer, pending):
    other = json.dumps({"id": "evt_x", "object": "event", "type": "customer.created", "data": {"object": {}}})
    assert post_event(client, other).status_code == 200
    orphan = json.loads(session_event(pending, event_id="evt_orphan"))
    orphan["data"]["object"]["metadata"] = {"deposit_id": "999999"}
    orphan["data"]["object"]["client_reference_id"] = "999999"
    assert post_event(client, json.dumps(orphan)).status_code == 200
    stored = {e.event_id: e for e in GatewayEvent.objects.all()}
    assert stored["evt_x"].type == "ignored" and stored["evt_x"].processed and not stored["evt_x"].needs_review
    assert stored["evt_orphan"].deposit is None and "No deposit" in stored["evt_orphan"].outcome
    assert stored["evt_orphan"].needs_review
    assert balance(customer) == Decimal("1000")


def test_a_card_deposit_earns_the_referrer_one_commission(client, customer, pending, db):
    referrer = User.objects.create(username="referrer")
    Affiliate.objects.filter(pk=affiliate_get(user=referrer).pk).update(commission_percent=Decimal("10"))
    assert referral_record(user=customer, code=Affiliate.objects.get(user=referrer).code)
    post_event(client, session_event(pending, event_id="evt_1"))
    post_event(client, session_event(pending, "checkout.session.async_payment_succeeded", event_id="evt_2"))
    commission = Commission.objects.get()
    assert (commission.gateway_deposit, commission.deposit, commission.amount) == (pending, None, Decimal("2"))
    assert commission.payout is None  # earned, paid out when the referrer asks
    assert balance(referrer) == Decimal("0")
    assert ledger_drift() == []
