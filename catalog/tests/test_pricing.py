"""Every pricing rule, their precedence, rounding, customer prices and the below-cost guard."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.services import customer_discount_change
from catalog.models import Category, CustomerPrice, PricingSettings, Service, ServiceChange
from catalog.pricing import (
    BelowCost,
    custom_rates_for,
    customer_rate,
    list_rate,
    quote,
    refund_for_remains,
    round_rate,
    unit_cost,
)
from catalog.services import (
    customer_price_remove,
    customer_price_set,
    prices_recompute,
    service_rate,
    service_save_price,
)

D = Decimal


@pytest.fixture
def customer(db):
    return User.objects.create(username="reseller")


def fresh(service: Service) -> Service:
    return Service.objects.select_related("category", "upstream__provider").get(pk=service.pk)


# --- the formula and the precedence of markups ---------------------------------------------


def test_rate_is_upstream_rate_times_exchange_rate_times_markup(pricing, provider_for, make_service):
    provider = provider_for(exchange_rate=D("0.9"))
    service = make_service(provider=provider, cost="1.20")
    # 1.20 x 0.9 = 1.08 cost; + 50% default markup = 1.62
    assert unit_cost(service) == D("1.08000")
    assert list_rate(service, pricing) == D("1.62000")


@pytest.mark.parametrize(
    ("service_markup", "fixed_rate", "category_markup", "provider_markup", "expected"),
    [
        (None, None, None, None, "3.0000"),  # panel default 50%
        (None, None, None, D("40"), "2.8000"),  # provider
        (None, None, D("30"), D("40"), "2.6000"),  # category beats provider
        (D("20"), None, D("30"), D("40"), "2.4000"),  # service percent beats category
        (D("20"), D("5.5"), D("30"), D("40"), "5.5000"),  # a fixed rate beats everything
        (D("0"), None, D("30"), D("40"), "2.0000"),  # zero is a rule too, not "unset"
        (None, None, D("0"), D("40"), "2.0000"),
    ],
)
def test_most_specific_markup_wins(
    pricing, provider_for, make_service, service_markup, fixed_rate, category_markup, provider_markup, expected
):
    provider = provider_for(markup_percent=provider_markup)
    category = Category.objects.create(name="Precedence", markup_percent=category_markup)
    service = make_service(
        provider=provider, cost="2.00", category=category, markup_percent=service_markup, fixed_rate=fixed_rate
    )
    assert list_rate(fresh(service), pricing) == D(expected)


@pytest.mark.parametrize(
    ("decimals", "rounding", "expected"),
    [
        (4, "up", "1.5002"),  # 1.50015 -> up
        (4, "half_up", "1.5002"),
        (3, "up", "1.501"),
        (3, "half_up", "1.500"),
        (2, "up", "1.51"),
        (0, "up", "2"),
        (0, "half_up", "2"),
        (5, "up", "1.50015"),
    ],
)
def test_rounding_rule_staff_pick(pricing, make_service, decimals, rounding, expected):
    pricing.decimals = decimals
    pricing.rounding = rounding
    service = make_service(cost="1.00010")  # x 1.5 = 1.50015
    assert list_rate(fresh(service), pricing) == D(expected)


def test_round_rate_always_keeps_five_places(pricing):
    pricing.decimals = 2
    assert round_rate(D("1.231"), pricing) == D("1.24")
    assert str(round_rate(D("1.231"), pricing)) == "1.24000"


def test_cost_is_rounded_up_so_it_is_never_underestimated(provider_for, make_service):
    service = make_service(provider=provider_for(exchange_rate=D("1.5")), cost="0.33333")
    assert unit_cost(service) == D("0.50000")  # 0.499995 rounded up


# --- stored rates: service_save_price, prices_recompute, the guard ----------------------------


def test_service_save_price_stores_the_rule_rate_and_logs_a_change(pricing, make_service):
    service = fresh(make_service(cost="2.00"))
    service_save_price(service=service)
    assert fresh(service).rate == D("3.00000")
    service.markup_percent = D("10")
    service_save_price(service=service)
    assert fresh(service).rate == D("2.20000")
    changes = ServiceChange.objects.filter(service=service).order_by("id")
    assert [(c.kind, c.field, c.old_value, c.new_value) for c in changes] == [
        ("changed", "rate", "1.00000", "3.00000"),
        ("changed", "rate", "3.00000", "2.20000"),
    ]


@pytest.mark.parametrize(
    ("fields", "refused"),
    [
        ({"fixed_rate": D("1.99999")}, True),
        ({"fixed_rate": D("2.00000")}, False),  # at cost is allowed
        ({"markup_percent": D("-10")}, True),
        ({"markup_percent": D("-10"), "allow_below_cost": True}, False),
        ({"fixed_rate": D("0.5"), "allow_below_cost": True}, False),
    ],
)
def test_guard_refuses_to_save_a_price_below_cost(pricing, make_service, fields, refused):
    service = fresh(make_service(cost="2.00"))
    for name, value in fields.items():
        setattr(service, name, value)
    if refused:
        with pytest.raises(BelowCost):
            service_save_price(service=service)
        assert fresh(service).rate == D("1")  # unchanged
    else:
        service_save_price(service=service)
        assert fresh(service).rate == list_rate(service, pricing)


def test_guard_uses_cost_after_the_exchange_rate(pricing, provider_for, make_service):
    service = fresh(make_service(provider=provider_for(exchange_rate=D("2")), cost="1.00"))
    service.fixed_rate = D("1.50")  # above the upstream rate, below the 2.00 it costs us
    with pytest.raises(BelowCost):
        service_save_price(service=service)


def test_service_rate_raises_a_fixed_rate_below_cost_to_the_markup_rules(pricing, make_service):
    service = fresh(make_service(cost="2.00", fixed_rate=D("1.00")))
    priced = service_rate(service, pricing)
    assert (priced.rate, priced.below_cost, priced.rule_rate, priced.cost) == (
        D("3.0000"),
        True,
        D("1.00"),
        D("2.00000"),
    )


def test_service_rate_raises_a_negative_markup_to_cost_rounded_up(pricing, make_service):
    pricing.decimals = 2
    service = fresh(make_service(cost="2.001", markup_percent=D("-20")))
    priced = service_rate(service, pricing)
    assert priced.below_cost
    assert priced.rate == D("2.01")


def test_loss_leader_keeps_its_price_below_cost(pricing, make_service):
    service = fresh(make_service(cost="2.00", fixed_rate=D("1.00"), allow_below_cost=True))
    priced = service_rate(service, pricing)
    assert (priced.rate, priced.below_cost) == (D("1.00"), False)


def test_prices_recompute_follows_a_category_markup_in_bulk(pricing, make_service):
    category = Category.objects.create(name="Bulk")
    services = [make_service(cost="1.00", category=category) for _ in range(3)]
    other = make_service(cost="1.00")
    category.markup_percent = D("100")
    category.save()
    assert prices_recompute(service_ids=[s.pk for s in services]) == 3
    assert {fresh(s).rate for s in services} == {D("2.00000")}
    assert fresh(other).rate == D("1")  # not asked for
    assert ServiceChange.objects.filter(kind="changed", field="rate").count() == 3
    assert prices_recompute(service_ids=[s.pk for s in services]) == 0  # idempotent


def test_prices_recompute_raises_rates_when_cost_rises_and_flags_once(pricing, provider_for, make_service):
    provider = provider_for()
    service = make_service(provider=provider, cost="2.00", fixed_rate=D("2.50"))
    prices_recompute(service_ids=[service.pk])
    assert fresh(service).rate == D("2.50")
    provider.exchange_rate = D("1.5")  # cost 3.00 now, above the fixed 2.50
    provider.save()
    prices_recompute()
    service = fresh(service)
    assert (service.rate, service.below_cost, service.flagged) == (D("4.5000"), True, True)
    assert "below cost" in service.flag_reason
    assert ServiceChange.objects.filter(service=service, kind="below_cost").count() == 1
    prices_recompute()
    assert ServiceChange.objects.filter(service=service, kind="below_cost").count() == 1
    provider.exchange_rate = D("1")
    provider.save()
    prices_recompute()
    service = fresh(service)
    assert (service.rate, service.below_cost) == (D("2.50"), False)


def test_prices_recompute_makes_a_constant_number_of_queries(pricing, make_service, provider_for):
    provider = provider_for()
    few = [make_service(provider=provider, cost="1.00").pk for _ in range(5)]
    many = [make_service(provider=provider, cost="1.00").pk for _ in range(60)]
    with CaptureQueriesContext(connection) as small:
        prices_recompute(service_ids=few)
    with CaptureQueriesContext(connection) as large:
        prices_recompute(service_ids=many)
    assert len(large) == len(small)


# --- what a customer pays -------------------------------------------------------------------


def test_customer_without_deal_pays_our_rate(pricing, make_service, customer):
    service = fresh(make_service(cost="1.00", rate=D("1.5")))
    assert customer_rate(service, customer) == D("1.5")
    assert customer_rate(service, None) == D("1.5")


def test_discount_percent_applies_to_our_rate(pricing, make_service, customer):
    service = fresh(make_service(cost="1.00", rate=D("2.00")))
    customer_discount_change(user_id=customer.pk, percent=D("10"), actor_id=None)
    customer.refresh_from_db()
    assert customer_rate(service, customer) == D("1.80000")


def test_discount_never_goes_below_cost_unless_loss_leader(pricing, make_service, customer):
    customer_discount_change(user_id=customer.pk, percent=D("60"), actor_id=None)
    customer.refresh_from_db()
    service = fresh(make_service(cost="1.00", rate=D("2.00")))
    assert customer_rate(service, customer) == D("1.00000")  # 0.80 floored at cost
    leader = fresh(make_service(cost="1.00", rate=D("2.00"), allow_below_cost=True))
    assert customer_rate(leader, customer) == D("0.80000")


def test_fixed_customer_price_beats_discount(pricing, make_service, customer):
    customer_discount_change(user_id=customer.pk, percent=D("10"), actor_id=None)
    customer.refresh_from_db()
    service = fresh(make_service(cost="1.00", rate=D("2.00")))
    customer_price_set(user_id=customer.pk, service_id=service.pk, rate=D("1.25"))
    assert customer_rate(service, customer) == D("1.25")
    assert customer_rate(service, customer, custom_rates_for(customer)) == D("1.25")
    customer_price_set(user_id=customer.pk, service_id=service.pk, rate=D("1.30"))  # replaced, not duplicated
    assert CustomerPrice.objects.get(user=customer, service=service).rate == D("1.30")
    assert customer_price_remove(user_id=customer.pk, service_id=service.pk)
    assert customer_rate(service, customer) == D("1.80000")


def test_customer_price_below_cost_is_refused(pricing, make_service, customer):
    service = make_service(cost="1.00", rate=D("2.00"))
    with pytest.raises(BelowCost):
        customer_price_set(user_id=customer.pk, service_id=service.pk, rate=D("0.99999"))
    assert not CustomerPrice.objects.exists()
    leader = make_service(cost="1.00", rate=D("2.00"), allow_below_cost=True)
    customer_price_set(user_id=customer.pk, service_id=leader.pk, rate=D("0.5"))


def test_a_deal_made_before_the_cost_rose_is_charged_at_cost(pricing, provider_for, make_service, customer):
    provider = provider_for()
    service = make_service(provider=provider, cost="1.00", rate=D("2.00"))
    customer_price_set(user_id=customer.pk, service_id=service.pk, rate=D("1.10"))
    provider.exchange_rate = D("1.2")
    provider.save()
    assert customer_rate(fresh(service), customer) == D("1.20000")


@pytest.mark.parametrize("percent", [D("-1"), D("100")])
def test_discount_out_of_range_is_refused(customer, percent):
    with pytest.raises(ValueError):
        customer_discount_change(user_id=customer.pk, percent=percent, actor_id=None)


# --- quotes and refunds ---------------------------------------------------------------------


def test_quote_per_thousand_with_drip_feed_runs(pricing, make_service, customer):
    service = fresh(make_service(cost="1.00", rate=D("2.00")))
    price = quote(service, customer, quantity=1500, runs=3)
    assert (price.rate, price.units, price.charge, price.cost) == (D("2.00"), 4500, D("9.00000"), D("4.50000"))


def test_quote_rounds_a_tiny_charge_up(pricing, make_service, customer):
    service = fresh(make_service(cost="0.001", rate=D("0.0015")))
    assert quote(service, customer, quantity=1).charge == D("0.00001")


def test_quote_of_a_package_is_flat(pricing, make_service, customer):
    service = fresh(make_service(cost="10.00", rate=D("15.00"), type="Package"))
    price = quote(service, customer, quantity=1)
    assert (price.units, price.charge, price.cost) == (1, D("15.00000"), D("10.00000"))


def test_refund_for_remains_rounds_down():
    assert refund_for_remains(D("1.00000"), 1, 3) == D("0.33333")
    assert refund_for_remains(D("1.00000"), 5, 3) == D("1.00000")
    assert refund_for_remains(D("1.00000"), 0, 3) == D("0")


def test_pricing_settings_load_creates_the_single_row(db):
    PricingSettings.objects.all().delete()
    settings = PricingSettings.load()
    assert settings.pk == 1
    assert PricingSettings.load().pk == 1
    assert PricingSettings.objects.count() == 1
