"""The backoffice: currency settings (audited), fixed rates staff type (audited), the feed's rates
read-only, the rates in use with their dates, and "Fetch now" against the local fake feed."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditLog
from currencies.models import CurrencySettings, ExchangeRate, Source
from currencies.tests.conftest import fixed_rate

pytestmark = pytest.mark.django_db
SETTINGS_URL = "/admin/currencies/currencysettings/1/change/"


def _settings_form(**changes) -> dict:
    data = {"source": Source.FIXED, "currencies": ["EUR", "RUB"], "stale_after_days": "4"}
    data.update(changes)
    return data


def test_the_list_is_the_settings_page(as_admin, usd):
    response = as_admin.get(reverse("admin:currencies_currencysettings_changelist"))
    assert response.status_code == 302 and response["Location"] == SETTINGS_URL
    body = as_admin.get(SETTINGS_URL).content.decode()
    assert "Fetch now" in body and "No feed rates fetched yet." in body


def test_staff_choose_the_source_and_currencies_audited(as_admin, admin_staff, usd):
    as_admin.get(reverse("admin:currencies_currencysettings_changelist"))
    response = as_admin.post(SETTINGS_URL, _settings_form(currencies=["EUR", "RUB", "USD"]))
    assert response.status_code == 302, response.content.decode()[:2000]
    config = CurrencySettings.objects.get(pk=1)
    assert config.currencies == ["EUR", "RUB"]  # the panel currency is always offered, never listed
    audit = AuditLog.objects.get(action="currencies.settings_edit")
    assert audit.actor_id == admin_staff.pk
    assert audit.before == {"currencies": []} and audit.after == {"currencies": ["EUR", "RUB"]}
    as_admin.post(SETTINGS_URL, _settings_form(source=Source.ECB))
    audit = AuditLog.objects.filter(action="currencies.settings_edit").first()
    assert audit.before == {"source": "fixed"} and audit.after == {"source": "ecb"}
    # Saving without a change writes no audit row.
    as_admin.post(SETTINGS_URL, _settings_form(source=Source.ECB))
    assert AuditLog.objects.filter(action="currencies.settings_edit").count() == 2


def test_the_settings_page_lists_each_rate_in_use_with_its_date(as_admin, usd, currencies_on):
    currencies_on(codes=("EUR", "GBP"), rates={"EUR": "0.92"})
    body = as_admin.get(SETTINGS_URL).content.decode()
    yesterday = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
    assert 'id="currencies-rate-EUR"' in body and "0.92" in body and yesterday in body
    assert "No rate: customers cannot choose it until it has one." in body  # GBP


def test_staff_type_a_fixed_rate_audited(as_admin, admin_staff, usd):
    response = as_admin.post(
        reverse("admin:currencies_exchangerate_add"), {"currency": "RUB", "rate": "92.5", "valid_on": "2026-11-30"}
    )
    assert response.status_code == 302
    rate = ExchangeRate.objects.get()
    assert (rate.source, rate.base, rate.currency, rate.rate, rate.entered_by_id) == (
        Source.FIXED,
        "USD",
        "RUB",
        Decimal("92.5"),
        admin_staff.pk,
    )
    audit = AuditLog.objects.get(action="currencies.rate_create")
    assert audit.after == {"currency": "RUB", "rate": "92.5", "valid_on": "2026-11-30"}
    as_admin.post(
        reverse("admin:currencies_exchangerate_change", args=[rate.pk]),
        {"currency": "RUB", "rate": "93", "valid_on": "2026-11-30"},
    )
    audit = AuditLog.objects.get(action="currencies.rate_edit")
    assert audit.before == {"rate": "92.5"} and audit.after == {"rate": "93"}
    as_admin.post(reverse("admin:currencies_exchangerate_delete", args=[rate.pk]), {"post": "yes"})
    assert not ExchangeRate.objects.exists()
    assert AuditLog.objects.get(action="currencies.rate_delete").before["rate"] == "93"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"currency": "RUB", "rate": "0", "valid_on": "2026-11-30"}, "greater than or equal to"),
        ({"currency": "RUB", "rate": "-1", "valid_on": "2026-11-30"}, "greater than or equal to"),
        ({"currency": "RUB", "rate": "abc", "valid_on": "2026-11-30"}, "Enter a number."),
        ({"currency": "USD", "rate": "1", "valid_on": "2026-11-30"}, "This is the panel currency"),
        ({"currency": "XQQ", "rate": "1", "valid_on": "2026-11-30"}, "Select a valid choice."),
        ({"currency": "EUR", "rate": "0.92", "valid_on": "2026-11-30"}, "There is a fixed rate for this currency"),
    ],
)
def test_a_bad_fixed_rate_is_a_form_error_not_a_crash(as_admin, usd, data, error):
    ExchangeRate.objects.create(
        source=Source.FIXED, base="USD", currency="EUR", rate=Decimal("0.9"), valid_on=datetime.date(2026, 11, 30)
    )
    response = as_admin.post(reverse("admin:currencies_exchangerate_add"), data)
    assert response.status_code == 200 and error in response.content.decode()
    assert ExchangeRate.objects.count() == 1


def test_the_feeds_rates_are_read_only(as_admin, usd):
    row = ExchangeRate.objects.create(source=Source.ECB, base="USD", currency="EUR", rate=Decimal("0.92"))
    page = as_admin.get(reverse("admin:currencies_exchangerate_change", args=[row.pk])).content.decode()
    assert 'name="rate"' not in page
    response = as_admin.post(
        reverse("admin:currencies_exchangerate_change", args=[row.pk]),
        {"currency": "EUR", "rate": "5", "valid_on": "2026-11-30"},
    )
    assert response.status_code == 403
    assert (
        as_admin.post(reverse("admin:currencies_exchangerate_delete", args=[row.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert ExchangeRate.objects.get().rate == Decimal("0.92")
    fixed_rate("RUB", "92.5")
    listing = as_admin.get(reverse("admin:currencies_exchangerate_changelist")).content.decode()
    assert "1 USD = 0.92 EUR" in listing and "1 USD = 92.5 RUB" in listing


def test_fetch_now_stores_the_feed_and_says_so(as_admin, fake_ecb, usd):
    response = as_admin.post(reverse("admin:currencies_fetch"), follow=True)
    assert "30 rates of 2026-11-30 stored." in response.content.decode()
    assert ExchangeRate.objects.filter(source=Source.ECB).count() == 30
    assert AuditLog.objects.filter(action="currencies.fetch").count() == 1
    assert as_admin.get(reverse("admin:currencies_fetch")).status_code == 405


def test_fetch_now_says_why_it_failed(as_admin, fake_ecb, usd):
    fake_ecb.status = 502
    response = as_admin.post(reverse("admin:currencies_fetch"), follow=True)
    assert "Fetching failed: The European Central Bank&#x27;s feed answered HTTP 502." in response.content.decode()


def test_support_staff_cannot_see_or_change_currencies(client, usd):
    from django.contrib.auth.models import Group

    from accounts.models import User
    from backoffice.roles import ensure_roles

    ensure_roles()
    helper = User.objects.create_user(username="helper", password="pw-Long-enough-1", is_staff=True)
    helper.groups.add(Group.objects.get(name="Support"))
    client.force_login(helper)
    assert client.get(SETTINGS_URL).status_code == 403
    assert client.post(reverse("admin:currencies_fetch")).status_code == 403
    assert client.get(reverse("admin:currencies_exchangerate_add")).status_code == 403
