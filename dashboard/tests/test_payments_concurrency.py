"""Stripe delivering the same session's events at once, on separate PostgreSQL connections."""

from decimal import Decimal

import pytest
from django.test import Client

from accounts.ledger import ledger_drift
from accounts.models import User
from billing.models import Deposit, GatewayEvent, PaymentMethod
from testing.concurrency import run_together

from .test_payments import post_event, session_event

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_deliveries_credit_once(customer, stripe_on):
    deposit = Deposit.objects.create(
        user=customer,
        method=PaymentMethod.objects.get_or_create(kind="stripe", defaults={"name": "Card (Stripe)"})[0],
        gateway="stripe",
        amount=Decimal("20"),
        charge_amount=Decimal("20"),
        charge_currency="USD",
        status="pending",
        external_id="cs_test_race",
    )
    bodies = [
        session_event(deposit, event_id="evt_race_completed"),
        session_event(deposit, "checkout.session.async_payment_succeeded", event_id="evt_race_async"),
    ]
    count = 8
    statuses = run_together(count, lambda index: post_event(Client(), bodies[index % 2]).status_code)
    assert statuses == [200] * count
    assert User.objects.get(pk=customer.pk).balance == Decimal("1020")
    assert GatewayEvent.objects.filter(processed=True).count() == 2
    assert ledger_drift() == []
