"""What customers see: catalog_for_customer and service_for_customer."""

from decimal import Decimal

import pytest

from accounts.models import User
from accounts.services import customer_discount_change
from catalog.models import Category
from catalog.selectors import catalog_for_customer, service_for_customer
from catalog.services import customer_price_set

D = Decimal


@pytest.fixture
def shop(pricing, provider_for, make_service):
    first = Category.objects.create(name="First", position=1)
    second = Category.objects.create(name="Second", position=2)
    hidden = Category.objects.create(name="Hidden", position=0, hidden=True)
    off = provider_for(enabled=False)
    return {
        "b": make_service(category=second, cost="1.00", rate=D("2.00")),
        "a": make_service(category=first, cost="1.00", rate=D("3.00")),
        "disabled": make_service(category=first, cost="1.00", rate=D("2.00"), enabled=False),
        "hidden": make_service(category=hidden, cost="1.00", rate=D("2.00")),
        "provider_off": make_service(provider=off, category=first, cost="1.00", rate=D("2.00")),
    }


def test_only_sellable_services_in_catalog_order(shop):
    entries = catalog_for_customer(None)
    assert [entry.service for entry in entries] == [shop["a"].pk, shop["b"].pk]
    first = entries[0]
    assert (first.name, first.category, first.rate, first.list_rate, first.type) == (
        shop["a"].name,
        "First",
        D("3.00"),
        D("3.00"),
        "Default",
    )
    # Our IDs and names only: nothing about the provider leaks.
    assert not {"upstream", "provider", "upstream_id", "cost"} & set(vars(first))


def test_customer_sees_their_own_rates(shop):
    user = User.objects.create(username="reseller")
    customer_discount_change(user_id=user.pk, percent=D("10"), actor_id=None)
    user.refresh_from_db()
    customer_price_set(user_id=user.pk, service_id=shop["b"].pk, rate=D("1.50"))
    rates = {entry.service: entry.rate for entry in catalog_for_customer(user)}
    assert rates == {shop["a"].pk: D("2.70000"), shop["b"].pk: D("1.50")}


def test_catalog_takes_two_queries_whatever_its_size(shop, make_service, django_assert_num_queries):
    user = User.objects.create(username="counted")
    for _ in range(20):
        make_service(category=Category.objects.get(name="First"), cost="1.00", rate=D("2.00"))
    with django_assert_num_queries(2):
        entries = catalog_for_customer(user)
    assert len(entries) == 22


def test_service_for_customer(shop):
    assert service_for_customer(None, shop["a"].pk).rate == D("3.00")
    assert service_for_customer(None, shop["disabled"].pk) is None
    assert service_for_customer(None, shop["hidden"].pk) is None
    assert service_for_customer(None, 999_999) is None
