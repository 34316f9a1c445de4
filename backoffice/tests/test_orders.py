"""Order actions: each one audited, each safe to submit twice, none able to refund twice."""

from decimal import ROUND_DOWN, Decimal

import pytest
from django.urls import reverse

from accounts.ledger import ledger_drift
from accounts.models import AuditLog, LedgerEntry
from backoffice import services
from catalog.models import Service, UpstreamService
from orders.forwarding import order_forward
from orders.models import ForwardState, Order, Status
from upstream.models import Provider


def url(order, action):
    return reverse("admin:bo_order_action", args=[order.pk, action])


def fresh(order) -> Order:
    return Order.objects.get(pk=order.pk)


def refunds(order) -> list[Decimal]:
    return list(LedgerEntry.objects.filter(order_id=order.pk, kind="refund").values_list("amount", flat=True))


@pytest.fixture
def unknown_order(place, sim):
    """An order the provider may have: the add was accepted, then the connection dropped."""
    order = place()
    sim.faults(drop_after_accept_rate=1.0)
    assert order_forward(order_id=order.pk) == "unknown"
    sim.faults(drop_after_accept_rate=0.0)
    order = fresh(order)
    assert order.needs_attention and order.forward_state == ForwardState.UNKNOWN
    return order


@pytest.fixture
def sent_order(place):
    order = place()
    assert order_forward(order_id=order.pk) == "sent"
    return fresh(order)


@pytest.fixture(autouse=True)
def ledger_adds_up(db):
    yield
    assert ledger_drift() == []


def test_resend_warns_then_sends_once_even_when_submitted_twice(as_admin, unknown_order, sim):
    page = as_admin.get(url(unknown_order, "resend"))
    assert b"may duplicate" in page.content
    # Without ticking the confirmation nothing happens.
    as_admin.post(url(unknown_order, "resend"), {})
    assert fresh(unknown_order).forward_state == ForwardState.UNKNOWN

    created = sim.stats()["orders_created"]
    as_admin.post(url(unknown_order, "resend"), {"confirm": "on"})
    as_admin.post(url(unknown_order, "resend"), {"confirm": "on"})
    order = fresh(unknown_order)
    assert order.forward_state == ForwardState.SENT and not order.needs_attention
    assert sim.stats()["orders_created"] <= created + 1
    rows = AuditLog.objects.filter(action="order.resend", object_id=str(order.pk))
    assert rows.count() == 1
    assert rows[0].before["forward_state"] == "unknown" and rows[0].after["forward_state"] == "queued"
    assert rows[0].actor.username == "boss"


def test_mark_sent_with_the_upstream_id_staff_found(as_admin, unknown_order, sim):
    as_admin.post(url(unknown_order, "mark_sent"), {"upstream_order_id": "10001"})
    as_admin.post(url(unknown_order, "mark_sent"), {"upstream_order_id": "10001"})
    order = fresh(unknown_order)
    assert order.forward_state == ForwardState.SENT and order.upstream_order_id == "10001"
    assert not order.needs_attention and order.next_check_at is not None
    assert AuditLog.objects.filter(action="order.mark_sent").count() == 1
    assert order.events.filter(kind="staff", message__contains="10001").exists()


def test_cancel_refunds_in_full_once_under_double_submit(as_admin, unknown_order, customer):
    customer.refresh_from_db()
    before = customer.balance
    for _ in range(3):
        response = as_admin.post(url(unknown_order, "cancel"), {"reason": "not at the provider"})
        assert response.status_code == 302
    order = fresh(unknown_order)
    customer.refresh_from_db()
    assert order.status == Status.CANCELED and order.refunded == order.charge
    assert refunds(order) == [order.charge]
    assert customer.balance == before + order.charge
    row = AuditLog.objects.get(action="order.mark_canceled")
    assert row.reason == "not at the provider"
    assert row.before["refunded"] == "0.00000" and Decimal(row.after["refund"]) == order.charge


def test_cancel_of_a_queued_order_stops_it_being_sent(as_admin, place, customer, sim):
    order = place()
    as_admin.post(url(order, "cancel"), {"reason": ""})
    order = fresh(order)
    assert order.forward_state == ForwardState.CANCELED and order.status == Status.CANCELED
    assert order_forward(order_id=order.pk) == "skipped"
    assert sim.stats()["orders_created"] == 0
    assert refunds(order) == [order.charge]


def test_partial_shows_the_exact_refund_then_refunds_it_once(as_admin, sent_order, customer):
    order = sent_order
    remains = order.units // 3
    expected = (order.charge * remains / order.units).quantize(Decimal("0.00001"), rounding=ROUND_DOWN)
    preview = as_admin.post(url(order, "partial"), {"remains": remains, "preview": "1"})
    assert f'id="bo-preview">{expected}<'.encode() in preview.content
    assert fresh(order).status != Status.PARTIAL  # a preview changes nothing

    customer.refresh_from_db()
    before = customer.balance
    for _ in range(2):
        as_admin.post(url(order, "partial"), {"remains": remains, "reason": "stopped at 2/3"})
    order = fresh(order)
    customer.refresh_from_db()
    assert order.status == Status.PARTIAL and order.remains == remains
    assert refunds(order) == [expected] and order.refunded == expected
    assert customer.balance == before + expected
    assert AuditLog.objects.filter(action="order.mark_partial").count() == 1


