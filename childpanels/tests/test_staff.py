"""The parent's staff and the child panels: the list and its figures, the panel's page, the plan,
and none of it on a child's host name."""

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.ledger import ledger_credit, ledger_debit
from accounts.models import AuditLog, User
from orders.models import ForwardState, Order, Status
from tenants.models import ChildPanelPlan, Panel
from tenants.tests.conftest import CHILDREN, STAFF_PASSWORD  # noqa: F401

A, B = "child_a", "child_b"
LIST = "admin:tenants_panel_changelist"


@pytest.fixture(autouse=True)
def _staff_without_2fa(settings, plain_static_storage):
    settings.STAFF_REQUIRE_2FA = False


def _owner(name: str) -> User:
    user = User.objects.create(username=name, email=f"{name}@example.com")
    ledger_credit(user_id=user.pk, amount=Decimal("500"), memo="test funds")
    return user


@pytest.fixture
def owned(children, make_service, provider):
    """child_a and child_b owned by two parent customers, with orders and fees on the parent.
    Returns {schema: (owner, expected orders, expected revenue, expected fees)}."""
    service = make_service("Default")
    book = {}
    for schema, orders, fees in (
        (A, [("10.00000", "0"), ("4.50000", "1.25000"), ("7.00000", "7.00000")], ["25", "25"]),
        (B, [("3.00000", "0")], ["40"]),
    ):
        owner = _owner(f"owner-{schema}")
        panel = children[schema]
        Panel.objects.filter(pk=panel.pk).update(owner_id=owner.pk, monthly_price=Decimal(fees[0]))
        for charge, refunded in orders:
            Order.objects.create(
                user=owner,
                service=service,
                provider=provider,
                upstream_service_id="1",
                quantity=1000,
                charge=Decimal(charge),
                refunded=Decimal(refunded),
                status=Status.COMPLETED,
                cost_expected=Decimal("1"),
                forward_state=ForwardState.SENT,
            )
        for n, fee in enumerate(fees):
            ledger_debit(
                user_id=owner.pk,
                amount=Decimal(fee),
                memo="child panel fee",
                idempotency_key=f"childpanel:{panel.pk}:{n}",
            )
        # Independently of the selectors: straight from the rows just written.
        revenue = sum((Decimal(c) - Decimal(r) for c, r in orders), Decimal("0"))
        book[schema] = (owner, len(orders), revenue, sum((Decimal(f) for f in fees), Decimal("0")))
    # An order of somebody else and another key family must not count.
    stranger = _owner("stranger")
    Order.objects.create(
        user=stranger,
        service=service,
        provider=provider,
        upstream_service_id="1",
        quantity=1000,
        charge=Decimal("99"),
        status=Status.COMPLETED,
        cost_expected=Decimal("1"),
        forward_state=ForwardState.SENT,
    )
    ledger_debit(user_id=book[A][0].pk, amount=Decimal("1"), memo="an order", idempotency_key="charge:x-1")
    return book


def _cell(html: str, row_marker: str, css: str) -> str:
    """The text of the <td class="field-<css>"> in the list's row that contains row_marker."""
    start = html.index(row_marker)
    row = html[html.rfind("<tr", 0, start) : html.index("</tr>", start)]
    cell = row[row.index(f'class="field-{css}"') :]
    cell = cell[cell.index(">") + 1 : cell.index("</td>")]
    return cell


def test_the_list_shows_every_child_with_its_figures_through_the_parent(owned, admin_staff, client):
    client.force_login(admin_staff)
    response = client.get(reverse(LIST))
    assert response.status_code == 200
    html = response.content.decode()
    for schema, (owner, orders, revenue, fees) in owned.items():
        marker = CHILDREN[schema]
        assert _cell(html, marker, "orders") == str(orders)
        assert Decimal(_cell(html, marker, "revenue")) == revenue
        assert Decimal(_cell(html, marker, "fees")) == fees
        owner_cell = _cell(html, marker, "owner_link")
        assert reverse("admin:accounts_user_change", args=[owner.pk]) in owner_cell
        assert owner.username in owner_cell
    # The figures: A = 10 + 3.25 + 0 over 3 orders, fees 50; B = 3 over 1, fees 40.
    assert owned[A][1:] == (3, Decimal("13.25"), Decimal("50"))


def test_filters_and_search_by_status_domain_and_owner(owned, admin_staff, client, children):
    client.force_login(admin_staff)
    Panel.objects.filter(pk=children[B].pk).update(status="suspended", suspended_reason="unpaid")
    suspended = client.get(reverse(LIST), {"status__exact": "suspended"}).content.decode()
    assert CHILDREN[B] in suspended and CHILDREN[A] not in suspended
    assert "suspended (not paid)" in suspended
    by_domain = client.get(reverse(LIST), {"q": "a.panels"}).content.decode()
    assert CHILDREN[A] in by_domain and CHILDREN[B] not in by_domain
    by_owner = client.get(reverse(LIST), {"q": "owner-child_b"}).content.decode()
    assert CHILDREN[B] in by_owner and CHILDREN[A] not in by_owner


