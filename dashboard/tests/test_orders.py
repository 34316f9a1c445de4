"""New order, live quote, mass order, the orders list and its actions, refills."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.pricing import quote
from orders.models import CancelRequest, ForwardState, Order, Refill, Status
from orders.placement import order_place


def place(user, service, link="https://example.com/p/1", quantity=None):
    return order_place(user=user, service_id=service.pk, data={"link": link, "quantity": quantity or service.min}).order


def post_order(client, service, **fields):
    data = {"service": service.pk, "idempotency_key": fields.pop("key", "k1"), **fields}
    return client.post(reverse("dashboard:order_new"), data)


def test_new_order_shows_the_service_and_the_customers_rate(logged_in, customer, make_service):
    service = make_service("Default")
    response = logged_in.get(reverse("dashboard:order_new"), {"service": service.pk})
    body = response.content.decode()
    assert service.name in body
    assert f"${quote(service, customer, quantity=1000).rate:.2f}" in body
    assert 'name="link"' in body and 'name="quantity"' in body
    assert 'name="comments"' not in body


@pytest.mark.parametrize(
    ("type_", "shown", "hidden"),
    [
        ("Custom Comments", ["comments", "link"], ["quantity"]),
        ("Poll", ["answer_number", "quantity"], ["comments"]),
        ("Package", ["link"], ["quantity"]),
        ("Subscriptions", ["username", "min", "max", "posts", "delay", "expiry"], ["link"]),
    ],
)
def test_the_form_shows_exactly_the_fields_of_the_type(logged_in, make_service, type_, shown, hidden):
    service = make_service(type_)
    body = logged_in.get(reverse("dashboard:order_service_form"), {"service_pick": service.pk}).content.decode()
    for name in shown:
        assert f'name="{name}"' in body, name
    for name in hidden:
        assert f'name="{name}"' not in body, name


def test_dripfeed_fields_only_where_allowed(logged_in, make_service):
    with_drip = make_service("Default", dripfeed=True)
    without = make_service("Default", dripfeed=False)
    assert (
        'name="runs"'
        in logged_in.get(reverse("dashboard:order_service_form"), {"service": with_drip.pk}).content.decode()
    )
    assert (
        'name="runs"'
        not in logged_in.get(reverse("dashboard:order_service_form"), {"service": without.pk}).content.decode()
    )


def test_live_quote_matches_the_pricing_function(logged_in, customer, make_service):
    service = make_service("Default", dripfeed=True)
    quantity = service.min * 3
    response = logged_in.get(
        reverse("dashboard:order_quote"), {"service": service.pk, "quantity": quantity, "dripfeed": "on", "runs": 4}
    )
    expected = quote(service, customer, quantity=quantity, runs=4).charge
    assert response.status_code == 200
    assert f"{expected:,.5f}".rstrip("0").rstrip(".")[:6] in response.content.decode()
    assert "4 runs" in response.content.decode()


def test_live_quote_warns_of_short_balance_and_range(logged_in, customer, make_service):
    service = make_service("Default")
    body = logged_in.get(
        reverse("dashboard:order_quote"), {"service": service.pk, "quantity": service.max}
    ).content.decode()
    assert "Not enough funds" in body or quote(service, customer, quantity=service.max).charge <= customer.balance
    body = logged_in.get(
        reverse("dashboard:order_quote"), {"service": service.pk, "quantity": service.max + 1}
    ).content.decode()
    assert "Quantity must be between" in body


def test_services_picker_by_category_and_search(logged_in, make_service):
    service = make_service("Default")
    body = logged_in.get(reverse("dashboard:order_services"), {"category": service.category_id}).content.decode()
    assert service.name in body and 'hx-swap-oob="true"' in body
    body = logged_in.get(reverse("dashboard:order_services"), {"q": str(service.pk)}).content.decode()
    assert f'value="{service.pk}"' in body


def test_placing_shows_the_order_id_and_charges(logged_in, customer, make_service):
    service = make_service("Default")
    response = post_order(logged_in, service, link="https://example.com/a", quantity=service.min)
    order = Order.objects.get(user=customer)
    assert response.status_code == 302
    page = logged_in.get(response.url)
    assert f"Order #{order.pk} placed" in page.content.decode()
    customer.refresh_from_db()
    assert customer.balance == Decimal("1000") - order.charge


def test_double_submission_places_one_order(logged_in, customer, make_service):
    service = make_service("Default")
    for _ in range(2):
        post_order(logged_in, service, key="same", link="https://example.com/a", quantity=service.min)
    assert Order.objects.filter(user=customer).count() == 1


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"link": "not a link", "quantity": None}, "link", "Bad link"),
        ({"link": "https://example.com/x", "quantity": 1}, "quantity", "Quantity less than minimal"),
        ({"link": "https://example.com/x", "quantity": 10**9}, "quantity", "Quantity more than maximum"),
        ({"link": "https://example.com/x", "quantity": "abc"}, "quantity", "Enter a whole number"),
    ],
)
def test_order_errors_appear_beside_their_fields(logged_in, customer, make_service, fields, field, message):
    service = make_service("Default")
    data = {k: (service.min if v is None else v) for k, v in fields.items()}
    response = post_order(logged_in, service, **data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert any(message in e for e in errors[field]), errors
    assert not Order.objects.filter(user=customer).exists()


def test_dripfeed_errors_beside_runs(logged_in, make_service):
    service = make_service("Default", dripfeed=True)
    response = post_order(
        logged_in, service, link="https://example.com/x", quantity=service.min, dripfeed="on", runs=1, interval=5
    )
    assert "Runs must be between" in response.context["form"].errors["runs"][0]


def test_not_enough_funds_is_a_form_error(client, make_service, django_user_model):
    poor = django_user_model.objects.create(username="poor")
    client.force_login(poor)
    service = make_service("Default")
    response = post_order(client, service, link="https://example.com/x", quantity=service.min)
    assert "Not enough funds on balance" in response.context["form"].non_field_errors()[0]


def test_unknown_service_redirects_with_a_message(logged_in):
    response = logged_in.post(reverse("dashboard:order_new"), {"service": 999999, "idempotency_key": "x"}, follow=True)
    assert "Choose a service" in response.content.decode()


def test_mass_order_places_each_valid_line_and_reports_the_rest(logged_in, customer, make_service):
    service = make_service("Default")
    lines = "\n".join(
        [
            f"{service.pk} | https://example.com/1 | {service.min}",
            f"{service.pk} | https://example.com/2 | 1",
            "999999 | https://example.com/3 | 100",
            "garbage",
            f"{service.pk} | https://example.com/4 | {service.min}",
        ]
    )
    response = logged_in.post(reverse("dashboard:order_mass"), {"orders": lines, "idempotency_key": "m1"})
    results = response.context["results"]
    assert [bool(r["order"]) for r in results] == [True, False, False, False, True]
    assert "Quantity less than minimal" in results[1]["error"]
    assert results[2]["error"] == "Incorrect service ID"
    assert "service ID | link | quantity" in results[3]["error"]
    orders = Order.objects.filter(user=customer)
    assert orders.count() == 2
    assert response.context["summary"]["charged"] == sum(o.charge for o in orders)
    # The same form sent again places nothing new.
    logged_in.post(reverse("dashboard:order_mass"), {"orders": lines, "idempotency_key": "m1"})
    assert Order.objects.filter(user=customer).count() == 2


def test_mass_order_form_errors(logged_in):
    response = logged_in.post(reverse("dashboard:order_mass"), {"orders": "  \n ", "idempotency_key": "m"})
    assert response.context["form"].errors["orders"]


def test_orders_list_tabs_search_dates_and_pagination(logged_in, customer, make_service):
    service = make_service("Default")
    orders = [place(customer, service, link=f"https://example.com/p/{i}") for i in range(30)]
    Order.objects.filter(pk=orders[0].pk).update(status=Status.COMPLETED)
    url = reverse("dashboard:orders")
    assert len(logged_in.get(url).context["page"].object_list) == 25
    assert len(logged_in.get(url, {"page": 2}).context["page"].object_list) == 5
    assert [o.pk for o in logged_in.get(url, {"status": "Completed"}).context["page"].object_list] == [orders[0].pk]
    assert [o.pk for o in logged_in.get(url, {"q": str(orders[3].pk)}).context["page"].object_list] == [orders[3].pk]
    assert [o.pk for o in logged_in.get(url, {"q": "example.com/p/29"}).context["page"].object_list] == [orders[29].pk]
    tomorrow = (timezone.localdate() + timedelta(days=2)).isoformat()
    assert not logged_in.get(url, {"date_from": tomorrow}).context["page"].object_list
    assert logged_in.get(url, {"date_from": "bad"}).context["filter_form"].errors


def test_rows_poll_while_orders_are_active(logged_in, customer, make_service):
    service = make_service("Default")
    order = place(customer, service)
    body = logged_in.get(reverse("dashboard:order_rows")).content.decode()
    assert 'hx-trigger="every 7s"' in body and f'id="order-{order.pk}"' in body
    Order.objects.filter(pk=order.pk).update(status=Status.COMPLETED)
    body = logged_in.get(reverse("dashboard:order_rows")).content.decode()
    assert "every 7s" not in body and "Completed" in body


def test_buttons_only_where_the_order_allows(logged_in, customer, make_service):
    cancellable = make_service("Default", cancel=True)
    fixed = make_service("Default", cancel=False, refill=False)
    a, b = place(customer, cancellable), place(customer, fixed)
    body = logged_in.get(reverse("dashboard:orders")).content.decode()
    assert reverse("dashboard:order_cancel", args=[a.pk]) in body
    assert reverse("dashboard:order_cancel", args=[b.pk]) not in body
    assert reverse("dashboard:order_refill", args=[b.pk]) not in body


def test_cancel_by_htmx_returns_the_row_and_a_toast(logged_in, customer, make_service):
    service = make_service("Default", cancel=True)
    order = place(customer, service)
    response = logged_in.post(reverse("dashboard:order_cancel", args=[order.pk]), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert f'id="order-{order.pk}"' in body and "Cancel requested" in body
    assert CancelRequest.objects.filter(order=order).exists()
    order.refresh_from_db()
    assert order.status == Status.CANCELED


def test_refill_of_a_completed_order(logged_in, customer, make_service):
    service = make_service("Default", refill=True)
    order = place(customer, service)
    Order.objects.filter(pk=order.pk).update(
        status=Status.COMPLETED, forward_state=ForwardState.SENT, completed_at=timezone.now(), upstream_order_id="9"
    )
    assert (
        reverse("dashboard:order_refill", args=[order.pk])
        in logged_in.get(reverse("dashboard:orders")).content.decode()
    )
    response = logged_in.post(reverse("dashboard:order_refill", args=[order.pk]), follow=True)
    assert "Refill requested" in response.content.decode()
    refill = Refill.objects.get(order=order)
    body = logged_in.get(reverse("dashboard:refills")).content.decode()
    assert f'<td data-label="Refill ID" class="mono">{refill.pk}</td>' in body
    # A second request is refused with the engine's message.
    response = logged_in.post(reverse("dashboard:order_refill", args=[order.pk]), follow=True)
    assert "Refill already requested" in response.content.decode()


def test_order_detail(logged_in, customer, make_service):
    order = place(customer, make_service("Default"))
    response = logged_in.get(reverse("dashboard:order", args=[order.pk]))
    assert response.status_code == 200 and order.link in response.content.decode()
