"""The answers of API v2, shaped exactly as the protocol's reference shows them.

Every answer the endpoint sends is built by one of these functions, and the documentation page
and the OpenAPI document build their examples by calling the same functions, so the examples
cannot drift from what is served.

Numbers follow the reference: service IDs and new order IDs are JSON numbers; money, counts,
min and max are strings; a single refill's ID is a string while the multi-refill list carries
numbers.
"""

import json
from decimal import Decimal
from functools import lru_cache
from typing import Any

from catalog.models import DRIPFEED_TYPES
from catalog.pricing import order_units

# Where the protocol has no text of its own, the words are the most common ones in the wild
# (../shared/reference/api-v2-in-the-wild.md).
INVALID_KEY = "Invalid API key"
INCORRECT_REQUEST = "Incorrect request"
INVALID_ACTION = "This action is invalid"
INCORRECT_ORDER = "Incorrect order ID"
REFILL_NOT_FOUND = "Refill not found"
TOO_MANY_IDS = "Too many IDs: at most 100 per request"
TOO_MANY_REQUESTS = "Too many requests"
KEY_IN_URL = "Send the API key in the POST body, not in the URL"
INTERNAL_ERROR = "Internal error: the outcome is unknown, retry with the same idempotency_key"

# The order statuses the answers treat specially (the reference's words).
COMPLETED = "Completed"
CANCELED = "Canceled"

# Service types whose orders may be split into drip-feed runs; only their entries carry `dripfeed`.
_FIVE = Decimal("0.00001")


def error(message: str) -> dict[str, str]:
    return {"error": message}


def money(value: Decimal) -> str:
    """Charges and balances: always five decimals, as in "0.27819"."""
    return str(value.quantize(_FIVE))


def rate_text(value: Decimal) -> str:
    """A rate per 1,000 as the reference writes them: "8" when whole, else at least two
    decimals with further trailing zeros stripped ("0.90", "1.25", "0.0125")."""
    whole, _, fraction = str(value.quantize(_FIVE)).partition(".")
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction.ljust(2, '0')}" if fraction else whole


def service_entry(
    *,
    service: int,
    name: str,
    type: str,
    category: str,
    rate: Decimal,
    min: int,
    max: int,
    refill: bool,
    cancel: bool,
    dripfeed: bool,
) -> dict[str, Any]:
    entry = {
        "service": service,
        "name": name,
        "type": type,
        "category": category,
        "rate": rate_text(rate),
        "min": str(min),
        "max": str(max),
        "refill": refill,
        "cancel": cancel,
    }
    if type in DRIPFEED_TYPES:
        entry["dripfeed"] = dripfeed
    return entry


def order_placed(order_id: int) -> dict[str, int]:
    return {"order": order_id}


@lru_cache(maxsize=64)
def _text(value: str) -> str:
    # Status words and the currency: a handful of values, each written many times.
    return json.dumps(value)


_STATUS_JSON = '{{"charge":"{}","start_count":"{}","status":{},"remains":"{}","currency":{}{}}}'


def delivered(*, status: str, remains: int | None, quantity: int, runs: int) -> int:
    """How many of a drip-feed order's runs (or a subscription's posts) are delivered so far:
    the whole ones, counted from `remains` like the refund of a Partial, so that a client panel
    refunding by runs reaches the amount `charge` already shows. Completed delivered all of
    them; Canceled was refunded in full, so none."""
    if status == COMPLETED:
        return runs
    if status == CANCELED or remains is None or quantity <= 0:
        return 0
    return min(runs, max(0, (quantity * runs - remains) // quantity))


def order_status_json(
    *,
    charge: str,
    start_count: int | None,
    status: str,
    remains: int | None,
    quantity: int,
    runs: int | None,
    interval: int | None,
    currency: str,
) -> str:
    """One order's status as the JSON text we send: `charge` is already written with five
    decimals. An order not started yet shows start count "0" and all of it remaining (quantity
    x runs, as Order.units counts it); a Completed one shows nothing remaining, whatever the
    provider last said.

    Beyond the reference's keys, as providers answer them: a drip-feed order (runs with an
    interval) adds `runs`, a subscription (runs are its posts, no interval) adds `posts`, each
    the number delivered so far.

    A status call of 100 IDs writes this 100 times, so it formats text directly instead of
    building a dict for json.dumps; `order_status` below is the same answer as a dict.
    """
    if status == COMPLETED:
        remains = 0
    elif remains is None:
        remains = order_units(quantity, runs)
    extra = ""
    if runs:
        done = delivered(status=status, remains=remains, quantity=quantity, runs=runs)
        extra = f',"runs":"{done}"' if interval else f',"posts":"{done}"'
    return _STATUS_JSON.format(
        charge,
        start_count if start_count is not None else 0,
        _text(status),
        remains,
        _text(currency),
        extra,
    )


def order_status(
    *,
    charge: Decimal,
    start_count: int | None,
    status: str,
    remains: int | None,
    quantity: int,
    currency: str,
    runs: int | None = None,
    interval: int | None = None,
) -> dict[str, str]:
    """One order's status, as a dict (examples and documentation)."""
    return json.loads(
        order_status_json(
            charge=money(charge),
            start_count=start_count,
            status=status,
            remains=remains,
            quantity=quantity,
            runs=runs,
            interval=interval,
            currency=currency,
        )
    )


def is_plain_id(raw_id: str) -> bool:
    """Whether the text is one of our IDs written plainly: a positive integer that fits a bigint."""
    return raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18 and raw_id[0] != "0"


def keyed_json(ids: list[str], found: dict[str, str], missing: str) -> str:
    """A JSON object from each requested ID (in order, first occurrence kept) to its answer's
    JSON text in `found`, or `missing` for IDs not there; byte-for-byte what json.dumps of
    the equivalent dict gives."""
    parts = [
        f'"{raw}":{found.get(raw, missing)}' if is_plain_id(raw) else f"{json.dumps(raw)}:{missing}"
        for raw in dict.fromkeys(ids)
    ]
    return "{" + ",".join(parts) + "}"


def echo_id(raw_id: str) -> int | str:
    """An ID as the multi-ID lists echo it: a number when it is one, else the text sent."""
    return int(raw_id) if raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18 else raw_id


def refill_created(refill_id: int) -> dict[str, str]:
    return {"refill": str(refill_id)}


def refill_item(raw_order_id: str, refill_id: int | None, message: str | None) -> dict[str, Any]:
    return {"order": echo_id(raw_order_id), "refill": refill_id if message is None else error(message)}


def refill_state(status: str) -> dict[str, str]:
    return {"status": status}


def refill_state_item(raw_refill_id: str, status: str | None) -> dict[str, Any]:
    return {"refill": echo_id(raw_refill_id), "status": status if status is not None else error(REFILL_NOT_FOUND)}


def cancel_item(raw_order_id: str, cancel_id: int | None, message: str | None) -> dict[str, Any]:
    return {"order": echo_id(raw_order_id), "cancel": cancel_id if message is None else error(message)}


def balance(amount: Decimal, currency: str) -> dict[str, str]:
    return {"balance": money(amount), "currency": currency}
