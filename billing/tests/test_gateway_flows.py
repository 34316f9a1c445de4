"""The same flow for every gateway, against its local fake (testing.gateways): create a deposit,
pay at the fake, deliver the fake's signed notification to our notify URL over the test client,
and check what was credited. Each gateway's Driver joins as soon as its module lands.

Only what leaves the project is faked (the gateway, by its fake server); the notify view, the
gateway module's verification, billing.payments and the ledger are the real ones.
"""

from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from accounts.ledger import ledger_drift
from accounts.models import LedgerEntry, User
from billing.gateways import GATEWAYS, gateway_class
from billing.models import Deposit, GatewayEvent, PaymentMethod, Reversal
from billing.payments import deposit_create, deposit_credit_manually, deposit_start, reversal_apply
from testing.concurrency import run_together
from testing.gateways import available_drivers, driver_class

CODES = available_drivers()
AMOUNT = Decimal("20")


@pytest.fixture(params=CODES)
def driver(request, settings):
    settings.PANEL_CURRENCY = "USD"
    with driver_class(request.param)() as running:
        settings.PAYMENT_GATEWAY_BASE_URLS = {running.code: running.base_url}
        yield running


def method_for(driver, **extra) -> PaymentMethod:
    """A method of the driver's gateway configured for the fake's merchant account."""
    secret_names = {field.name for field in gateway_class(driver.code).fields if field.secret}
    config = driver.config()
    method = PaymentMethod(
        name=f"{driver.code} test",
        kind=driver.code,
        currency=driver.currency,
        rate=Decimal("1") if driver.currency == "USD" else Decimal("2"),
        min_amount=Decimal("1"),
        settings={k: v for k, v in config.items() if k not in secret_names},
        **extra,
    )
    method.set_secret_values({k: v for k, v in config.items() if k in secret_names})
    method.save()
    return method


@pytest.fixture
def method(driver, db):
    return method_for(driver)


def outcomes(driver) -> tuple[str, ...]:
    return tuple(getattr(driver, "outcomes", ("paid",)))


def started(user, method, amount=AMOUNT):
    deposit = deposit_create(user=user, method=method, amount=amount)
    back = f"http://testserver{reverse('dashboard:deposit_return', args=[deposit.pk])}"
    checkout = deposit_start(
        deposit=deposit,
        return_url=back,
        cancel_url=f"{back}?cancelled=1",
        notify_url=f"http://testserver{reverse('dashboard:payment_notify', args=[method.pk])}",
    )
    deposit.refresh_from_db()
    return deposit, checkout


def deliver(method, incoming, client=None):
    """POST the notification to the method's notify URL as the gateway would."""
    client = client or Client()
    url = reverse("dashboard:payment_notify", args=[method.pk])
    if incoming.query:
        url += "?" + urlencode(incoming.query)
    body = incoming.body
    content_type = incoming.headers.get("content-type") or ""
    if incoming.form and not body:
        body = urlencode(incoming.form).encode()
    if not content_type:
        content_type = "application/x-www-form-urlencoded" if incoming.form else "application/json"
    headers = {k: v for k, v in incoming.headers.items() if k not in ("content-type", "content-length")}
    return client.generic(
        "POST",
        url,
        data=body,
        content_type=content_type,
        headers=headers,
        REMOTE_ADDR=incoming.remote_addr or "127.0.0.1",
    )


def balance(user) -> Decimal:
    return User.objects.get(pk=user.pk).balance


def paid_once(driver, customer, method):
    deposit, checkout = started(customer, method)
    driver.pay(checkout)
    response = deliver(method, driver.notification(checkout, outcome="paid"))
    assert response.status_code < 300, response.content
    deposit.refresh_from_db()
    if deposit.status != Deposit.Status.PAID:
        # A gateway may confirm in two steps (an approval, then the capture): deliver the next one.
        response = deliver(method, driver.notification(checkout, outcome="paid"))
        assert response.status_code < 300, response.content
        deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.PAID, deposit.note
    return deposit, checkout


def test_every_gateway_with_a_module_has_a_driver():
    """A gateway module that landed without its fake and driver would skip every flow test."""
    for code in GATEWAYS:
        try:
            gateway_class(code)
        except ImportError:
            continue
        assert code in CODES, f"{code} has a gateway module but no driver in testing.gateways"


