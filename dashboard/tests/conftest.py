"""Dashboard fixtures: the order engine's (a real simulator over HTTP, provider, catalog, customer) plus logins."""

from decimal import Decimal

import pytest
import requests
from django.core.cache import cache

from accounts.ledger import ledger_credit
from accounts.models import User
from catalog.models import Category, Service, UpstreamService
from dashboard.models import PaymentMethod
from upstream.client import ApiV2Client
from upstream.models import Provider
from upstream.simulator import start_in_thread


class Clock:
    """The simulator's clock, moved by the tests instead of waiting."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Sim:
    def __init__(self, server, sim, url, clock):
        self.server, self.sim, self.url, self.clock = server, sim, url, clock
        self.base = url.rsplit("/api/v2", 1)[0]

    def faults(self, **faults) -> None:
        response = requests.post(f"{self.base}/_sim/faults", json=faults, timeout=5)
        response.raise_for_status()

    def stats(self) -> dict:
        return requests.get(f"{self.base}/_sim/stats", timeout=5).json()


@pytest.fixture
def sim():
    clock = Clock()
    server, simulator, url = start_in_thread(services=120, speed=1.0, seed=7, clock=clock)
    yield Sim(server, simulator, url, clock)
    server.shutdown()
    server.server_close()


@pytest.fixture
def provider(db, sim):
    cache.clear()
    return Provider.objects.create(name="sim", api_url=sim.url, api_key=sim.sim.key, read_timeout=Decimal("2"))


@pytest.fixture
def upstream_services(sim):
    with ApiV2Client(sim.url, sim.sim.key) as client:
        return client.services()


@pytest.fixture
def make_service(provider, upstream_services):
    """Sell one of the simulator's services: pick it by type (and flags), price it at 2x cost."""

    def make(type_="Default", **flags) -> Service:
        for up in upstream_services:
            if up.type == type_ and all(getattr(up, name) == value for name, value in flags.items()):
                break
        else:
            raise LookupError(f"the simulator has no {type_} service with {flags}")
        ups, _ = UpstreamService.objects.get_or_create(
            provider=provider,
            upstream_id=up.service,
            defaults={
                "name": up.name,
                "type": up.type,
                "category": up.category,
                "rate": up.rate,
                "min": up.min,
                "max": up.max,
                "refill": up.refill,
                "cancel": up.cancel,
                "dripfeed": up.dripfeed,
            },
        )
        category, _ = Category.objects.get_or_create(name=up.category)
        return Service.objects.create(
            category=category,
            upstream=ups,
            name=up.name,
            type=up.type,
            rate=up.rate * 2,
            min=up.min,
            max=up.max,
            refill=up.refill,
            cancel=up.cancel,
            dripfeed=up.dripfeed,
        )

    return make


@pytest.fixture
def customer(db):
    user = User.objects.create(username="buyer")
    ledger_credit(user_id=user.pk, amount=Decimal("1000"), memo="test funds")
    user.refresh_from_db()
    return user


@pytest.fixture(autouse=True)
def plain_static_storage(settings):
    # Tests run with DEBUG=false but without collectstatic: serve names as they are.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


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
    settings.STRIPE_MIN_AMOUNT = "2"
    settings.PANEL_CURRENCY = "USD"
    PaymentMethod.objects.filter(kind=PaymentMethod.Kind.STRIPE).update(
        enabled=True, min_amount=Decimal("5"), max_amount=Decimal("500")
    )
    return settings
