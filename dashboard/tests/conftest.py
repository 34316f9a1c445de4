"""Dashboard fixtures beyond the shared ones of testing/fixtures.py: logins, a second customer, Stripe."""

from decimal import Decimal

import pytest

from accounts.ledger import ledger_credit
from accounts.models import User
from billing.models import PaymentMethod


@pytest.fixture(autouse=True)
def _plain_static(plain_static_storage):
    pass


@pytest.fixture
def other(db):
    user = User.objects.create(username="other")
    ledger_credit(user_id=user.pk, amount=Decimal("50"), memo="test funds")
    user.refresh_from_db()
    return user


@pytest.fixture
def client_for(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def logged_in(client, customer):
    client.force_login(customer)
    return client


WEBHOOK_SECRET = "whsec_test_secret"
SECRET_KEY = "sk_test_not_a_real_key"


@pytest.fixture
def stripe_on(settings, db):
    """Stripe configured (fake keys: every call to Stripe is faked by `responses`), USD, limits 5-500."""
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.PANEL_CURRENCY = "USD"
    PaymentMethod.objects.filter(kind=PaymentMethod.Kind.STRIPE).update(
        enabled=True, min_amount=Decimal("5"), max_amount=Decimal("500")
    )
    return settings
