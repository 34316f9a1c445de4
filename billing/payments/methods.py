"""Payment methods and what a deposit through one costs: the gateway object, whether customers
may use the method now, the rate, fee, bonus and the quote shown before paying."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from django.conf import settings
from django.utils.translation import gettext

from panel.tenancy import panel_currency

from ..gateways import GATEWAYS, gateway_class
from ..gateways.manual import ManualGateway
from ..models import MANUAL, BonusTier, PaymentMethod, plain_amount

logger = logging.getLogger(__name__)
HUNDRED = Decimal("100")
# Crypto currencies, for their decimal places when an amount is converted into them.
ZERO_DECIMAL = {
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "JPY",
    "KMF",
    "KRW",
    "MGA",
    "PYG",
    "RWF",
    "UGX",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
}
THREE_DECIMAL = {"BHD", "JOD", "KWD", "OMR", "TND"}


class DepositError(ValueError):
    """The deposit cannot be made as asked; the message is for the customer, in the active language."""


# --- Methods and their gateways ------------------------------------------------------------------


def gateway_for(method: PaymentMethod):
    """The gateway object of a method, built from its settings (secrets decrypted).

    PAYMENT_GATEWAY_BASE_URLS (code -> URL) points a gateway at another API address: the tests and
    the demo point it at the local fakes. Unset in production.
    """
    if method.kind == MANUAL:
        return ManualGateway(method.config())
    base_url = (getattr(settings, "PAYMENT_GATEWAY_BASE_URLS", None) or {}).get(method.kind)
    return gateway_class(method.kind)(method.config(), base_url=base_url)


def method_problem(method: PaymentMethod) -> str:
    """Why customers cannot use this method now ('' when they can)."""
    if not method.enabled:
        return "disabled"
    if method.kind == MANUAL:
        return ""
    if method.kind not in GATEWAYS:
        return f"unknown gateway {method.kind!r}"
    try:
        cls = gateway_class(method.kind)
    except (ImportError, AttributeError):
        return f"the {method.kind} gateway is not installed"
    config = method.config()
    missing = [field.label for field in cls.fields if field.required and not config.get(field.name)]
    if missing:
        return "not configured: " + ", ".join(missing)
    if not getattr(gateway_for(method), "configured", True):
        return "not configured"
    currencies = tuple(code.upper() for code in getattr(cls, "currencies", ()) or ())
    if currencies and method.charge_currency() not in currencies:
        return f"{cls.label} does not charge in {method.charge_currency()}"
    return ""


def methods_available() -> list[PaymentMethod]:
    """The methods customers may use now, in their order."""
    return [method for method in PaymentMethod.objects.filter(enabled=True) if not method_problem(method)]


# --- What a deposit costs ------------------------------------------------------------------------


def rate_for(method: PaymentMethod) -> Decimal:
    """Units of the method's charge currency per one unit of the panel's currency. Staff fix it on
    the method for now; a rate feed replaces this one function."""
    if method.charge_currency() == panel_currency().upper():
        return Decimal("1")
    return method.rate


def charge_places(currency: str) -> Decimal:
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return Decimal("1")
    if code in THREE_DECIMAL:
        return Decimal("0.001")
    if len(code) == 3 and code.isalpha() and code not in {"BTC", "ETH", "LTC", "TRX", "BNB", "SOL", "TON", "XMR"}:
        return Decimal("0.01")
    return Decimal("0.00000001")


def bonus_for(amount: Decimal) -> tuple[Decimal, Decimal]:
    """(percent, bonus) of the highest enabled tier `amount` reaches; (0, 0) below every tier."""
    tier = BonusTier.objects.filter(enabled=True, min_amount__lte=amount).order_by("-min_amount").first()
    if tier is None:
        return Decimal("0"), Decimal("0")
    return tier.percent, (amount * tier.percent / HUNDRED).quantize(settings.MONEY_PLACES, rounding=ROUND_DOWN)


def fee_for(method: PaymentMethod, amount: Decimal) -> Decimal:
    fee = amount * method.fee_percent / HUNDRED + method.fee_fixed
    return fee.quantize(Decimal("0.01"), rounding=ROUND_UP) if fee else Decimal("0")


@dataclass(frozen=True)
class Quote:
    """What the customer sees before paying."""

    amount: Decimal  # credited to the balance (panel currency)
    fee: Decimal  # paid on top (panel currency)
    bonus_percent: Decimal
    bonus: Decimal  # credited beside the amount (panel currency)
    total: Decimal  # amount + fee (panel currency)
    charge_amount: Decimal  # what the gateway charges, in charge_currency
    charge_currency: str
    rate: Decimal

    @property
    def charge_display(self) -> str:
        return f"{plain_amount(self.charge_amount)} {self.charge_currency}"


def quote(method: PaymentMethod, amount: Decimal) -> Quote:
    fee = fee_for(method, amount)
    percent, bonus = bonus_for(amount)
    rate = rate_for(method)
    currency = method.charge_currency()
    total = amount + fee
    charge = (total * rate).quantize(charge_places(currency), rounding=ROUND_UP)
    return Quote(amount, fee, percent, bonus, total, charge, currency, rate)


def limits_check(method: PaymentMethod, amount: Decimal) -> None:
    if amount <= 0:
        raise DepositError(gettext("Enter an amount above zero."))
    if amount < method.min_amount:
        raise DepositError(
            gettext("The minimum for this method is %(min)s.") % {"min": f"{method.min_amount.normalize():f}"}
        )
    if method.max_amount is not None and amount > method.max_amount:
        raise DepositError(
            gettext("The maximum for this method is %(max)s.") % {"max": f"{method.max_amount.normalize():f}"}
        )
