"""Backoffice fixtures beyond the shared ones of testing/fixtures.py: staff per role."""

import pytest
from django.contrib.auth.models import Group

from accounts.models import User
from backoffice.roles import ensure_roles
from orders.models import Order


@pytest.fixture(autouse=True)
def _plain_static(plain_static_storage):
    pass


@pytest.fixture(autouse=True)
def no_staff_2fa(settings):
    # Two-factor has its own tests (test_two_factor.py), which turn it back on.
    settings.STAFF_REQUIRE_2FA = False


def _staff(username: str, group: str) -> User:
    ensure_roles()
    user = User.objects.create_user(username=username, password="pw-Long-enough-1", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=user.pk)  # fresh: no cached permissions


@pytest.fixture
def admin_staff(db):
    return _staff("boss", "Admin")


@pytest.fixture
def support_staff(db):
    return _staff("helper", "Support")


@pytest.fixture
def as_admin(client, admin_staff):
    client.force_login(admin_staff)
    return client


@pytest.fixture
def as_support(client, support_staff):
    client.force_login(support_staff)
    return client


@pytest.fixture
def place(customer, make_service):
    """Place an order for the customer (forwarding runs eagerly against the simulator)."""
    from orders.placement import order_place

    def make(service=None, quantity=None):
        service = service or make_service("Default")
        return order_place(
            user=customer,
            service_id=service.pk,
            data={"link": f"https://example.com/p/{Order.objects.count()}", "quantity": quantity or service.min * 10},
        ).order

    return make