def test_the_list_costs_the_same_queries_for_two_panels_or_ten(owned, admin_staff, client):
    client.force_login(admin_staff)
    client.get(reverse(LIST))  # warm: sessions, content types, caches
    with CaptureQueriesContext(connection) as two:
        assert client.get(reverse(LIST)).status_code == 200
    for n in range(8):
        # Registry rows only (no schema copy): the list reads the registry and the parent's tables.
        owner = _owner(f"extra-owner-{n}")
        panel = Panel(schema_name=f"extra_{n}", name=f"Extra {n}", owner_id=owner.pk)
        panel.auto_create_schema = False
        panel.save()
        ledger_debit(user_id=owner.pk, amount=Decimal("5"), idempotency_key=f"childpanel:{panel.pk}:0")
    client.get(reverse(LIST))  # the registry changed: the host name's cached lookup is read again once
    with CaptureQueriesContext(connection) as ten:
        response = client.get(reverse(LIST))
    assert response.status_code == 200 and "Extra 7" in response.content.decode()
    assert len(ten.captured_queries) == len(two.captured_queries), [q["sql"][:120] for q in ten.captured_queries]
    Panel.objects.filter(schema_name__startswith="extra_").delete()


def test_the_panel_page_shows_figures_and_staff_edit_terms_audited(owned, admin_staff, client, children):
    client.force_login(admin_staff)
    panel = children[A]
    url = reverse("admin:tenants_panel_change", args=[panel.pk])
    page = client.get(url).content.decode()
    assert 'id="cp-revenue">13.25000<' in page
    assert 'id="cp-fees">50' in page
    response = client.post(
        url,
        {
            "monthly_price": "30.00000",
            "max_customers": "200",
            "max_services": "50",
            "max_staff": "2",
            "paid_until_0": "",
            "paid_until_1": "",
            "reason": "bigger plan",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    panel.refresh_from_db()
    assert (panel.monthly_price, panel.max_customers, panel.max_services, panel.max_staff) == (
        Decimal("30"),
        200,
        50,
        2,
    )
    row = AuditLog.objects.get(action="childpanel.terms", object_id=str(panel.pk))
    assert row.actor_id == admin_staff.pk and row.reason == "bigger plan"
    assert row.before["monthly_price"] == "25.00000" and row.after["max_customers"] == 200
    # A negative price is a form message, not a 500 or a half-written row.
    bad = client.post(url, {"monthly_price": "-1", "max_customers": "1", "max_services": "1", "max_staff": "1"})
    assert bad.status_code == 200 and "cannot be negative" in bad.content.decode()


def test_support_staff_neither_edit_nor_act(owned, support_staff, client, children):
    client.force_login(support_staff)
    panel = children[A]
    assert client.get(reverse(LIST)).status_code == 403
    for action in ("suspend", "resume", "export", "delete"):
        url = reverse("admin:childpanels_panel_action", args=[panel.pk, action])
        assert client.post(url, {"reason": "x", "confirm_domain": CHILDREN[A]}).status_code == 403
    assert not AuditLog.objects.filter(action__startswith="childpanel.").exists()


def test_the_plan_is_edited_by_staff_audited(admin_staff, client, children):
    client.force_login(admin_staff)
    plan = ChildPanelPlan.current()
    response = client.get(reverse("admin:tenants_childpanelplan_changelist"))
    assert response.status_code == 302 and response["Location"].endswith(f"/{plan.pk}/change/")
    response = client.post(
        reverse("admin:tenants_childpanelplan_change", args=[plan.pk]),
        {
            "selling": "on",
            "monthly_price": "19.90000",
            "max_customers": "100",
            "max_services": "300",
            "max_staff": "3",
            "warn_days": "5",
            "reason": "spring offer",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    plan.refresh_from_db()
    assert plan.selling and plan.monthly_price == Decimal("19.9") and plan.warn_days == 5
    row = AuditLog.objects.get(action="childpanel.plan")
    assert row.after["selling"] is True and row.reason == "spring offer"
    assert json.dumps(row.before)  # stored as JSON


def test_the_parents_staff_see_child_panels_and_the_beat_schedule(admin_staff, client, children, settings):
    client.force_login(admin_staff)
    text = client.get("/" + settings.ADMIN_URL).content.decode()
    assert reverse(LIST) in text and reverse("admin:tenants_childpanelplan_changelist") in text
    assert "Background tasks (Celery beat)" in text and "django_celery_beat/periodictask/" in text


def test_a_child_staff_member_cannot_see_or_reach_any_of_it(children, in_schema, settings):
    admin_home = "/" + settings.ADMIN_URL
    client = Client()
    with in_schema(A):
        client.force_login(User.objects.get(username=f"{A}_staff"))
    host = CHILDREN[A]
    home = client.get(admin_home, HTTP_HOST=host)
    assert home.status_code == 200
    text = home.content.decode()
    assert "tenants/panel" not in text and "django_celery_beat" not in text
    assert "Background tasks (Celery beat)" not in text  # the install's schedule, not the panel's
    panel = children[B]
    for path in (
        "tenants/panel/",
        f"tenants/panel/{panel.pk}/change/",
        "tenants/childpanelplan/",
        "tenants/domain/",
        "django_celery_beat/periodictask/",
        "django_celery_beat/crontabschedule/",
    ):
        response = client.get(admin_home + path, HTTP_HOST=host)
        assert response.status_code in (403, 404), (path, response.status_code)
    for action in ("suspend", "export", "delete"):
        response = client.post(
            f"{admin_home}tenants/panel/{panel.pk}/{action}/", {"confirm_domain": CHILDREN[B]}, HTTP_HOST=host
        )
        assert response.status_code in (403, 404), action
    assert client.get(f"{admin_home}tenants/panel/{panel.pk}/export.json.gz", HTTP_HOST=host).status_code in (403, 404)
    connection.set_schema_to_public()
    panel.refresh_from_db()
    assert panel.status == "active"