def test_create_pay_notify_credits_once_and_replays_change_nothing(driver, method, customer):
    before = balance(customer)
    deposit, checkout = started(customer, method)
    assert deposit.status == Deposit.Status.PENDING
    assert (deposit.charge_amount, deposit.charge_currency) == (AMOUNT * method.rate, driver.currency)
    assert balance(customer) == before  # nothing before the gateway says so
    driver.pay(checkout)
    notification = driver.notification(checkout, outcome="paid")
    response = deliver(method, notification)
    assert response.status_code < 300
    deposit.refresh_from_db()
    if deposit.status != Deposit.Status.PAID:
        notification = driver.notification(checkout, outcome="paid")
        deliver(method, notification)
        deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.PAID and not deposit.needs_review, deposit.note
    assert balance(customer) == before + AMOUNT
    entry = LedgerEntry.objects.get(idempotency_key=f"{driver.code}:{deposit.transaction_id}")
    assert (entry.amount, entry.kind, entry.pk) == (AMOUNT, "deposit", deposit.ledger_entry_id)

    # The same notification again (a retry), and again: acknowledged, nothing more credited.
    for _ in range(2):
        assert deliver(method, notification).status_code < 300
    assert balance(customer) == before + AMOUNT
    assert LedgerEntry.objects.filter(user=customer, idempotency_key__startswith=f"{driver.code}:").count() == 1
    assert ledger_drift() == []


def test_a_tampered_notification_is_refused_and_credits_nothing(driver, method, customer):
    before = balance(customer)
    deposit, checkout = started(customer, method)
    driver.pay(checkout)
    response = deliver(method, driver.tamper(driver.notification(checkout, outcome="paid")))
    assert response.status_code >= 400 or b"error" in response.content.lower()
    deposit.refresh_from_db()
    assert deposit.status != Deposit.Status.PAID and deposit.ledger_entry_id is None
    assert balance(customer) == before
    assert not GatewayEvent.objects.filter(deposit=deposit, type="paid").exists()


def test_paying_less_than_asked_never_credits_the_full_amount(driver, method, customer):
    before = balance(customer)
    deposit, checkout = started(customer, method)
    driver.pay(checkout, amount=deposit.charge_amount / 2)
    for _ in range(2):  # two-step gateways: approval, then capture
        deliver(method, driver.notification(checkout, outcome="paid"))
    deposit.refresh_from_db()
    credited = balance(customer) - before
    assert credited < AMOUNT
    if credited:
        # An underpayment the gateway verified (crypto): what arrived, at the recorded rate, for staff to see.
        assert deposit.status == Deposit.Status.PARTIAL and deposit.needs_review
        assert credited == deposit.credited <= AMOUNT / 2
    else:
        assert deposit.status != Deposit.Status.PAID
    assert ledger_drift() == []


def test_paying_in_another_currency_credits_nothing(driver, method, customer):
    before = balance(customer)
    deposit, checkout = started(customer, method)
    other = "EUR" if driver.currency != "EUR" else "USD"
    try:
        driver.pay(checkout, currency=other)
    except (ValueError, NotImplementedError) as error:
        pytest.skip(f"{driver.code}: {error}")
    for _ in range(2):
        deliver(method, driver.notification(checkout, outcome="paid"))
    deposit.refresh_from_db()
    assert balance(customer) == before and deposit.ledger_entry_id is None
    assert deposit.status != Deposit.Status.PAID


def test_a_notification_for_an_unknown_deposit_credits_nothing(driver, method, customer):
    before = balance(customer)
    deposit, checkout = started(customer, method)
    driver.pay(checkout)
    notification = driver.notification(checkout, outcome="paid")
    Deposit.objects.filter(pk=deposit.pk).delete()  # ours is gone: the report matches nothing
    response = deliver(method, notification)
    assert response.status_code < 500
    assert balance(customer) == before
    assert not LedgerEntry.objects.filter(idempotency_key__startswith=f"{driver.code}:").exists()
    assert all(event.deposit_id is None for event in GatewayEvent.objects.all())


def test_a_late_notification_after_a_staff_credit_credits_nothing_more(driver, method, customer, admin_user):
    before = balance(customer)
    deposit, checkout = started(customer, method)
    driver.pay(checkout)
    assert deposit_credit_manually(deposit_id=deposit.pk, actor_id=admin_user.pk, note="customer sent a receipt")
    assert balance(customer) == before + AMOUNT
    for _ in range(2):
        assert deliver(method, driver.notification(checkout, outcome="paid")).status_code < 300
    deposit.refresh_from_db()
    assert balance(customer) == before + AMOUNT
    assert deposit.status == Deposit.Status.PAID and deposit.credited == AMOUNT
    assert ledger_drift() == []


def test_failed_after_paid_changes_nothing(driver, method, customer):
    if "failed" not in outcomes(driver):
        pytest.skip(f"{driver.code} reports no failures")
    before = balance(customer)
    deposit, checkout = paid_once(driver, customer, method)
    try:
        failed = driver.notification(checkout, outcome="failed")
    except (ValueError, KeyError, AssertionError) as error:
        pytest.skip(f"{driver.code} sends no failure after a payment: {error}")
    assert deliver(method, failed).status_code < 500
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.PAID and balance(customer) == before + AMOUNT


