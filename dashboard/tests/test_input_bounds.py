"""Hostile input to the dashboard: every parameter is parsed with bounds, and a bad value is a form
error, a 400, a 404 or ignored (filters), never a 500 and never a row written."""

import pytest
from django.urls import reverse

from accounts.models import LedgerEntry
from billing.models import DepositRequest, PaymentMethod
from orders.models import Order
from orders.placement import order_place
from support.models import Ticket

HUGE = "9" * 32


def quote_context(client, service, **params):
    response = client.get(reverse("dashboard:order_quote"), {"service": service.pk, **params})
    assert response.status_code == 200
    return response.context["q"]


# --- The live quote and the new-order form ------------------------------------------------------


@pytest.mark.parametrize("quantity", [HUGE, "-" + HUGE, "1e999", "NaN", "Infinity", "١٢", "²", "1_000", "9" * 5000])
def test_quote_of_an_absurd_quantity_is_no_quote(logged_in, make_service, quantity):
    service = make_service("Default")
    q = quote_context(logged_in, service, quantity=quantity)
    assert "price" not in q


def test_quote_beyond_the_service_range_names_the_range_and_prices_nothing(logged_in, make_service):
    service = make_service("Default")
    for quantity in (service.max + 1, int(HUGE), service.min - 1):
        response = logged_in.get(reverse("dashboard:order_quote"), {"service": service.pk, "quantity": quantity})
        assert response.status_code == 200
        assert "price" not in response.context["q"]
        assert "Quantity must be between" in response.content.decode()


def test_quote_of_absurd_runs_and_subscription_numbers_is_no_quote(logged_in, make_service):
    drip = make_service("Default", dripfeed=True)
    q = quote_context(logged_in, drip, quantity=drip.min, dripfeed="on", runs=HUGE)
    assert "price" not in q
    subscription = make_service("Subscriptions")
    for params in ({"max": HUGE, "posts": 5}, {"max": subscription.min, "posts": HUGE}, {"max": 10, "old_posts": HUGE}):
        assert "price" not in quote_context(logged_in, subscription, **params)


def test_posting_an_absurd_quantity_is_a_form_error(logged_in, customer, make_service):
    service = make_service("Default")
    for quantity in (HUGE, "1e999", "NaN", "-" + HUGE):
        response = logged_in.post(
            reverse("dashboard:order_new"),
            {"service": service.pk, "idempotency_key": "k", "link": "https://example.com/a", "quantity": quantity},
        )
        assert response.status_code == 200
        assert response.context["form"].errors["quantity"]
    assert not Order.objects.filter(user=customer).exists()


def test_posting_absurd_numbers_for_other_fields_is_a_form_error(logged_in, customer, make_service):
    poll = make_service("Poll")
    response = logged_in.post(
        reverse("dashboard:order_new"),
        {
            "service": poll.pk,
            "idempotency_key": "k",
            "link": "https://example.com/a",
            "quantity": poll.min,
            "answer_number": HUGE,
        },
    )
    assert response.status_code == 200 and response.context["form"].errors["answer_number"]
    assert not Order.objects.filter(user=customer).exists()


@pytest.mark.parametrize("category", ["abc", HUGE, "-1", "\x00", "²", "1.5"])
def test_a_bad_category_is_ignored(logged_in, make_service, category):
    make_service("Default")
    assert logged_in.get(reverse("dashboard:order_new"), {"category": category}).status_code == 200
    assert logged_in.get(reverse("dashboard:order_services"), {"category": category}).status_code == 200


@pytest.mark.parametrize("value", [HUGE, "²", "\x00", "-1", "a" * 5000])
def test_bad_service_and_placed_ids_are_ignored(logged_in, make_service, value):
    make_service("Default")
    for params in ({"service": value}, {"placed": value}):
        assert logged_in.get(reverse("dashboard:order_new"), params).status_code == 200
    for params in ({"service": value}, {"service_pick": value}):
        assert logged_in.get(reverse("dashboard:order_service_form"), params).status_code == 200
    assert logged_in.get(reverse("dashboard:order_quote"), {"service": value}).status_code == 200


@pytest.mark.parametrize("q", ["\x00", "a\x00b", "²", HUGE, "x" * 5000])
def test_searches_with_hostile_text_do_not_fail(logged_in, make_service, q):
    make_service("Default")
    for name in ("dashboard:services", "dashboard:order_services", "dashboard:orders", "dashboard:order_rows"):
        assert logged_in.get(reverse(name), {"q": q}).status_code == 200, name


