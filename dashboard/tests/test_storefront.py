"""Favourites, average times on the customer's pages, orders search/filters/CSV export, subscriptions."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.favourites import favourite_ids, favourite_set
from catalog.models import FavouriteService, Service
from orders.models import Order, Status
from orders.placement import order_place


def place(user, service, link="https://example.com/p/1", quantity=None, **data):
    payload = {"link": link, "quantity": quantity or service.min, **data}
    return order_place(user=user, service_id=service.pk, data=payload).order


# --- Favourites ----------------------------------------------------------------------------------


def test_star_and_unstar_a_service_with_htmx(logged_in, customer, make_service):
    service = make_service("Default")
    url = reverse("dashboard:favourite", args=[service.pk])
    response = logged_in.post(url, {"starred": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="star on"' in body and 'aria-pressed="true"' in body
    assert favourite_ids(customer.pk) == {service.pk}
    # Twice is still one favourite.
    logged_in.post(url, {"starred": "1"}, HTTP_HX_REQUEST="true")
    assert FavouriteService.objects.filter(user=customer).count() == 1
    response = logged_in.post(url, {"starred": "0"}, HTTP_HX_REQUEST="true")
    assert 'aria-pressed="false"' in response.content.decode()
    assert favourite_ids(customer.pk) == set()


def test_star_without_javascript_goes_back_to_the_page(logged_in, customer, make_service):
    service = make_service("Default")
    response = logged_in.post(
        reverse("dashboard:favourite", args=[service.pk]), {"starred": "1", "next": "/services/?q=x"}
    )
    assert response.status_code == 302 and response["Location"] == "/services/?q=x"
    response = logged_in.post(
        reverse("dashboard:favourite", args=[service.pk]), {"starred": "1", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("dashboard:services")


def test_only_sellable_services_can_be_starred(logged_in, make_service):
    hidden = make_service("Default")
    Service.objects.filter(pk=hidden.pk).update(enabled=False)
    assert logged_in.post(reverse("dashboard:favourite", args=[hidden.pk]), {"starred": "1"}).status_code == 404
    assert logged_in.post(reverse("dashboard:favourite", args=[999999]), {"starred": "1"}).status_code == 404
    assert logged_in.get(reverse("dashboard:favourite", args=[hidden.pk])).status_code == 405


def test_favourites_are_per_customer(client_for, customer, other, make_service):
    service = make_service("Default")
    favourite_set(user_id=customer.pk, service_id=service.pk, starred=True)
    body = client_for(other).get(reverse("dashboard:services"), {"favourites": "1"}).content.decode()
    assert service.name not in body
    assert "No favourites yet" in body


def test_services_list_favourites_filter_and_average_time(logged_in, customer, make_service):
    starred = make_service("Default")
    plain = make_service("Package")
    Service.objects.filter(pk=starred.pk).update(avg_time=timedelta(hours=2, minutes=15))
    favourite_set(user_id=customer.pk, service_id=starred.pk, starred=True)
    body = logged_in.get(reverse("dashboard:services")).content.decode()
    assert starred.name in body and plain.name in body
    assert "2 h 15 min" in body
    assert "Not enough data" in body  # the package has no figure yet
    body = logged_in.get(reverse("dashboard:services"), {"favourites": "1"}).content.decode()
    assert starred.name in body and plain.name not in body
    # Staff's override is what customers see.
    Service.objects.filter(pk=starred.pk).update(avg_time_override=timedelta(minutes=45))
    body = logged_in.get(reverse("dashboard:services"), {"favourites": "1"}).content.decode()
    assert "45 min" in body and "2 h 15 min" not in body


def test_new_order_page_favourites_category_and_average_time(logged_in, customer, make_service):
    first = make_service("Default")
    starred = make_service("Package")
    body = logged_in.get(reverse("dashboard:order_new")).content.decode()
    assert 'value="favourites"' not in body  # nothing starred yet
    favourite_set(user_id=customer.pk, service_id=starred.pk, starred=True)
    Service.objects.filter(pk=starred.pk).update(avg_time=timedelta(minutes=30))
    body = logged_in.get(reverse("dashboard:order_new"), {"category": "favourites"}).content.decode()
    assert '<option value="favourites" selected>' in body
    assert f'<option value="{starred.pk}" selected>' in body
    assert f'<option value="{first.pk}"' not in body.split('id="id_service_pick"')[1].split("</select>")[0]
    assert "30 min" in body and 'id="star-' in body
    picker = logged_in.get(reverse("dashboard:order_services"), {"category": "favourites"}).content.decode()
    assert starred.name in picker and first.name not in picker.split("</select>")[0]
    body = logged_in.get(reverse("dashboard:order_service_form"), {"service": first.pk}).content.decode()
    assert "Not enough data" in body


# --- Orders: search, filters, export -------------------------------------------------------------


@pytest.fixture
def orders_of_two(customer, other, make_service):
    a = make_service("Default")
    b = make_service("Default", refill=True)
    mine = [
        place(customer, a, "https://instagram.com/p/alpha"),
        place(customer, b, "https://instagram.com/p/beta"),
        place(customer, a, "https://instagram.com/p/gamma"),
    ]
    # Placement refuses such a link today; rows written before (or by staff) may hold anything.
    Order.objects.filter(pk=mine[2].pk).update(link='=HYPERLINK("http://evil.example","x")')
    theirs = place(other, a, "https://instagram.com/p/alpha-other")
    return a, b, mine, theirs


def test_search_by_part_of_a_link_and_by_id(logged_in, orders_of_two):
    _a, _b, mine, theirs = orders_of_two
    body = logged_in.get(reverse("dashboard:orders"), {"q": "p/alph"}).content.decode()
    assert f'id="order-{mine[0].pk}"' in body and f'id="order-{mine[1].pk}"' not in body
    assert f'id="order-{theirs.pk}"' not in body  # another customer's order never shows
    body = logged_in.get(reverse("dashboard:orders"), {"q": str(mine[1].pk)}).content.decode()
    assert f'id="order-{mine[1].pk}"' in body and f'id="order-{mine[0].pk}"' not in body
    body = logged_in.get(reverse("dashboard:orders"), {"q": str(theirs.pk)}).content.decode()
    assert f'id="order-{theirs.pk}"' not in body


def test_filter_by_service_status_and_date(logged_in, orders_of_two):
    a, b, mine, _theirs = orders_of_two
    body = logged_in.get(reverse("dashboard:orders"), {"service": b.pk}).content.decode()
    assert f'id="order-{mine[1].pk}"' in body
    assert f'id="order-{mine[0].pk}"' not in body and f'id="order-{mine[2].pk}"' not in body
    # The service filter lists only services this customer ordered.
    assert f'<option value="{b.pk}" selected>' in body
    Order.objects.filter(pk=mine[0].pk).update(status=Status.COMPLETED)
    body = logged_in.get(reverse("dashboard:orders"), {"service": a.pk, "status": "Completed"}).content.decode()
    assert f'id="order-{mine[0].pk}"' in body and f'id="order-{mine[2].pk}"' not in body
    Order.objects.filter(pk=mine[2].pk).update(created_at=timezone.now() - timedelta(days=40))
    old = (timezone.now() - timedelta(days=41)).date().isoformat()
    until = (timezone.now() - timedelta(days=39)).date().isoformat()
    body = logged_in.get(reverse("dashboard:orders"), {"date_from": old, "date_to": until}).content.decode()
    assert f'id="order-{mine[2].pk}"' in body and f'id="order-{mine[0].pk}"' not in body
    # Nonsense filters are ignored or shown as a form error, never a 500.
    for bad in ({"service": "abc"}, {"service": "-1"}, {"service": "9" * 40}, {"date_from": "2024-13-45"}):
        assert logged_in.get(reverse("dashboard:orders"), bad).status_code == 200


def _csv(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_export_csv_own_orders_only_with_formulas_neutralised(logged_in, orders_of_two):
    a, _b, mine, theirs = orders_of_two
    rows = _csv(logged_in.get(reverse("dashboard:orders_export")))
    assert rows[0][:5] == ["ID", "Date", "Service ID", "Service", "Link"]
    ids = {int(row[0]) for row in rows[1:]}
    assert ids == {o.pk for o in mine}
    links = {int(row[0]): row[4] for row in rows[1:]}
    assert links[mine[2].pk] == '\'=HYPERLINK("http://evil.example","x")'
    assert links[mine[0].pk] == "https://instagram.com/p/alpha"
    # The list's filters apply to the export.
    rows = _csv(logged_in.get(reverse("dashboard:orders_export"), {"q": "p/beta"}))
    assert [int(row[0]) for row in rows[1:]] == [mine[1].pk]
    rows = _csv(logged_in.get(reverse("dashboard:orders_export"), {"service": a.pk}))
    assert {int(row[0]) for row in rows[1:]} == {mine[0].pk, mine[2].pk}
    # Someone else's ID finds nothing.
    rows = _csv(logged_in.get(reverse("dashboard:orders_export"), {"q": str(theirs.pk)}))
    assert theirs.pk not in {int(row[0]) for row in rows[1:]}


def test_export_needs_a_login(client, db):
    response = client.get(reverse("dashboard:orders_export"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_service_names_are_neutralised_too(logged_in, customer, make_service):
    service = make_service("Default")
    Service.objects.filter(pk=service.pk).update(name="@SUM(1+1)*cmd|' /C calc'!A0")
    place(customer, service, "https://example.com/x")
    rows = _csv(logged_in.get(reverse("dashboard:orders_export")))
    assert rows[1][3].startswith("'@SUM")


# --- Subscriptions -------------------------------------------------------------------------------


def test_subscriptions_page_lists_posts_expiry_and_state(logged_in, customer, other, make_service):
    service = make_service("Subscriptions")
    sub = place(
        customer,
        service,
        link="",
        quantity=None,
        username="watched_account",
        min=service.min,
        max=service.min,
        posts=5,
        delay=0,
        expiry="31/12/2030",
    )
    theirs = place(
        other,
        service,
        link="",
        quantity=None,
        username="their_account",
        min=service.min,
        max=service.min,
        posts=2,
        delay=0,
    )
    Order.objects.filter(pk=sub.pk).update(upstream_posts=2, status=Status.IN_PROGRESS)
    regular = place(customer, make_service("Default"))
    body = logged_in.get(reverse("dashboard:subscriptions")).content.decode()
    assert "watched_account" in body and "2 / 5" in body and "31/12/2030" in body
    assert "In progress" in body
    assert "their_account" not in body and f'id="sub-{theirs.pk}"' not in body
    assert f'id="sub-{regular.pk}"' not in body
    body = logged_in.get(reverse("dashboard:subscriptions"), {"state": "done"}).content.decode()
    assert "watched_account" not in body
    body = logged_in.get(reverse("dashboard:subscriptions"), {"state": "active"}).content.decode()
    assert "watched_account" in body


def test_subscription_cancel_only_where_the_service_allows(logged_in, customer, make_service):
    service = make_service("Subscriptions")
    sub = place(
        customer, service, link="", quantity=None, username="acct", min=service.min, max=service.min, posts=1, delay=0
    )
    body = logged_in.get(reverse("dashboard:subscriptions")).content.decode()
    has_button = reverse("dashboard:order_cancel", args=[sub.pk]) in body
    Service.objects.filter(pk=service.pk).update(cancel=not service.cancel)
    body2 = logged_in.get(reverse("dashboard:subscriptions")).content.decode()
    assert has_button != (reverse("dashboard:order_cancel", args=[sub.pk]) in body2)
