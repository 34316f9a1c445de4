"""Reads of payment methods and payments (the dashboard's payment pages, the backoffice's customer page)."""

from decimal import Decimal

from .gateways import stripe as stripe_gateway
from .models import GatewayPayment, PaymentMethod


def stripe_method() -> PaymentMethod | None:
    """The Stripe method row when customers may use it: enabled, and the Stripe keys configured."""
    if not stripe_gateway.configured():
        return None
    return PaymentMethod.objects.filter(kind=PaymentMethod.Kind.STRIPE, enabled=True).first()


def card_limits(method: PaymentMethod) -> tuple[Decimal, Decimal | None]:
    """The lowest and highest card payment: the method's limits, never below STRIPE_MIN_AMOUNT."""
    return max(method.min_amount, stripe_gateway.min_amount()), method.max_amount


def gateway_payments_for(user_id: int, limit: int = 20) -> list[GatewayPayment]:
    return list(GatewayPayment.objects.filter(user_id=user_id).order_by("-id")[:limit])
