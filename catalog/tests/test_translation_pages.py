"""Customers read service and category names in their own language on the dashboard and the
public price list, falling back to the default language's, in a constant number of queries."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Category
from orders.models import Order
from site_pages.models import Branding

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def static_files(plain_static_storage):
    cache.clear()


@pytest.fixture
def russian(client, customer):
    customer.language = "ru"
    customer.save(update_fields=["language"])
    client.force_login(customer)
    return customer


@pytest.fixture
def shop(make_service):
    """A translated category with a translated and an untranslated service."""
    category = Category.objects.create(name="Instagram", name_ru="Инстаграм")
    translated = make_service(category=category, description="Real followers")
    translated.name_ru, translated.description_ru = "Подписчики HQ", "Живые подписчики"
    translated.save()
    plain = make_service(category=category)
    return category, translated, plain


def page(client, name: str, **params) -> str:
    response = client.get(reverse(name), params)
    assert response.status_code == 200, response.content[:2000]
    return response.content.decode()


def test_the_services_page_in_russian(client, russian, shop):
    _category, translated, plain = shop
    html = page(client, "dashboard:services")
    assert '<html lang="ru"' in html
    assert "Инстаграм" in html and "Подписчики HQ" in html and "Живые подписчики" in html
    assert plain.name_en in html  # not translated yet: the default language's name
    assert translated.name_en not in html and "Real followers" not in html


def test_the_services_page_in_english_for_an_english_customer(client, customer, shop):
    _category, translated, _plain = shop
    client.force_login(customer)
    html = page(client, "dashboard:services")
    assert translated.name_en in html and "Real followers" in html and "Instagram" in html
    assert "Подписчики" not in html and "Инстаграм" not in html


def test_the_new_order_page_and_the_service_picker_in_russian(client, russian, shop):
    category, translated, plain = shop
    html = page(client, "dashboard:order_new", category=category.pk)
    assert "Инстаграм" in html and "Подписчики HQ" in html and plain.name_en in html
    html = page(client, "dashboard:order_services", category=category.pk)
    assert f"{translated.pk} — Подписчики HQ" in html and f"{plain.pk} — {plain.name_en}" in html
    html = page(client, "dashboard:order_service_form", service=translated.pk)
    assert "Подписчики HQ" in html and "Живые подписчики" in html


def test_the_orders_list_and_an_order_in_russian(client, russian, shop):
    _category, translated, _plain = shop
    order = Order.objects.create(
        user=russian,
        service=translated,
        provider=translated.upstream.provider,
        link="https://instagram.com/p/1",
        quantity=100,
        charge=Decimal("0.1"),
        cost_expected=Decimal("0"),
    )
    html = page(client, "dashboard:orders")
    assert f"{translated.pk} — Подписчики HQ" in html
    html = client.get(reverse("dashboard:order", args=[order.pk])).content.decode()
    assert "Подписчики HQ" in html
    export = client.get(reverse("dashboard:orders_export"))
    assert export.status_code == 200
    assert "Подписчики HQ" in b"".join(export.streaming_content).decode()


def test_the_public_price_list_follows_the_visitors_language(client, shop):
    _category, translated, plain = shop
    Branding.objects.update_or_create(pk=1, defaults={"show_public_services": True})
    cache.clear()
    html = client.get(reverse("site_pages:landing"), headers={"accept-language": "ru"}).content.decode()
    assert "Подписчики HQ" in html and "Инстаграм" in html and plain.name_en in html
    html = client.get(reverse("site_pages:landing"), headers={"accept-language": "en"}).content.decode()
    assert translated.name_en in html and "Подписчики" not in html


def _queries(client, name: str, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        page(client, name, **params)
    return len(captured)


def test_services_page_and_picker_do_not_query_per_service(client, russian, shop, make_service):
    category, _translated, _plain = shop
    _queries(client, "dashboard:services")  # the first request of a session reads more (the session, caches)
    few = (_queries(client, "dashboard:services"), _queries(client, "dashboard:order_services", category=category.pk))
    for n in range(12):
        service = make_service(category=category)
        if n % 2:
            service.name_ru = f"Услуга {n}"
            service.save()
    many = (_queries(client, "dashboard:services"), _queries(client, "dashboard:order_services", category=category.pk))
    assert many == few, (few, many)
    assert "Услуга 11" in page(client, "dashboard:services")


def test_a_customer_finds_a_service_by_its_english_name_while_reading_russian(client, russian, shop):
    _category, _translated, plain = shop
    html = page(client, "dashboard:services", q=plain.name_en)
    assert plain.name_en in html


def test_a_customer_finds_a_service_by_its_russian_name(client, russian, shop):
    _category, _translated, _plain = shop
    assert "Подписчики HQ" in page(client, "dashboard:services", q="подписчики")
    assert "Подписчики HQ" in page(client, "dashboard:order_services", q="подписчики")
