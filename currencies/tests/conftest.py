"""Currencies fixtures: the local fake of the ECB feed, rates and enabled currencies, staff."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import User
from backoffice.roles import ensure_roles
from currencies.models import CurrencySettings, ExchangeRate, Source
from testing.ecb.fake import FakeEcb


@pytest.fixture(autouse=True)
def _plain_static(plain_static_storage):
    pass


@pytest.fixture
def usd(settings):
    settings.PANEL_CURRENCY = "USD"
    return settings


@pytest.fixture
def fake_ecb(settings):
    fake = FakeEcb().start()
    settings.ECB_RATES_URL = fake.url
    settings.RATES_CONNECT_TIMEOUT = 2
    settings.RATES_READ_TIMEOUT = 2
    yield fake
    fake.stop()


@pytest.fixture
def currencies_on(db, usd):
    """Staff offer EUR, RUB and JPY, with fixed rates dated yesterday (1 USD = 0.92 EUR,
    = 92.5 RUB, = 150 JPY)."""

    def make(source: str = Source.FIXED, codes=("EUR", "RUB", "JPY"), rates=None) -> CurrencySettings:
        config, _ = CurrencySettings.objects.update_or_create(
            pk=1, defaults={"source": source, "currencies": list(codes)}
        )
        wanted = {"EUR": "0.92", "RUB": "92.5", "JPY": "150"} if rates is None else rates
        for code, rate in wanted.items():
            fixed_rate(code, rate)
        return config

    return make


def fixed_rate(code: str, rate: str, *, days_ago: int = 1, base: str = "USD") -> ExchangeRate:
    return ExchangeRate.objects.create(
        source=Source.FIXED,
        base=base,
        currency=code,
        rate=Decimal(rate),
        valid_on=timezone.localdate() - datetime.timedelta(days=days_ago),
    )


@pytest.fixture
def admin_staff(db, settings):
    settings.STAFF_REQUIRE_2FA = False
    ensure_roles()
    user = User.objects.create_user(username="boss", password="pw-Long-enough-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Admin"))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def as_admin(client, admin_staff):
    client.force_login(admin_staff)
    return client
