"""Gateway payments in the backoffice: read-only lists with filters, each payment with its raw events,
and the customer's page listing their card payments."""

from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import GatewayEvent, GatewayPayment


@pytest.fixture
def paid(customer):
    payment = GatewayPayment.objects.create(
        user=customer, amount=Decimal("20"), currency="USD", status="paid", external_id="cs_test_bo"
    )
    GatewayEvent.objects.create(
        event_id="evt_bo_1",
        type="checkout.session.completed",
        payload={"id": "evt_bo_1", "data": {"object": {"id": "cs_test_bo", "amount_total": 2000}}},
        payment=payment,
        processed=True,
        outcome="Paid: credited 20 USD.",
    )
    GatewayPayment.objects.create(
        user=customer, amount=Decimal("7"), currency="USD", status="pending", needs_review=True, note="mismatch"
    )
    return payment


def test_payment_list_filters_and_searches(as_admin, customer, paid):
    url = reverse("admin:billing_gatewaypayment_changelist")
    response = as_admin.get(url)
    assert response.status_code == 200 and response.context["cl"].result_count == 2
    assert as_admin.get(url, {"needs_review__exact": "1"}).context["cl"].result_count == 1
    assert as_admin.get(url, {"status__exact": "paid"}).context["cl"].result_count == 1
    assert as_admin.get(url, {"customer": customer.username}).context["cl"].result_count == 2
    assert as_admin.get(url, {"q": "cs_test_bo"}).context["cl"].result_count == 1


def test_payment_page_shows_its_raw_events_read_only(as_admin, paid):
    response = as_admin.get(reverse("admin:billing_gatewaypayment_change", args=[paid.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "evt_bo_1" in body and "checkout.session.completed" in body and "&quot;amount_total&quot;: 2000" in body
    assert 'name="_save"' not in body
    assert as_admin.get(reverse("admin:billing_gatewaypayment_add")).status_code == 403
    assert (
        as_admin.post(reverse("admin:billing_gatewaypayment_delete", args=[paid.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert GatewayPayment.objects.filter(pk=paid.pk).exists()


def test_event_list_and_page(as_admin, paid):
    response = as_admin.get(reverse("admin:billing_gatewayevent_changelist"), {"type": "checkout.session.completed"})
    assert response.status_code == 200 and "evt_bo_1" in response.content.decode()
    event = GatewayEvent.objects.get()
    body = as_admin.get(reverse("admin:billing_gatewayevent_change", args=[event.pk])).content.decode()
    assert "cs_test_bo" in body and "Paid: credited 20 USD." in body


def test_customer_page_lists_card_payments(as_admin, customer, paid):
    body = as_admin.get(reverse("admin:accounts_user_change", args=[customer.pk])).content.decode()
    assert "Card payments" in body and reverse("admin:billing_gatewaypayment_change", args=[paid.pk]) in body
    assert "needs review" in body