def test_correcting_partial_to_canceled_refunds_only_the_difference(sent_order, admin_staff):
    order = sent_order
    services.order_mark_final(
        order_id=order.pk, status=Status.PARTIAL, remains=order.units // 2, actor_id=admin_staff.pk
    )
    first = fresh(order).refunded
    services.order_mark_final(order_id=order.pk, status=Status.CANCELED, actor_id=admin_staff.pk)
    services.order_mark_final(order_id=order.pk, status=Status.CANCELED, actor_id=admin_staff.pk)
    order = fresh(order)
    assert order.refunded == order.charge
    assert sorted(refunds(order)) == sorted([first, order.charge - first])


def test_a_refund_is_never_taken_back(sent_order, admin_staff):
    services.order_mark_final(order_id=sent_order.pk, status=Status.CANCELED, actor_id=admin_staff.pk)
    with pytest.raises(services.ActionError, match="never taken back"):
        services.order_mark_final(order_id=sent_order.pk, status=Status.COMPLETED, actor_id=admin_staff.pk)
    with pytest.raises(services.ActionError):
        services.order_mark_final(order_id=sent_order.pk, status=Status.PARTIAL, remains=1, actor_id=admin_staff.pk)
    assert fresh(sent_order).status == Status.CANCELED


def test_partial_remains_must_be_inside_the_order(sent_order, admin_staff):
    for remains in (0, sent_order.units, sent_order.units + 5):
        with pytest.raises(services.ActionError):
            services.order_mark_final(
                order_id=sent_order.pk, status=Status.PARTIAL, remains=remains, actor_id=admin_staff.pk
            )
    assert not AuditLog.objects.exists()


def test_mark_completed_refunds_nothing_and_is_idempotent(as_admin, sent_order, customer):
    customer.refresh_from_db()
    balance = customer.balance
    as_admin.post(url(sent_order, "complete"), {"reason": "delivered"})
    as_admin.post(url(sent_order, "complete"), {"reason": "delivered"})
    order = fresh(sent_order)
    customer.refresh_from_db()
    assert order.status == Status.COMPLETED and order.remains == 0
    assert customer.balance == balance and refunds(order) == []
    assert AuditLog.objects.filter(action="order.mark_completed").count() == 1


def test_a_never_sent_order_can_only_be_canceled(place, admin_staff):
    order = place()
    with pytest.raises(services.ActionError, match="never reached"):
        services.order_mark_final(order_id=order.pk, status=Status.COMPLETED, actor_id=admin_staff.pk)


def test_recheck_now_asks_the_provider_and_audits(as_admin, sent_order, sim):
    sim.clock.advance(3600)
    as_admin.post(url(sent_order, "recheck"))
    order = fresh(sent_order)
    assert order.is_final and order.settled_at is not None
    row = AuditLog.objects.get(action="order.recheck")
    assert row.before["status"] == "Pending" and row.after["status"] == order.status


def test_move_to_another_providers_equivalent_service(as_admin, unknown_order, sim, admin_staff):
    other = Provider.objects.create(name="second", api_url=sim.url, api_key=sim.sim.key)
    source = unknown_order.service
    ups = UpstreamService.objects.create(
        provider=other,
        upstream_id=source.upstream.upstream_id,
        name=source.upstream.name,
        type=source.upstream.type,
        rate=source.upstream.rate,
        min=source.upstream.min,
        max=source.upstream.max,
    )
    target = Service.objects.create(
        category=source.category,
        upstream=ups,
        name="Same, elsewhere",
        type=source.type,
        rate=source.rate,
        min=source.min,
        max=source.max,
    )
    page = as_admin.get(url(unknown_order, "move"))
    assert b"Same, elsewhere" in page.content
    as_admin.post(url(unknown_order, "move"), {"service": target.pk})
    as_admin.post(url(unknown_order, "move"), {"service": target.pk})
    order = fresh(unknown_order)
    assert order.provider_id == other.pk and order.service_id == target.pk
    assert order.forward_state == ForwardState.SENT and order.charge == unknown_order.charge
    assert AuditLog.objects.filter(action="order.move").count() == 1


def test_order_page_shows_the_full_timeline(as_admin, sent_order, admin_staff):
    services.order_mark_final(order_id=sent_order.pk, status=Status.CANCELED, actor_id=admin_staff.pk, reason="x")
    page = as_admin.get(reverse("admin:orders_order_change", args=[sent_order.pk])).content.decode()
    for text in ("Placed via", "Sent to sim", "Marked Canceled by staff", "Refunded", "order.mark_canceled", "Charge"):
        assert text in page, text
