"""Billing in the backoffice: payment methods (settings built from each gateway's fields, secrets
write-only), deposits with their events and review flags, reversals, bonus tiers, affiliates,
commissions and payout requests. Every action that moves money, or decides about it, needs the
money permission (PERM_MONEY) and goes through a billing service that writes the audit row."""

from panel.admin_tools import admin_extend

from ..models import Deposit
from . import affiliates, deposits, methods  # noqa: F401  (each registers its admins)


def _customer_payments(request, user) -> dict:
    return {"recent_payments": Deposit.objects.filter(user=user).select_related("method").order_by("-id")[:10]}


admin_extend("accounts.user", change_context=_customer_payments)