@pytest.mark.parametrize("page", [HUGE, "-1", "0", "NaN", "1e999", "\x00", "9" * 5000])
def test_pagination_of_hostile_page_numbers(logged_in, page):
    for name in ("dashboard:orders", "dashboard:refills", "dashboard:funds", "dashboard:tickets"):
        assert logged_in.get(reverse(name), {"page": page}).status_code == 200, name


@pytest.mark.parametrize("value", ["99999-01-01", "0000-00-00", "\x00", HUGE, "2024-02-30"])
def test_bad_dates_are_a_filter_error(logged_in, value):
    response = logged_in.get(reverse("dashboard:orders"), {"date_from": value, "date_to": value})
    assert response.status_code == 200


# --- IDs in URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("dashboard:order", "get"),
        ("dashboard:order_refill", "post"),
        ("dashboard:order_cancel", "post"),
        ("dashboard:ticket", "get"),
        ("dashboard:ticket", "post"),
        ("dashboard:deposit_return", "get"),
        ("dashboard:deposit_pay", "get"),
        ("dashboard:deposit_status", "get"),
    ],
)
def test_huge_ids_in_urls_are_not_found(logged_in, name, method):
    url = reverse(name, args=[1]).replace("/1/", f"/{HUGE}/")
    assert getattr(logged_in, method)(url).status_code == 404


# --- Tickets, deposits, referrals ----------------------------------------------------------------


def test_ticket_about_an_absurd_order_id_is_a_form_error(logged_in, customer):
    for order_id in (HUGE, "-1", "1e999"):
        response = logged_in.post(
            reverse("dashboard:tickets"),
            {"subject": "Help", "topic": Ticket.Topic.ORDER, "order_id": order_id, "message": "Where is it?"},
        )
        assert response.status_code == 200 and response.context["form"].errors["order_id"]
    assert logged_in.get(reverse("dashboard:tickets"), {"order": "²"}).status_code == 200
    assert not Ticket.objects.filter(user=customer).exists()


def test_deposit_with_absurd_method_or_amount_is_a_form_error(logged_in, customer):
    method = PaymentMethod.objects.create(name="Bank", kind=PaymentMethod.Kind.MANUAL, enabled=True)
    for data in (
        {"method": HUGE, "amount": "10"},
        {"method": "\x00", "amount": "10"},
        {"method": method.pk, "amount": HUGE},
        {"method": method.pk, "amount": "1e999"},
        {"method": method.pk, "amount": "NaN"},
        {"method": method.pk, "amount": "-Infinity"},
    ):
        response = logged_in.post(reverse("dashboard:add_funds"), data)
        assert response.status_code == 200 and response.context["form"].errors, data
    for value in (HUGE, "\x00", "abc"):
        assert logged_in.get(reverse("dashboard:add_funds"), {"method": value}).status_code == 200
    assert not DepositRequest.objects.filter(user=customer).exists()
    assert not LedgerEntry.objects.filter(user=customer).exclude(kind=LedgerEntry.Kind.DEPOSIT).exists()


@pytest.mark.parametrize("code", ["a\x00b", "../../x", "<script>", "x" * 300])
def test_a_referral_code_that_cannot_be_ours_is_not_remembered(client, db, code):
    response = client.get(reverse("dashboard:referral", args=["placeholder"]).replace("placeholder", code))
    assert response.status_code in (302, 404)
    assert "referral_code" not in client.session


def test_a_referral_code_is_remembered(client, db):
    client.get(reverse("dashboard:referral", args=["Ab1_-x9Z"]))
    assert client.session["referral_code"] == "Ab1_-x9Z"


def test_timezone_form_refuses_hostile_values(logged_in, customer):
    for value in ("\x00", "../../etc/passwd", "Mars/Olympus", "x" * 5000):
        assert logged_in.post(reverse("dashboard:account_timezone"), {"timezone": value}).status_code == 400
    customer.refresh_from_db()
    assert customer.timezone in ("", "UTC")


# --- Lines: the quote counts what placement charges ----------------------------------------------


