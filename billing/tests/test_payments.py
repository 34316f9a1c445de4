"""billing.payments beyond the per-gateway flows: what a deposit costs (fee, bonus, rate), the rules
report_apply follows for partial and over-payments and for reports that do not add up, bonuses as
their own ledger kind, the sweep, the notify view's refusals, and payouts of commissions."""

import json
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from accounts.ledger import ledger_drift
from accounts.models import LedgerEntry, User
from billing.affiliates import PayoutError, payout_credit, payout_reject, payout_request_create
from billing.gateways.base import GatewayError, Outcome, Report
from billing.models import (
    Affiliate,
    AffiliateSettings,
    BonusTier,
    Commission,
    Deposit,
    DepositRequest,
    GatewayEvent,
    PaymentMethod,
    PayoutRequest,
    Reversal,
)
from billing.payments import (
    SWEEP_AFTER,
    DepositError,
    deposit_create,
    deposit_start,
    deposits_sweep,
    quote,
    report_apply,
    reversal_apply,
)
from billing.services import deposit_approve, deposit_request_create
from testing.concurrency import run_together
from testing.gateways.stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe


@pytest.fixture
def fake(settings):
    settings.PANEL_CURRENCY = "USD"
    running = FakeStripe()
    running.start()
    settings.PAYMENT_GATEWAY_BASE_URLS = {"stripe": running.url}
    yield running
    running.stop()


