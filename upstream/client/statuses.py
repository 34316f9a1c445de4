"""Status words: a provider's order or refill status mapped to the protocol's own words."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from upstream.names import name_key

from .results import ORDER_STATUSES

# Numeric order status codes sent by some providers, in the order the most common panel
# software stores them: 0 Pending, 1 In progress, 2 Completed, 3 Partial, 4 Processing,
# 5 Canceled.
_NUMERIC_ORDER_STATUS = {
    0: "Pending",
    1: "In progress",
    2: "Completed",
    3: "Partial",
    4: "Processing",
    5: "Canceled",
}

# Keys are name_key()s: lower case with spaces, underscores and dashes removed.
_ORDER_STATUS_WORDS = {
    "pending": "Pending",
    "inprogress": "In progress",
    "active": "In progress",  # drip-feed runs and subscriptions that are still delivering
    "processing": "Processing",
    "completed": "Completed",
    "complete": "Completed",
    "partial": "Partial",
    "canceled": "Canceled",
    "cancelled": "Canceled",
    # Providers that refund failed orders report them with these words.
    "refunded": "Canceled",
    "fail": "Canceled",
    "failed": "Canceled",
    "error": "Canceled",
    # A subscription whose expiry date came: it delivered some of its posts, and the refund of
    # the rest is counted from the posts it reports (orders.settlement.final_remains).
    "expired": "Partial",
}

_EXACT_ORDER_STATUSES = frozenset(ORDER_STATUSES)

_REFILL_STATUS_WORDS = {
    "pending": "Pending",
    "inprogress": "In progress",
    "processing": "In progress",
    "completed": "Completed",
    "rejected": "Rejected",
    "canceled": "Rejected",
    "cancelled": "Rejected",
}


def normalize_status(value: Any) -> str | None:
    """Map a provider's order status to one of ORDER_STATUSES; None means "no information"."""
    if type(value) is str and value in _EXACT_ORDER_STATUSES:  # the common case, cheaply
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _NUMERIC_ORDER_STATUS.get(value)
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return _NUMERIC_ORDER_STATUS.get(int(value))
        return None
    if not isinstance(value, str):
        return None
    key = name_key(value)
    if key.isascii() and key.isdigit():
        return _NUMERIC_ORDER_STATUS.get(int(key))
    return _ORDER_STATUS_WORDS.get(key)


def normalize_refill_status(value: Any) -> str | None:
    """Map a provider's refill status to one of REFILL_STATUSES; None means "no information"."""
    if not isinstance(value, str):
        return None
    return _REFILL_STATUS_WORDS.get(name_key(value))
