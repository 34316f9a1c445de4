"""The customer's orders list at scale, checked on small data: keyset pages (Next / Previous by
the last row shown) cover every order once, in order, whatever is placed meanwhile; counts are
estimated only when large; the home page's totals come from the roll-up and equal the orders'."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Q, Sum

from orders.models import ACTIVE_STATUSES, ForwardState, Order, Status
from orders.rollups import customer_totals, rollup_fold
from panel import pagination

STATUSES = [Status.COMPLETED, Status.PARTIAL, Status.CANCELED, Status.PENDING]


def add_orders(customer, service, count, start=0):
    Order.objects.bulk_create(
        Order(
            user=customer,
            service=service,
            provider_id=service.upstream.provider_id,
            link=f"https://x.com/k{start + i}",
            quantity=100,
            charge=Decimal("1.5"),
            refunded=Decimal("0.5") if i % 4 == 1 else Decimal("0"),
            cost_expected=Decimal("0.5"),
            status=STATUSES[i % 4],
            forward_state=ForwardState.SENT,
        )
        for i in range(count)
    )


@pytest.fixture
def many(customer, make_service):
    service = make_service("Default", dripfeed=False)
    add_orders(customer, service, 130)
    return service


def link(html: str, label: str) -> str | None:
    # The link's text may hold an arrow in its own span (it turns in right-to-left pages).
    match = re.search(r'href="(\?[^"]*)">(?:[^<]|<span[^>]*>[^<]*</span>)*' + label, html)
    return match.group(1).replace("&amp;", "&") if match else None


def walk(client, start: str, label: str) -> list[list[int]]:
    pages, url = [], start
    while url is not None:
        response = client.get("/orders/" + url)
        assert response.status_code == 200
        pages.append([o.pk for o in response.context["page"].object_list])
        url = link(response.content.decode(), label)
        assert len(pages) < 50
    return pages


def test_next_and_previous_cover_every_order_once_in_order(logged_in, customer, many):
    every = list(Order.objects.filter(user=customer).order_by("-pk").values_list("pk", flat=True))
    forward = walk(logged_in, "", "Next")
    assert [pk for page in forward for pk in page] == every
    assert [len(page) for page in forward] == [25] * 5 + [5]
    last = logged_in.get("/orders/" + link(logged_in.get("/orders/?page=5").content.decode(), "Next"))
    backward = walk(logged_in, "?page=6&before=" + str(forward[4][-1]), "Previous")
    assert backward == forward[::-1]
    assert last.context["page"].number == 6


def test_filters_are_kept_and_new_orders_do_not_shift_the_next_page(logged_in, customer, many):
    first = logged_in.get("/orders/?status=Partial")
    page = first.context["page"]
    partial = list(Order.objects.filter(user=customer, status=Status.PARTIAL).order_by("-pk"))
    assert [o.pk for o in page.object_list] == [o.pk for o in partial[:25]]
    add_orders(customer, many, 8, start=1000)  # placed while the customer reads page 1
    second = logged_in.get("/orders/" + link(first.content.decode(), "Next"))
    assert [o.pk for o in second.context["page"].object_list] == [o.pk for o in partial[25:50]]
    assert all(o.status == Status.PARTIAL for o in second.context["page"].object_list)
    # Garbage in the keys is ignored (the first page), never a 500.
    for query in ("?before=abc", "?after=-5", "?before=99999999999999999999", "?page=999999&before=1"):
        assert logged_in.get("/orders/" + query).status_code == 200


def test_large_counts_are_shown_as_estimates(logged_in, customer, many, monkeypatch):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order")
    assert "of 6 · 130 items" in logged_in.get("/orders/").content.decode()
    monkeypatch.setattr(pagination, "ESTIMATE_ABOVE", 10)
    response = logged_in.get("/orders/")
    assert response.context["page"].paginator.estimated
    assert "about" in response.content.decode()


def test_home_totals_equal_the_orders_folded_or_not(logged_in, customer, many):
    def exact():
        row = Order.objects.filter(user=customer).aggregate(
            n=Count("id"), active=Count("id", filter=Q(status__in=ACTIVE_STATUSES)), c=Sum("charge"), r=Sum("refunded")
        )
        return (row["n"], row["active"], row["c"], row["r"])

    totals = customer_totals(customer.pk)
    assert (totals.orders, totals.active, totals.charge, totals.refunded) == exact()
    Order.objects.filter(user=customer, status=Status.PENDING).update(status=Status.CANCELED, refunded=Decimal("1.5"))
    rollup_fold()
    totals = customer_totals(customer.pk)
    assert (totals.orders, totals.active, totals.charge, totals.refunded) == exact()
    Order.objects.filter(pk=Order.objects.filter(user=customer).first().pk).delete()
    stats = logged_in.get("/").context["stats"]
    assert (stats["total"], stats["active"], stats["spent"], stats["refunded"]) == exact()