@pytest.mark.parametrize("outcome", ["refunded", "chargeback"])
def test_a_refund_or_chargeback_becomes_a_reversal_for_staff(driver, method, customer, admin_user, outcome):
    if outcome not in outcomes(driver):
        pytest.skip(f"{driver.code} reports no {outcome}")
    before = balance(customer)
    deposit, checkout = paid_once(driver, customer, method)
    notification = driver.notification(checkout, outcome=outcome)
    for _ in range(2):  # a redelivery records one reversal
        assert deliver(method, notification).status_code < 300
    deposit.refresh_from_db()
    reversal = Reversal.objects.get(deposit=deposit)
    assert reversal.status == Reversal.Status.OPEN and reversal.amount == AMOUNT
    assert deposit.needs_review and (deposit.refunded or deposit.charged_back)
    assert balance(customer) == before + AMOUNT  # nothing taken before staff decide

    # The customer spent most of it meanwhile: staff take back what the balance allows.
    User.objects.filter(pk=customer.pk).update(balance=Decimal("5"))
    LedgerEntry.objects.create(
        user=customer, kind="charge", amount=Decimal("5") - before - AMOUNT, balance_after=Decimal("5"), memo="spent"
    )
    assert reversal_apply(reversal_id=reversal.pk, actor_id=admin_user.pk, note="confirmed at the gateway")
    assert not reversal_apply(reversal_id=reversal.pk, actor_id=admin_user.pk)
    reversal.refresh_from_db()
    assert (reversal.recovered, reversal.not_recovered) == (Decimal("5"), AMOUNT - 5)
    assert balance(customer) == 0
    assert ledger_drift() == []


def test_forged_return_parameters_credit_nothing(driver, method, customer, client):
    before = balance(customer)
    deposit, _checkout = started(customer, method)
    client.force_login(customer)
    forged = {
        "status": "paid",
        "payment_status": "paid",
        "amount": str(deposit.charge_amount),
        "signature": "0" * 64,
        "razorpay_payment_id": "pay_forged",
        "PAYMENT_BATCH_NUM": "1",
        "m_status": "success",
    }
    response = client.get(reverse("dashboard:deposit_return", args=[deposit.pk]) + "?" + urlencode(forged))
    assert response.status_code == 302
    deposit.refresh_from_db()
    assert deposit.status in (Deposit.Status.PENDING, Deposit.Status.CREATED) and deposit.ledger_entry_id is None
    assert balance(customer) == before


@pytest.mark.django_db(transaction=True)
def test_the_same_notification_twenty_times_at_once_credits_once(driver, customer):
    method = method_for(driver)
    before = balance(customer)
    deposit, checkout = started(customer, method)
    driver.pay(checkout)
    notification = driver.notification(checkout, outcome="paid")
    statuses = run_together(20, lambda index: deliver(method, notification, Client()).status_code)
    assert all(status < 500 for status in statuses), statuses
    deposit.refresh_from_db()
    if deposit.status != Deposit.Status.PAID:  # two-step gateways: now the capture, 20 times
        notification = driver.notification(checkout, outcome="paid")
        run_together(20, lambda index: deliver(method, notification, Client()).status_code)
        deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.PAID
    assert balance(customer) == before + AMOUNT
    assert LedgerEntry.objects.filter(user=customer, idempotency_key__startswith=f"{driver.code}:").count() == 1
    assert ledger_drift() == []


def test_razorpay_events_reaching_a_second_method_on_the_account_are_left_for_the_deposits_own(settings, db, customer):
    """Razorpay sends every event of an account to every webhook URL on it. A second method on the
    same account receives the first one's payments: it acknowledges them and flags nothing, and
    the copy reaching the deposit's own method credits once."""
    settings.PANEL_CURRENCY = "USD"
    with driver_class("razorpay")() as running:
        settings.PAYMENT_GATEWAY_BASE_URLS = {"razorpay": running.base_url}
        own, second = method_for(running), method_for(running)
        before = balance(customer)
        deposit, checkout = started(customer, own)
        running.pay(checkout)
        notification = running.notification(checkout, outcome="paid")
        assert deliver(second, notification).status_code == 200
        deposit.refresh_from_db()
        assert deposit.status != Deposit.Status.PAID and not deposit.needs_review
        assert balance(customer) == before

        assert deliver(own, notification).status_code == 200
        assert deliver(second, notification).status_code == 200
        deposit.refresh_from_db()
        assert deposit.status == Deposit.Status.PAID and not deposit.needs_review
        assert balance(customer) == before + AMOUNT
        assert ledger_drift() == []
