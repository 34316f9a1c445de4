"""Reads of payment methods, deposits and earnings (the dashboard's pages, the backoffice)."""

from itertools import chain

from .models import BonusTier, Deposit, DepositRequest
from .payments import methods_available

__all__ = ["bonus_tiers", "deposit_history", "methods_available"]


def bonus_tiers() -> list[BonusTier]:
    return list(BonusTier.objects.filter(enabled=True).order_by("min_amount"))


def deposit_history(user_id: int, limit: int = 30) -> list:
    """The customer's gateway deposits and manual deposit requests, newest first."""
    online = Deposit.objects.filter(user_id=user_id).select_related("method").order_by("-id")[:limit]
    manual = DepositRequest.objects.filter(user_id=user_id).select_related("method").order_by("-id")[:limit]
    rows = sorted(chain(online, manual), key=lambda row: row.created_at, reverse=True)
    return rows[:limit]
