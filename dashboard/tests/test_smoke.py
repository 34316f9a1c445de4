import pytest
from django.urls import reverse

PAGES = [
    "home",
    "order_new",
    "order_mass",
    "orders",
    "refills",
    "services",
    "funds",
    "add_funds",
    "account",
    "affiliates",
    "tickets",
]


@pytest.mark.parametrize("name", PAGES)
def test_page_renders(logged_in, make_service, name):
    make_service("Default")
    response = logged_in.get(reverse(f"dashboard:{name}"))
    assert response.status_code == 200, response.content[:2000]