@pytest.fixture
def card(db, settings):
    settings.PANEL_CURRENCY = "USD"
    method = PaymentMethod(name="Card", kind="stripe", min_amount=Decimal("5"), max_amount=Decimal("1000"))
    method.set_secret_values({"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET})
    method.save()
    return method


def balance(user) -> Decimal:
    return User.objects.get(pk=user.pk).balance


def open_deposit(user, method, amount="100", **extra) -> Deposit:
    deposit = deposit_create(user=user, method=method, amount=Decimal(amount))
    Deposit.objects.filter(pk=deposit.pk).update(status="pending", external_id=f"cs_{deposit.pk}", **extra)
    deposit.refresh_from_db()
    return deposit


def paid(deposit, *, amount=None, currency=None, outcome=Outcome.PAID, tx=None, event=None) -> Report:
    return Report(
        outcome=outcome,
        deposit_id=deposit.pk,
        event_id=event or f"evt_{deposit.pk}_{outcome}_{amount}",
        transaction_id=tx or f"tx_{deposit.pk}",
        external_id=deposit.external_id,
        amount=deposit.charge_amount if amount is None else Decimal(amount),
        currency=currency or deposit.charge_currency,
    )


# --- What a deposit costs -------------------------------------------------------------------------


def test_quote_adds_the_fee_on_top_converts_at_the_rate_and_shows_the_bonus(card, db):
    BonusTier.objects.create(min_amount=Decimal("100"), percent=Decimal("5"))
    BonusTier.objects.create(min_amount=Decimal("500"), percent=Decimal("10"))
    BonusTier.objects.create(min_amount=Decimal("50"), percent=Decimal("50"), enabled=False)
    card.fee_percent, card.fee_fixed = Decimal("2.9"), Decimal("0.30")
    card.currency, card.rate = "EUR", Decimal("0.92")
    q = quote(card, Decimal("100"))
    assert (q.fee, q.total, q.bonus_percent, q.bonus) == (Decimal("3.20"), Decimal("103.20"), 5, Decimal("5"))
    assert (q.charge_amount, q.charge_currency, q.rate) == (Decimal("94.95"), "EUR", Decimal("0.92"))  # 94.944 up
    assert quote(card, Decimal("600")).bonus == Decimal("60")
    assert quote(card, Decimal("60")).bonus == 0
    card.currency = ""  # the panel's own currency: rate 1 whatever is typed
    assert quote(card, Decimal("10")).charge_amount == Decimal("10.59")


def test_a_deposit_records_what_was_shown(customer, card):
    BonusTier.objects.create(min_amount=Decimal("100"), percent=Decimal("5"))
    card.fee_percent, card.currency, card.rate = Decimal("1"), "INR", Decimal("80")
    card.save()
    deposit = deposit_create(user=customer, method=card, amount=Decimal("100"))
    assert (deposit.amount, deposit.fee, deposit.bonus) == (Decimal("100"), Decimal("1"), Decimal("5"))
    assert (deposit.charge_amount, deposit.charge_currency, deposit.rate) == (Decimal("8080"), "INR", Decimal("80"))
    assert deposit.gateway == "stripe" and deposit.status == "created"


@pytest.mark.parametrize(
    ("change", "amount", "message"),
    [
        ({}, "4.99", "minimum"),
        ({}, "1000.01", "maximum"),
        ({"enabled": False}, "10", "not available"),
        ({"kind": "manual"}, "10", "deposit requests"),
        ({"secrets": ""}, "10", "not available"),
    ],
)
def test_deposits_outside_what_the_method_allows_are_refused(customer, card, settings, change, amount, message):
    settings.STRIPE_SECRET_KEY = settings.STRIPE_WEBHOOK_SECRET = ""
    for name, value in change.items():
        setattr(card, name, value)
    card.save()
    with pytest.raises(DepositError, match=message):
        deposit_create(user=customer, method=card, amount=Decimal(amount))
    assert not Deposit.objects.exists()


def test_an_unreachable_gateway_fails_the_deposit_with_a_message_and_no_secret(customer, card, settings):
    settings.PAYMENT_GATEWAY_BASE_URLS = {"stripe": "http://127.0.0.1:9"}
    deposit = deposit_create(user=customer, method=card, amount=Decimal("10"))
    with pytest.raises(GatewayError):
        deposit_start(deposit=deposit, return_url="http://x/r", cancel_url="http://x/c", notify_url="http://x/n")
    deposit.refresh_from_db()
    assert deposit.status == "failed" and "APIConnectionError" in deposit.note and SECRET_KEY not in deposit.note


# --- report_apply's rules ---------------------------------------------------------------------------


def test_a_paid_deposit_credits_its_bonus_as_its_own_ledger_kind_once(customer, card):
    BonusTier.objects.create(min_amount=Decimal("100"), percent=Decimal("5"))
    deposit = open_deposit(customer, card)
    report_apply(method=card, report=paid(deposit))
    report_apply(method=card, report=paid(deposit, event="evt_again"))
    assert balance(customer) == Decimal("1105")
    bonus = LedgerEntry.objects.get(idempotency_key=f"bonus:{deposit.pk}")
    assert (bonus.kind, bonus.amount) == ("bonus", Decimal("5"))
    assert LedgerEntry.objects.get(idempotency_key=f"stripe:tx_{deposit.pk}").amount == Decimal("100")
    assert ledger_drift() == []


def test_an_underpayment_reported_as_partial_credits_what_arrived_at_the_rate_without_bonus(customer, card):
    BonusTier.objects.create(min_amount=Decimal("10"), percent=Decimal("10"))
    card.fee_percent, card.currency, card.rate = Decimal("2"), "EUR", Decimal("0.5")
    card.save()
    deposit = open_deposit(customer, card)  # 100 + 2 fee = 102 USD = 51 EUR
    assert deposit.charge_amount == Decimal("51")
    outcome = report_apply(method=card, report=paid(deposit, amount="25.5", outcome=Outcome.PARTIAL))
    deposit.refresh_from_db()
    assert (deposit.status, deposit.credited, deposit.received_amount) == ("partial", Decimal("50"), Decimal("25.5"))
    assert deposit.needs_review and "Partly paid" in outcome
    assert balance(customer) == Decimal("1050") and not LedgerEntry.objects.filter(kind="bonus").exists()
    # The rest arriving later is for staff: nothing more is credited by itself.
    report_apply(method=card, report=paid(deposit, outcome=Outcome.PAID, tx="tx_second", event="evt_rest"))
    assert balance(customer) == Decimal("1050")


def test_an_overpayment_credits_what_arrived_and_is_flagged(customer, card):
    deposit = open_deposit(customer, card)
    report_apply(method=card, report=paid(deposit, amount="110"))
    deposit.refresh_from_db()
    assert (deposit.status, deposit.credited, deposit.needs_review) == ("paid", Decimal("110"), True)
    assert balance(customer) == Decimal("1110")


@pytest.mark.parametrize(
    ("amount", "currency", "tx", "note"),
    [
        ("99.99", None, None, "wrong amount"),
        (None, "EUR", None, "wrong currency"),
        (None, None, "", "without a transaction ID"),
    ],
)
def test_reports_that_do_not_add_up_credit_nothing_and_are_flagged(customer, card, amount, currency, tx, note):
    deposit = open_deposit(customer, card)
    report = paid(deposit, amount=amount, currency=currency)
    if tx is not None:
        report = Report(**{**report.__dict__, "transaction_id": tx})
    assert note in report_apply(method=card, report=report)
    deposit.refresh_from_db()
    assert deposit.needs_review and deposit.status == "pending" and balance(customer) == Decimal("1000")
    assert GatewayEvent.objects.get().needs_review


def test_one_transaction_never_credits_two_deposits(customer, card):
    first, second = open_deposit(customer, card), open_deposit(customer, card)
    report_apply(method=card, report=paid(first, tx="tx_same"))
    report_apply(method=card, report=paid(second, tx="tx_same"))
    second.refresh_from_db()
    assert second.needs_review and second.ledger_entry_id is None and balance(customer) == Decimal("1100")


def test_a_report_through_another_method_of_the_same_gateway_is_left_for_the_deposits_own(customer, card):
    """Razorpay and Stripe send every event of an account to every webhook URL on it: a second
    method on the account gets the first one's events. Its copy changes nothing and flags nothing;
    the event stays unprocessed, so the copy reaching the deposit's own method credits it, once."""
    other = PaymentMethod.objects.create(name="Card 2", kind="stripe")
    deposit = open_deposit(customer, card)
    report = paid(deposit)
    assert "left for that method" in report_apply(method=other, report=report)
    deposit.refresh_from_db()
    event = GatewayEvent.objects.get(gateway="stripe", event_id=report.event_id)
    assert not deposit.needs_review and deposit.ledger_entry_id is None and balance(customer) == Decimal("1000")
    assert not event.processed and not event.needs_review

    assert report_apply(method=card, report=report).startswith("Paid")
    assert report_apply(method=other, report=report).startswith("Replayed")
    deposit.refresh_from_db()
    event.refresh_from_db()
    assert deposit.status == "paid" and not deposit.needs_review and balance(customer) == Decimal("1100")
    assert event.processed and event.method_id == card.pk and event.deposit_id == deposit.pk


# --- Refunds and disputes -------------------------------------------------------------------------


def credited(customer, card) -> Deposit:
    deposit = open_deposit(customer, card)
    report_apply(method=card, report=paid(deposit))
    deposit.refresh_from_db()
    assert deposit.status == "paid"
    return deposit


def back(deposit, outcome, amount, *, tx, event) -> Report:
    return Report(
        outcome=outcome,
        deposit_id=deposit.pk,
        event_id=event,
        transaction_id=tx,
        external_id=deposit.external_id,
        amount=Decimal(amount),
        currency=deposit.charge_currency,
    )


def test_two_refunds_of_the_same_amount_are_two_reversals_and_each_is_recorded_once(customer, card):
    deposit = credited(customer, card)
    report_apply(method=card, report=back(deposit, Outcome.REFUNDED, "30", tx="rfnd_1", event="e1"))
    report_apply(method=card, report=back(deposit, Outcome.REFUNDED, "30", tx="rfnd_2", event="e2"))
    # The same refunds again, through other events (Razorpay's refund.processed and
    # payment.refunded, a lookup): nothing more.
    report_apply(method=card, report=back(deposit, Outcome.REFUNDED, "30", tx="rfnd_1", event="e3"))
    outcome = report_apply(method=card, report=back(deposit, Outcome.REFUNDED, "30", tx="rfnd_2", event="e4"))
    assert "already recorded" in outcome
    reversals = Reversal.objects.filter(deposit=deposit).order_by("pk")
    assert [(r.transaction_id, r.gateway_amount, r.amount) for r in reversals] == [
        ("rfnd_1", Decimal("30"), Decimal("30")),
        ("rfnd_2", Decimal("30"), Decimal("30")),
    ]
    assert balance(customer) == Decimal("1100")  # staff decide; nothing taken yet


def test_a_dispute_and_the_reversal_that_settles_it_are_one_reversal(customer, card):
    deposit = credited(customer, card)
    report_apply(method=card, report=back(deposit, Outcome.CHARGEBACK, "100", tx="PP-D-1", event="d1"))
    # PayPal settles the lost dispute by reversing the capture: the same money, another ID.
    outcome = report_apply(method=card, report=back(deposit, Outcome.CHARGEBACK, "100", tx="REV-1", event="r1"))
    assert "settles dispute PP-D-1" in outcome
    report_apply(method=card, report=back(deposit, Outcome.CHARGEBACK, "100", tx="REV-1", event="r2"))
    [dispute] = Reversal.objects.filter(deposit=deposit)
    assert (dispute.transaction_id, dispute.settled_by, dispute.amount) == ("PP-D-1", "REV-1", Decimal("100"))
    # A dispute stands for its own money once: a later refund of the same amount is new money.
    report_apply(method=card, report=back(deposit, Outcome.REFUNDED, "100", tx="rfnd_9", event="f1"))
    assert Reversal.objects.filter(deposit=deposit).count() == 2


def test_a_reversal_after_staff_dismissed_the_dispute_is_recorded(customer, card, admin_user):
    deposit = credited(customer, card)
    report_apply(method=card, report=back(deposit, Outcome.CHARGEBACK, "100", tx="disp_1", event="d1"))
    dispute = Reversal.objects.get(deposit=deposit)
    Reversal.objects.filter(pk=dispute.pk).update(status=Reversal.Status.DISMISSED)
    report_apply(method=card, report=back(deposit, Outcome.REFUNDED, "100", tx="rfnd_1", event="r1"))
    assert Reversal.objects.filter(deposit=deposit, status=Reversal.Status.OPEN, transaction_id="rfnd_1").exists()


def test_reversals_without_a_gateway_id_are_told_apart_by_kind_and_amount(customer, card):
    deposit = credited(customer, card)
    for event in ("a", "b"):
        report_apply(method=card, report=back(deposit, Outcome.REFUNDED, "40", tx="", event=event))
    report_apply(method=card, report=back(deposit, Outcome.REFUNDED, "20", tx="", event="c"))
    assert sorted(Reversal.objects.filter(deposit=deposit).values_list("gateway_amount", flat=True)) == [
        Decimal("20"),
        Decimal("40"),
    ]


def test_a_reversal_applied_by_staff_reading_russian_writes_an_english_memo(customer, card, admin_user):
    deposit = credited(customer, card)
    report_apply(method=card, report=back(deposit, Outcome.REFUNDED, "30", tx="rfnd_1", event="e1"))
    reversal = Reversal.objects.get(deposit=deposit)
    with translation.override("ru"):
        # Russian is active (the kind's label is Russian), yet the stored memo is English.
        assert reversal.get_kind_display() != "Refund"
        assert reversal_apply(reversal_id=reversal.pk, actor_id=admin_user.pk, note="checked")
    reversal.refresh_from_db()
    entry = LedgerEntry.objects.get(pk=reversal.ledger_entry_id)
    assert entry.memo == f"Refund of deposit {deposit.pk}"
    assert entry.amount == Decimal("-30")


def test_a_reversal_reported_while_russian_is_active_leaves_an_english_note(customer, card):
    # The gateway's notification request may carry any Accept-Language: the stored note is English.
    deposit = credited(customer, card)
    with translation.override("ru"):
        report_apply(method=card, report=back(deposit, Outcome.REFUNDED, "30", tx="rfnd_ru", event="ru1"))
    deposit.refresh_from_db()
    reversal = Reversal.objects.get(deposit=deposit)
    assert deposit.note == f"Refund of 30 {deposit.charge_currency} reported: review reversal {reversal.pk}."


def test_a_manual_deposit_credits_its_bonus_on_approval(customer, db):
    BonusTier.objects.create(min_amount=Decimal("100"), percent=Decimal("10"))
    bank = PaymentMethod.objects.create(name="Bank", fee_fixed=Decimal("1"))
    request = deposit_request_create(user=customer, method=bank, amount=Decimal("200"))
    assert (request.fee, request.bonus) == (Decimal("1"), Decimal("20"))
    assert deposit_approve(deposit_id=request.pk) and not deposit_approve(deposit_id=request.pk)
    assert balance(customer) == Decimal("1220")
    assert LedgerEntry.objects.get(idempotency_key=f"bonus:request:{request.pk}").kind == "bonus"


# --- The sweep and the notify view ------------------------------------------------------------------


def test_the_sweep_asks_the_gateway_and_credits_once_however_often_it_runs(customer, card, fake):
    deposit = deposit_create(user=customer, method=card, amount=Decimal("20"))
    checkout = deposit_start(deposit=deposit, return_url="http://x/r", cancel_url="http://x/c", notify_url="http://x")
    later = timezone.now() + SWEEP_AFTER
    assert deposits_sweep(now=later) == 1  # unpaid: asked, still open
    assert Deposit.objects.get(pk=deposit.pk).status == "pending"
    fake.pay(checkout.external_id)
    deposits_sweep(now=later)
    deposits_sweep(now=later)
    assert Deposit.objects.get(pk=deposit.pk).status == "paid" and balance(customer) == Decimal("1020")
    assert deposits_sweep(now=later) == 0  # nothing open is left to ask about


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_credit_once(customer, card, fake):
    deposit = deposit_create(user=customer, method=card, amount=Decimal("20"))
    checkout = deposit_start(deposit=deposit, return_url="http://x/r", cancel_url="http://x/c", notify_url="http://x")
    fake.pay(checkout.external_id)
    later = timezone.now() + SWEEP_AFTER
    run_together(4, lambda index: deposits_sweep(now=later))
    assert balance(customer) == Decimal("1020") and ledger_drift() == []


def test_the_notify_view_refuses_what_it_cannot_trust_and_never_fails(client, card, db):
    manual = PaymentMethod.objects.create(name="Bank")
    assert client.post(reverse("dashboard:payment_notify", args=[manual.pk]), {}).status_code == 404
    assert client.post(reverse("dashboard:payment_notify", args=[999999]), {}).status_code == 404
    url = reverse("dashboard:payment_notify", args=[card.pk])
    for body in (b"", b"\x00\xff", b"{}", b"[1,2]", b"x" * 100_000):
        assert client.post(url, data=body, content_type="application/json").status_code == 400
    assert client.put(url, data=b"{}").status_code == 405
    assert not GatewayEvent.objects.exists()


# --- Affiliate payouts ----------------------------------------------------------------------------


@pytest.fixture
def referrer(customer, db):
    """A referrer with 12 earned on two approved manual deposits of their referral."""
    user = User.objects.create(username="referrer")
    Affiliate.objects.create(user=user, code="REF1", commission_percent=Decimal("10"))
    Affiliate.objects.create(user=customer, code="BUY1", referred_by=user)
    bank = PaymentMethod.objects.create(name="Bank")
    for amount in ("70", "50"):
        deposit_approve(deposit_id=DepositRequest.objects.create(user=customer, method=bank, amount=amount).pk)
    return user


def test_commissions_accrue_and_a_payout_takes_them_all(referrer):
    assert balance(referrer) == 0
    AffiliateSettings.objects.update_or_create(pk=1, defaults={"payout_threshold": Decimal("15")})
    with pytest.raises(PayoutError, match="start at 15"):
        payout_request_create(user=referrer)
    AffiliateSettings.objects.filter(pk=1).update(payout_threshold=Decimal("12"))
    payout = payout_request_create(user=referrer)
    assert payout.amount == Decimal("12") and payout.commissions.count() == 2
    with pytest.raises(PayoutError, match="already"):
        payout_request_create(user=referrer)
    assert payout_credit(payout_id=payout.pk, actor_id=None) and not payout_credit(payout_id=payout.pk, actor_id=None)
    assert balance(referrer) == Decimal("12")
    with pytest.raises(PayoutError):
        payout_request_create(user=referrer)  # nothing unpaid is left
    assert ledger_drift() == []


def test_a_rejected_payout_leaves_its_commissions_to_ask_again(referrer):
    payout = payout_request_create(user=referrer)
    assert payout_reject(payout_id=payout.pk, actor_id=None, note="verify first")
    assert Commission.objects.filter(payout__isnull=True).count() == 2
    assert payout_request_create(user=referrer).amount == Decimal("12")


def test_commissions_credited_before_payouts_existed_are_not_paid_again(referrer):
    Commission.objects.update(credited_at_deposit=True)
    with pytest.raises(PayoutError):
        payout_request_create(user=referrer)


@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_once_make_one_payout_request(referrer):
    def click(index):
        try:
            return payout_request_create(user=User.objects.get(pk=referrer.pk)).pk
        except PayoutError:
            return None

    results = run_together(6, click)
    assert len([r for r in results if r]) == 1
    assert PayoutRequest.objects.count() == 1 and PayoutRequest.objects.get().amount == Decimal("12")


def test_the_affiliates_page_asks_for_a_payout(referrer, plain_static_storage):
    client = Client()
    client.force_login(referrer)
    page = client.get(reverse("dashboard:affiliates")).content.decode()
    assert "Request a payout of $12.00" in page
    response = client.post(reverse("dashboard:affiliate_payout"), follow=True)
    payout = PayoutRequest.objects.get()
    assert f"Payout request {payout.pk} sent" in response.content.decode()
    assert "waiting for review" in response.content.decode()
    response = client.post(reverse("dashboard:affiliate_payout"), follow=True)
    assert "already have a payout request" in response.content.decode()
    assert PayoutRequest.objects.count() == 1


def test_stripe_names_each_refund_by_its_own_id_and_amount(db):
    """charge.refunded carries the charge, whose amount_refunded is the total so far: the report is
    the newest refund in the charge's refunds list (ID and amount), or, without the list, the
    difference from previous_attributes under the charge's ID and new total."""
    from billing.gateways.base import StartRequest
    from billing.gateways.stripe import StripeGateway
    from testing.gateways.stripe import Driver, incoming

    with Driver() as driver:
        gateway = StripeGateway(driver.config(), base_url=driver.base_url)
        checkout = gateway.start(
            StartRequest(
                deposit_id=7,
                amount=Decimal("20"),
                currency="USD",
                description="Deposit 7",
                customer_email="c@example.com",
                customer_name="c",
                return_url="http://testserver/back/",
                cancel_url="http://testserver/back/?cancelled=1",
                notify_url="http://testserver/notify/",
            )
        )
        driver.pay(checkout)
        session = driver.fake.sessions[checkout.external_id]
        charge = {
            "id": "ch_1",
            "object": "charge",
            "amount": 2000,
            "amount_refunded": 1000,
            "currency": "usd",
            "payment_intent": session["payment_intent"],
            "refunds": {"object": "list", "data": [{"id": "re_2", "amount": 500}, {"id": "re_1", "amount": 500}]},
        }

        def refunded(obj, event_id, previous=None):
            data = {"object": obj, **({"previous_attributes": previous} if previous else {})}
            body = json.dumps({"id": event_id, "object": "event", "type": "charge.refunded", "data": data})
            [report] = gateway.verify(incoming(body))
            return report

        second = refunded(charge, "evt_2")
        assert (second.transaction_id, second.amount, second.deposit_id) == ("re_2", Decimal("5"), 7)
        bare = {k: v for k, v in charge.items() if k != "refunds"}
        report = refunded(bare, "evt_3", previous={"amount_refunded": 500})
        assert (report.transaction_id, report.amount) == ("ch_1:refunded:1000", Decimal("5"))