def test_quote_counts_lines_as_placement_charges(logged_in, customer, make_service):
    service = make_service("Custom Comments")
    type(service).objects.filter(pk=service.pk).update(min=1, max=100)
    service.refresh_from_db()
    text = "a\rb\u2028c\nd"
    q = quote_context(logged_in, service, comments=text)
    assert q["quantity"] == 4 and q["price"].units == 4
    placed = order_place(
        user=customer, service_id=service.pk, data={"link": "https://example.com/c", "comments": text}
    ).order
    assert placed.quantity == 4 and placed.charge == q["price"].charge


def test_quote_of_a_text_with_a_control_character_is_the_error_not_a_number(logged_in, make_service):
    service = make_service("Custom Comments")
    type(service).objects.filter(pk=service.pk).update(min=1, max=100)
    q = quote_context(logged_in, service, comments="one\ntw\x00o\nthree")
    assert "price" not in q
    assert "control character" in q["error"]


def test_mass_order_splits_lines_as_placement_does(logged_in, customer, make_service):
    service = make_service("Default")
    text = "\u2028".join(f"{service.pk} | https://example.com/{n} | {service.min}" for n in range(3))
    response = logged_in.post(reverse("dashboard:order_mass"), {"orders": text, "idempotency_key": "m-lines"})
    assert [bool(row["order"]) for row in response.context["results"]] == [True, True, True]
    assert Order.objects.filter(user=customer).count() == 3


def test_mass_order_with_a_control_character_is_a_form_error(logged_in, customer, make_service):
    service = make_service("Default")
    text = f"{service.pk} | https://example.com/1 | {service.min}\n{service.pk} | https://exa\x07mple.com | 10"
    response = logged_in.post(reverse("dashboard:order_mass"), {"orders": text, "idempotency_key": "m-ctl"})
    errors = response.context["form"].errors["orders"]
    assert any("control character on line 2" in e for e in errors), errors
    assert not Order.objects.filter(user=customer).exists()


# --- Redirect targets ----------------------------------------------------------------------------

EVIL = ["https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example", "https:evil.example"]


@pytest.mark.parametrize("target", EVIL)
@pytest.mark.parametrize("action", ["dashboard:order_refill", "dashboard:order_cancel"])
def test_order_buttons_do_not_follow_a_foreign_next(logged_in, customer, make_service, action, target):
    service = make_service("Default", cancel=True)
    order = order_place(
        user=customer, service_id=service.pk, data={"link": "https://example.com/r", "quantity": service.min}
    ).order
    response = logged_in.post(reverse(action, args=[order.pk]), {"next": target})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:orders")


@pytest.mark.parametrize("target", ["-1", "dashboard:home", "\x00", "a b", "😀"])
def test_order_buttons_with_a_next_that_is_no_url(logged_in, customer, make_service, target):
    service = make_service("Default", cancel=True)
    order = order_place(
        user=customer, service_id=service.pk, data={"link": "https://example.com/r", "quantity": service.min}
    ).order
    response = logged_in.post(reverse("dashboard:order_cancel", args=[order.pk]), {"next": target})
    assert response.status_code == 302
    assert response["Location"] in (reverse("dashboard:orders"), target) or response["Location"].startswith("/")


def test_order_buttons_follow_a_local_next(logged_in, customer, make_service):
    service = make_service("Default", cancel=True)
    order = order_place(
        user=customer, service_id=service.pk, data={"link": "https://example.com/r", "quantity": service.min}
    ).order
    here = reverse("dashboard:order", args=[order.pk])
    response = logged_in.post(reverse("dashboard:order_cancel", args=[order.pk]), {"next": here})
    assert response["Location"] == here


@pytest.mark.parametrize("target", EVIL)
def test_login_does_not_follow_a_foreign_next(client, customer, target):
    customer.set_password("a-long-password-1")
    customer.save()
    response = client.post(
        reverse("account_login") + "?next=" + target, {"login": customer.username, "password": "a-long-password-1"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.parametrize("target", EVIL)
def test_logout_does_not_follow_a_foreign_next(logged_in, target):
    response = logged_in.post(reverse("account_logout"), {"next": target})
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


def test_quote_of_a_text_with_a_control_character_says_why_there_is_no_price(logged_in, make_service):
    service = make_service("Custom Comments")
    text = "\n".join(f"comment {i}" for i in range(service.min)) + "\nbad\x00comment"
    response = logged_in.get(reverse("dashboard:order_quote"), {"service": service.pk, "comments": text})
    assert response.status_code == 200
    assert b"control character on line" in response.content
    assert "price" not in response.context["q"]
