"""What the client returns: typed results, and the protocol's status words and limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

# The protocol accepts at most this many IDs in one multi-ID call.
MAX_IDS_PER_CALL = 100

ORDER_STATUSES = ("Pending", "In progress", "Processing", "Completed", "Partial", "Canceled")
FINAL_STATUSES = {"Completed", "Partial", "Canceled"}
REFILL_STATUSES = ("Pending", "In progress", "Completed", "Rejected")

# --- Results --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Service:
    service: str
    name: str
    type: str
    category: str
    rate: Decimal
    min: int
    max: int
    refill: bool
    cancel: bool
    dripfeed: bool
    desc: str
    raw: dict = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class OrderStatus:
    order: str
    status: str | None
    charge: Decimal | None
    start_count: int | None
    remains: int | None
    currency: str | None
    runs: int | None
    posts: int | None
    error: str | None
    raw: dict = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class RefillResult:
    order: str
    refill: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class RefillStatus:
    refill: str
    status: str | None
    error: str | None
    raw: dict = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class CancelResult:
    order: str
    cancel: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Balance:
    balance: Decimal
    currency: str  # "" when the provider does not say
    # The answer carried `Idempotency-Keys: honoured`: the provider says a repeated `add` with
    # the same idempotency key returns the order it already created (panels on our software do).
    honours_idempotency_keys: bool = False
