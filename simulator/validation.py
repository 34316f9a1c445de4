"""Checking an `add`: the link, the type's required parameters, quantity, drip-feed, price.

Comment and list types count their quantity in lines as upstream.lines.split_lines counts
them; a list it cannot split is refused with the provider's words (Refusal).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from upstream.lines import LineError, split_lines

from .catalog import DIGITS, LINE_PARAMS, SUBSCRIPTION_DELAYS, TYPE_RULES, quantize, type_of


class Refusal(Exception):
    """An `add` refused with the provider's error text."""


LINK_HANDLE = re.compile(r"@?[\w.\-]{1,100}")


def valid_link(link: str) -> bool:
    if not link or len(link) > 2048 or any(char.isspace() for char in link):
        return False
    if "://" in link:
        try:
            parts = urlsplit(link)
        except ValueError:
            return False
        return parts.scheme in {"http", "https"} and "." in (parts.hostname or "")
    return bool(LINK_HANDLE.fullmatch(link))


def positive_int(value: str | None) -> int | None:
    if value is None or not DIGITS.fullmatch(value.strip()):
        return None
    number = int(value)
    return number if number > 0 else None


def param_lines(params: Mapping[str, str], name: str) -> list[str]:
    """The lines of a list parameter, or Refusal when the text cannot be split into lines."""
    try:
        return split_lines(params.get(name) or "", label=LINE_PARAMS.get(name, name))
    except LineError as exc:
        raise Refusal(exc.message) from None


def validate_add(service: dict[str, Any], params: Mapping[str, str]) -> tuple[int, int | None, int | None, Decimal]:
    """(total quantity, runs, posts, charge) for a valid order; Refusal otherwise."""
    kind = type_of(service)
    source, required, drip_capable = TYPE_RULES[kind]
    low, high = service["min"], service["max"]
    rate = service["rate"]

    def check_range(quantity: int) -> None:
        if quantity < low:
            raise Refusal(f"Quantity less than minimal {low}")
        if quantity > high:
            raise Refusal(f"Quantity more than maximum {high}")

    if source == "subscription":
        return _validate_subscription(service, params)
    if not valid_link((params.get("link") or "").strip()):
        raise Refusal("Bad link")
    for name in required:
        present = param_lines(params, name) if name in LINE_PARAMS else (params.get(name) or "").strip()
        if not present:
            raise Refusal("Incorrect request")

    runs = None
    if params.get("runs") or params.get("interval"):
        if not drip_capable or not service["dripfeed"]:
            raise Refusal("This service does not support drip-feed")
        if not params.get("runs"):
            raise Refusal("Runs is required")
        if not params.get("interval"):
            raise Refusal("Interval is required")
        runs = positive_int(params["runs"])
        if runs is None or positive_int(params["interval"]) is None:
            raise Refusal("Incorrect request")

    if kind == "Poll" and positive_int(params.get("answer_number")) is None:
        raise Refusal("Incorrect request")
    if kind == "Web Traffic":
        _validate_web_traffic(params)

    if source == "package":
        return 1, None, None, quantize(rate)
    if source.startswith(("lines:", "package_lines:")):
        count = len(param_lines(params, source.split(":")[1]))
        if count == 0:
            raise Refusal("Incorrect request")
        check_range(count)
        flat = source.startswith("package_lines:")
        return count, None, None, quantize(rate if flat else rate * count / 1000)

    quantity = positive_int(params.get("quantity"))
    if quantity is None:
        raise Refusal("Incorrect request")
    check_range(quantity)
    total = quantity * (runs or 1)
    return total, runs, None, quantize(rate * total / 1000)


def _validate_web_traffic(params: Mapping[str, str]) -> None:
    device = positive_int(params.get("device"))
    traffic = positive_int(params.get("type_of_traffic"))
    if device is None or device > 5 or traffic is None or traffic > 3:
        raise Refusal("Incorrect request")
    if traffic == 1 and not (params.get("google_keyword") or "").strip():
        raise Refusal("Incorrect request")
    if traffic == 2 and not valid_link((params.get("referring_url") or "").strip()):
        raise Refusal("Bad link")


def _validate_subscription(service: dict[str, Any], params: Mapping[str, str]) -> tuple[int, None, int, Decimal]:
    if not LINK_HANDLE.fullmatch((params.get("username") or "").strip()):
        raise Refusal("Incorrect request")
    low, high = positive_int(params.get("min")), positive_int(params.get("max"))
    if low is None or high is None or low > high:
        raise Refusal("Incorrect request")
    if low < service["min"]:
        raise Refusal(f"Quantity less than minimal {service['min']}")
    if high > service["max"]:
        raise Refusal(f"Quantity more than maximum {service['max']}")
    delay = (params.get("delay") or "").strip()
    if not delay.isdigit() or int(delay) not in SUBSCRIPTION_DELAYS:
        raise Refusal("Incorrect request")
    posts = 1
    if params.get("posts"):
        posts = positive_int(params["posts"])
        if posts is None:
            raise Refusal("Incorrect request")
    if params.get("old_posts") and not (params["old_posts"].strip().isdigit()):
        raise Refusal("Incorrect request")
    if params.get("expiry"):
        try:
            datetime.strptime(params["expiry"].strip(), "%d/%m/%Y")
        except ValueError:
            raise Refusal("Incorrect request") from None
    return high * posts, None, posts, quantize(service["rate"] * high * posts / 1000)
