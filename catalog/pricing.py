"""Prices, computed in one place for the dashboard, the downstream API and the order engine.

Our rate = upstream rate x provider exchange rate x (1 + markup / 100), rounded by the rule staff
pick. The markup comes from the most specific rule: the service's own (a fixed rate or a
percent), its category's, its provider's, then the panel default. A customer then pays a fixed
price agreed for that service, or our rate less the customer's discount; never below cost unless
the service is an explicit loss-leader.
"""

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal

from django.conf import settings

from .models import CustomerPrice, PricingSettings, Service, ServiceType

HUNDRED = Decimal("100")
THOUSAND = Decimal("1000")
# Types whose rate is the price of one package, not a price per 1,000 units.
FLAT_TYPES = {ServiceType.PACKAGE, ServiceType.CUSTOM_COMMENTS_PACKAGE}


class BelowCost(ValueError):
    pass


def order_units(quantity: int, runs: int | None) -> int:
    """The units an order is charged (and refunded) for: quantity x runs for drip-feed orders
    and subscriptions (runs are their posts), the quantity otherwise."""
    return quantity * (runs or 1)


def _places(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals)


def round_rate(value: Decimal, pricing: PricingSettings) -> Decimal:
    mode = ROUND_UP if pricing.rounding == PricingSettings.Rounding.UP else ROUND_HALF_UP
    return value.quantize(_places(pricing.decimals), rounding=mode).quantize(settings.MONEY_PLACES)


def cost_rate(service: Service) -> Decimal:
    """What fulfilling 1,000 (or a package) costs us in the panel currency, unrounded: the
    provider's rate at its exchange rate, or a manual service's cost that staff set."""
    if service.manual:
        return service.manual_cost
    upstream = service.upstream
    return upstream.rate * upstream.provider.exchange_rate


def unit_cost(service: Service) -> Decimal:
    """What the provider charges us per 1,000 (or per package), in the panel currency."""
    return cost_rate(service).quantize(settings.MONEY_PLACES, rounding=ROUND_UP)


def markup_for(service: Service, pricing: PricingSettings) -> Decimal:
    for candidate in (
        service.markup_percent,
        service.category.markup_percent,
        None if service.manual else service.upstream.provider.markup_percent,
    ):
        if candidate is not None:
            return candidate
    return pricing.default_markup_percent


def list_rate(service: Service, pricing: PricingSettings | None = None) -> Decimal:
    """Our rate for the service before customer discounts, from the pricing rules."""
    pricing = pricing or PricingSettings.load()
    if service.fixed_rate is not None:
        return service.fixed_rate
    raw = cost_rate(service) * (1 + markup_for(service, pricing) / HUNDRED)
    return round_rate(raw, pricing)


def check_not_below_cost(service: Service, rate: Decimal) -> None:
    if service.allow_below_cost:
        return
    cost = unit_cost(service)
    if rate < cost:
        raise BelowCost(f"{rate} is below the cost of {cost} for service {service.pk or service.name}.")


def customer_rate(service: Service, user, custom_rates: dict[int, Decimal] | None = None) -> Decimal:
    """The rate this customer pays per 1,000 (or per package).

    `custom_rates` (service ID -> rate) lets list pages load every fixed price in one query.
    Whatever the path (our rate, a fixed customer price or a discount), the result is never
    below the current cost unless the service is a loss-leader: a stale stored rate or a deal
    agreed before the provider raised its price cannot make us sell at a loss.
    """
    rate = service.rate
    if user is not None and getattr(user, "pk", None):
        if custom_rates is None:
            custom = CustomerPrice.objects.filter(user_id=user.pk, service_id=service.pk).values_list("rate", flat=True)
            fixed = custom.first()
        else:
            fixed = custom_rates.get(service.pk)
        discount = getattr(user, "discount_percent", None) or Decimal("0")
        if fixed is not None:
            rate = fixed
        elif discount:
            rate = (service.rate * (HUNDRED - discount) / HUNDRED).quantize(settings.MONEY_PLACES, rounding=ROUND_UP)
    if service.allow_below_cost:
        return rate
    return max(rate, unit_cost(service))


def custom_rates_for(user) -> dict[int, Decimal]:
    if user is None or not getattr(user, "pk", None):
        return {}
    return dict(CustomerPrice.objects.filter(user_id=user.pk).values_list("service_id", "rate"))


@dataclass(frozen=True)
class Quote:
    rate: Decimal  # per 1,000, or per package
    units: int  # what the rate applies to: total quantity (all runs), or 1 package
    charge: Decimal  # what the customer pays
    cost: Decimal  # what the provider is expected to charge us, in the panel currency


def quote(
    service: Service, user, *, quantity: int, runs: int | None = None, custom_rates: dict[int, Decimal] | None = None
) -> Quote:
    """The charge for an order: per 1,000 units, all drip-feed runs included; flat for packages.
    `custom_rates` as for customer_rate."""
    rate = customer_rate(service, user, custom_rates)
    per_unit_cost = cost_rate(service)
    if service.type in FLAT_TYPES:
        units = 1
        charge = rate
        cost = per_unit_cost
    else:
        units = order_units(quantity, runs)
        charge = rate * units / THOUSAND
        cost = per_unit_cost * units / THOUSAND
    return Quote(
        rate=rate,
        units=units,
        # Round the charge up so that a tiny order never costs us more than it earns.
        charge=charge.quantize(settings.MONEY_PLACES, rounding=ROUND_UP),
        cost=cost.quantize(settings.MONEY_PLACES, rounding=ROUND_HALF_UP),
    )


def refund_for_remains(charge: Decimal, remains: int, quantity: int) -> Decimal:
    """Partial refund: charge x remains / quantity, rounded down to 5 decimals."""
    if quantity <= 0 or remains <= 0:
        return Decimal("0")
    remains = min(remains, quantity)
    return (charge * remains / quantity).quantize(settings.MONEY_PLACES, rounding=ROUND_DOWN)
