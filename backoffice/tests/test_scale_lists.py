"""The staff order list at scale, checked on small data: the indexed search finds what the admin's
own search found, counts are exact where small and estimated where large, and the pages work."""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.admin.options import ModelAdmin
from django.db import connection, transaction
from django.test import RequestFactory

from accounts.models import User
from orders.models import ForwardState, Order
from panel import pagination
from panel.pagination import EstimatedCountPaginator, estimated_count

LINKS = [
    "https://www.instagram.com/p/AbCdEf123/",
    "https://instagram.com/p/abcdef123",
    "https://t.me/Channel_007",
    "https://youtube.com/watch?v=XyZ-42",
    "https://x.com/someone/status/1234567890",
    "",
]


@pytest.fixture
def orders(customer, make_service):
    service = make_service("Default", dripfeed=False)
    other = User.objects.create(username="other-buyer", email="Other@Example.com")
    rows = []
    for i in range(60):
        rows.append(
            Order(
                user=customer if i % 3 else other,
                service=service,
                provider_id=service.upstream.provider_id,
                link=LINKS[i % len(LINKS)] + (str(i) if i % 4 else ""),
                quantity=100,
                charge=Decimal("1"),
                cost_expected=Decimal("0.5"),
                forward_state=ForwardState.SENT,
                upstream_order_id=["Up-77", "up-77", "7", "12", "007", "AbC"][i % 6] + ("" if i % 5 else f"-{i}"),
            )
        )
    Order.objects.bulk_create(rows)
    return list(Order.objects.order_by("id"))


def search(model_admin_search, term: str) -> set[int]:
    request = RequestFactory().get("/", {"q": term})
    queryset, duplicates = model_admin_search(request, Order.objects.all(), term)
    assert not duplicates
    return set(queryset.values_list("pk", flat=True))


def test_the_indexed_search_finds_exactly_what_the_admins_search_found(orders):
    order_admin = admin.site._registry[Order]
    first, last = orders[0], orders[-1]
    terms = [
        "instagram",
        "INSTAGRAM.com/p/abc",
        "abcdef",
        "Channel_0",
        "xyz-4",
        "007",
        "7",
        "12",
        str(first.pk),
        str(last.pk),
        f"0{last.pk}",
        "up-77",
        "UP-77-0",
        "abc",
        "ab",
        "t.me 007",
        '"x.com/someone"',
        "'youtube watch'",
        "%",
        "_",
        "²",
        "٣",
        "9" * 30,
        "nothing-like-this",
        "   ",
    ]
    for term in terms:
        ours = search(order_admin.get_search_results, term)
        theirs = search(lambda request, qs, t: ModelAdmin.get_search_results(order_admin, request, qs, t), term)
        assert ours == theirs, term
    assert search(order_admin.get_search_results, "instagram"), "the terms should match something"


def test_search_by_part_of_a_link_uses_the_trigram_index(orders):
    order_admin = admin.site._registry[Order]
    request = RequestFactory().get("/")
    queryset, _ = order_admin.get_search_results(request, Order.objects.all(), "Channel_0")
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        # A small table is read whole whatever its indexes; forbid that to see what is used.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "order_link_trgm" in plan, plan
    assert "order_upstream_id_upper" in plan, plan


def test_counts_are_exact_when_small_and_estimated_when_large(orders, monkeypatch):
    everything = Order.objects.all()
    assert estimated_count(everything) == (60, False)
    assert estimated_count(everything.filter(user__username="other-buyer")) == (20, False)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order")
    monkeypatch.setattr(pagination, "ESTIMATE_ABOVE", 10)
    count, estimated = estimated_count(everything)
    assert estimated and count == 60  # the planner knows the table's size after ANALYZE
    # A small estimate is checked by counting at most ESTIMATE_ABOVE + 1 rows.
    few = everything.filter(pk__in=[o.pk for o in orders[:5]])
    assert estimated_count(few) == (5, False)
    paginator = EstimatedCountPaginator(everything.order_by("-id"), 25)
    assert paginator.count == 60 and paginator.estimated and paginator.num_pages == 3
    assert [o.pk for o in paginator.page(3).object_list] == [o.pk for o in orders[:10]][::-1]


def test_the_order_list_pages_filters_and_search_work(as_admin, orders, customer):
    base = "/admin/orders/order/"
    for query in (
        "",
        "?p=1",
        "?status__exact=Pending",
        f"?provider__id__exact={orders[0].provider_id}",
        "?customer=other@example.com",
        "?customer=nobody",
        "?needs_attention__exact=1",
        "?q=instagram",
        f"?q={orders[5].pk}",
        "?created_at__gte=2020-01-01",
    ):
        response = as_admin.get(base + query)
        assert response.status_code == 200, query
    assert as_admin.get(base + "?customer=nobody").context["cl"].result_count == 0
    page = as_admin.get(base + "?customer=OTHER-BUYER")
    assert page.context["cl"].result_count == 20
    assert {o.user_id for o in page.context["cl"].result_list} == {orders[0].user_id}
    found = as_admin.get(base + f"?q={orders[5].pk}").context["cl"].result_list
    assert orders[5].pk in {o.pk for o in found}


def test_a_report_page_shows_the_largest_rows_and_the_csv_all(as_admin, orders, monkeypatch):
    from backoffice import views

    monkeypatch.setattr(views, "REPORT_ROWS", 1)
    today = orders[0].created_at.date()
    query = {"start": today, "end": today, "by": "customer"}
    page = as_admin.get("/admin/backoffice/reports/", query)
    assert len(page.context["rows"]) == 1 and page.context["rows_hidden"] == 1
    assert b"1 more in the CSV export" in page.content
    csv = as_admin.get("/admin/backoffice/reports.csv", query).content.decode()
    assert len(csv.strip().splitlines()) == 3  # the header and both customers
