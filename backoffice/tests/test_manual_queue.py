"""The backoffice's manual queue: filters, oldest first, the customer's fields as typed (escaped),
take / progress / end an order with its refund and audit row, refills and cancels, roles."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.ledger import ledger_drift
from accounts.models import AuditLog, User
from orders import manual
from orders.cancels import cancel_request
from orders.models import CancelRequest, Refill, Status
from orders.placement import order_place
from orders.refills import refill_request
from testing.manual import make_manual_service

D = Decimal


@pytest.fixture
def service(db):
    return make_manual_service(name="Hand-made comments", type_="Custom Comments")


TWELVE = "\n".join(f"line {n}" for n in range(12))


def put(customer, service, comments=TWELVE, link="https://example.com/p/1"):
    return order_place(user=customer, service_id=service.pk, data={"link": link, "comments": comments}).order


def queue_url(**params):
    return reverse("admin:bo_manual_queue") + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def test_queue_lists_manual_orders_oldest_first_with_the_fields_escaped(as_support, customer, service, place):
    hostile = '<script>alert(1)</script>\n=HYPERLINK("x")'
    first = put(customer, service, comments=hostile + "\n" + TWELVE, link="https://example.com/a?b=<i>")
    second = put(customer, service, link="https://e.com/2")
    forwarded = place()  # a forwarded order never shows here
    body = as_support.get(queue_url()).content.decode()
    assert body.index(f"#{first.pk}<") < body.index(f"#{second.pk}<")
    assert f"#{forwarded.pk}<" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert(1)" not in body
    assert "https://example.com/a?b=&lt;i&gt;" in body
    assert "=HYPERLINK(&quot;x&quot;)" in body


def test_queue_filters_by_service_status_customer_and_taken(as_admin, admin_staff, customer, service):
    other_service = make_manual_service(name="Other manual")
    other_customer = User.objects.create(username="zed")
    from accounts.ledger import ledger_credit

    ledger_credit(user_id=other_customer.pk, amount=D("100"), memo="funds")
    a = put(customer, service)
    b = order_place(
        user=other_customer, service_id=other_service.pk, data={"link": "https://e.com/b", "quantity": 100}
    ).order
    manual.manual_update(order_id=a.pk, actor_id=admin_staff.pk, version=manual.order_version(a), status="Completed")

    def shown(**params):
        body = as_admin.get(queue_url(**params)).content.decode()
        return {pk for pk in (a.pk, b.pk) if f'data-order="{pk}"' in body}

    assert shown() == {b.pk}  # open orders by default
    assert shown(status="all") == {a.pk, b.pk}
    assert shown(status="Completed") == {a.pk}
    assert shown(status="all", service=service.pk) == {a.pk}
    assert shown(status="all", customer="zed") == {b.pk}
    manual.manual_take(order_id=b.pk, actor_id=admin_staff.pk)
    assert shown(taken="mine") == {b.pk}
    assert shown(taken="free") == set()
    # Hostile filter values are ignored, never a 500.
    for value in ("%00", "1e999", "-1", "x" * 500, "99999999999999999999"):
        assert as_admin.get(queue_url(service=value, status=value, customer=value, page=value)).status_code == 200


def test_take_progress_and_partial_through_the_pages(as_admin, admin_staff, customer, service):
    order = order_place(
        user=customer,
        service_id=service.pk,
        data={"link": "https://e.com/x", "comments": "\n".join(f"comment {n}" for n in range(40))},
    ).order
    assert order.charge == D("0.08000")
    page_url = reverse("admin:bo_manual_order", args=[order.pk])
    assert as_admin.get(page_url).status_code == 200
    as_admin.post(reverse("admin:bo_manual_take", args=[order.pk, "take"]))
    order.refresh_from_db()
    assert order.claimed_by_id == admin_staff.pk
    version = manual.order_version(order)
    response = as_admin.post(
        page_url, {"status": "In progress", "start_count": "17", "remains": "30", "reason": "", "version": version}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.start_count, order.remains) == ("In progress", 17, 30)
    # A stale form (the version it was read with) is refused and changes nothing.
    stale = as_admin.post(page_url, {"status": "Completed", "version": version}, follow=True)
    assert "changed since you read it" in stale.content.decode()
    order.refresh_from_db()
    assert order.status == "In progress"
    as_admin.post(page_url, {"status": "Partial", "remains": "10", "version": manual.order_version(order)})
    order.refresh_from_db()
    assert order.status == Status.PARTIAL and order.refunded == D("0.02000")  # 0.08 x 10 / 40
    assert ledger_drift() == []
    actions = set(AuditLog.objects.filter(object_id=str(order.pk)).values_list("action", flat=True))
    assert {"order.manual_take", "order.manual_update"} <= actions


def test_refills_and_cancels_are_resolved_from_the_queue(as_admin, admin_staff, customer, service):
    done = put(customer, service)
    manual.manual_update(
        order_id=done.pk, actor_id=admin_staff.pk, version=manual.order_version(done), status="Completed"
    )
    refill_request(user_id=customer.pk, order_ids=[done.pk])
    pending = put(customer, service, link="https://example.com/2")
    cancel_request(user_id=customer.pk, order_ids=[pending.pk])
    body = as_admin.get(queue_url()).content.decode()
    refill = Refill.objects.get(order=done)
    cancel = CancelRequest.objects.get(order=pending)
    assert f"Refill {refill.pk}" in body and f"Cancel {cancel.pk}" in body
    as_admin.post(reverse("admin:bo_manual_refill", args=[refill.pk, "completed"]))
    refill.refresh_from_db()
    assert refill.status == "Completed"
    as_admin.post(reverse("admin:bo_manual_cancel", args=[cancel.pk, "accept"]))
    cancel.refresh_from_db()
    pending.refresh_from_db()
    assert cancel.state == "done" and pending.status == Status.CANCELED and pending.refunded == pending.charge
    assert ledger_drift() == []


def test_support_reads_the_queue_but_cannot_act(as_support, customer, service):
    order = put(customer, service)
    assert as_support.get(queue_url()).status_code == 200
    page = as_support.get(reverse("admin:bo_manual_order", args=[order.pk]))
    assert page.status_code == 200 and "bo-manual-form" not in page.content.decode()
    assert as_support.post(reverse("admin:bo_manual_take", args=[order.pk, "take"])).status_code == 403
    posted = as_support.post(
        reverse("admin:bo_manual_order", args=[order.pk]),
        {"status": "Completed", "version": manual.order_version(order)},
    )
    assert posted.status_code == 403
    cancel_request(user_id=customer.pk, order_ids=[order.pk])
    cancel = CancelRequest.objects.get(order=order)
    assert as_support.post(reverse("admin:bo_manual_cancel", args=[cancel.pk, "accept"])).status_code == 403
    order.refresh_from_db()
    assert order.status == Status.PENDING and order.claimed_by_id is None


def test_customers_and_anonymous_never_reach_the_queue(client, customer, service):
    url = queue_url()
    assert client.get(url).status_code == 302
    client.force_login(customer)
    response = client.get(url)
    assert response.status_code == 302 and "login" in response["Location"]


def test_staff_pages_and_reports_show_manual_orders_without_a_provider(as_admin, admin_staff, customer, service, place):
    import csv
    import io

    from django.utils import timezone

    order = put(customer, service)
    manual.manual_update(
        order_id=order.pk, actor_id=admin_staff.pk, version=manual.order_version(order), status="Partial", remains=6
    )
    forwarded = place()
    page = as_admin.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "manual queue" in page and "None" not in page.split("bo-summary")[1][:800]
    assert as_admin.get(reverse("admin:orders_order_changelist")).status_code == 200
    assert as_admin.get(reverse("admin:orders_order_changelist"), {"forward_state__exact": "manual"}).status_code == 200
    assert as_admin.get(reverse("admin:bo_order_action", args=[order.pk, "cancel"])).status_code == 200
    assert as_admin.get(reverse("admin:index")).status_code == 200
    assert as_admin.get(reverse("admin:catalog_service_changelist")).status_code == 200
    assert as_admin.get(reverse("admin:catalog_service_change", args=[service.pk])).status_code == 200
    today = timezone.localdate().isoformat()
    query = {"start": today, "end": today, "by": "provider"}
    assert as_admin.get(reverse("admin:bo_reports"), query).status_code == 200
    rows = list(csv.reader(io.StringIO(as_admin.get(reverse("admin:bo_reports_csv"), query).content.decode())))
    labels = [row[0] for row in rows[1:]]
    assert "Manual" in labels and forwarded.provider.name in labels
    manual_row = rows[1:][labels.index("Manual")]
    # Revenue 0.024 - 0.012 refunded; cost 0.50 per 1,000 x the 6 lines delivered.
    assert "0.01200" in manual_row and "0.00300" in manual_row
