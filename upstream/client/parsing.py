"""Reading answers: refusal shapes, readable error words, the shape of each action's answer.

A refusal comes in any of the shapes panels use, all definite (see `refusal`):
{"error": "..."} (or an object or list there), {"errors": [...]}, {"success": false, ...},
and {"status": "error"|"fail"|"failed", "message"|"msg": "..."}. Its words are made readable
and storable (`readable`) before anyone sees them. `interpret` turns one HTTP answer into the
action's result or the failure it means.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import requests

from .errors import Rejected, Unknown
from .results import OrderStatus, RefillStatus, Service
from .statuses import normalize_refill_status, normalize_status
from .values import to_bool, to_decimal, to_id, to_int, to_text

logger = logging.getLogger("upstream.client")

# Where providers put the words of an error, in the order we look.
_MESSAGE_KEYS = ("message", "msg", "text", "error", "description", "detail", "reason")
# {"status": <one of these>, "message": ...} is a refusal, not an order's status.
_FAILURE_WORDS = frozenset({"error", "fail", "failed", "failure"})
# ...unless it carries an order's figures: then it is the status of a failed order.
_ORDER_FIGURES = ("charge", "start_count", "remains")
MAX_MESSAGE = 500


def _words(value: Any, depth: int = 0) -> str:
    """The human words in an error value: a string, an object holding a message (or messages
    keyed by field), a list of those. Depth-limited: the value comes from a stranger."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None or depth > 4:
        return ""
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, list):
        return "; ".join(filter(None, (_words(item, depth + 1) for item in value)))
    if isinstance(value, dict):
        for name in _MESSAGE_KEYS:
            text = _words(value.get(name), depth + 1)
            if text.strip():
                return text
        # {"link": ["Bad link"]}: messages keyed by the field they are about.
        parts = ((str(name), _words(item, depth + 1)) for name, item in value.items())
        return "; ".join(f"{name}: {text}" for name, text in parts if text.strip())
    return ""


def readable(value: Any) -> str:
    """An error value as one line fit to show and to store: control characters (a NUL breaks
    PostgreSQL text) and runs of white space become one space, cut at MAX_MESSAGE."""
    text = _words(value)
    text = "".join(" " if unicodedata.category(char) == "Cc" else char for char in text)
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 3].rstrip() + "..."
    return text or "no reason given"


def _is_false(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"false", "0", "no"}
    return value is False or (type(value) in (int, Decimal) and value == 0)


def refusal(item: dict) -> str | None:
    """The readable refusal an answer (or one entry of a multi-ID answer) carries, or None when
    it carries none. Every shape here is a definite "no": the provider looked at the request
    and did not act on it."""
    get = item.get
    error = get("error")
    if error:
        return readable(error)
    errors = get("errors")
    if errors:
        return readable(errors)
    if "success" in item and _is_false(get("success")):
        return readable({name: get(name) for name in _MESSAGE_KEYS})
    status = get("status")
    if (
        isinstance(status, str)
        and status.strip().lower() in _FAILURE_WORDS
        and (get("message") or get("msg"))
        and not any(name in item for name in _ORDER_FIGURES)
    ):
        return readable(get("message") or get("msg"))
    return None


class BadShape(Exception):
    """Raised by parsers: the answer is JSON but not what the action returns."""


class ProviderError(Exception):
    """Raised by parsers: the answer carries the provider's error for the whole request."""


def error_of(item: dict) -> str | None:
    return refusal(item)


def parse_service(item: Any) -> Service | None:
    if not isinstance(item, dict):
        logger.warning("upstream services: skipping an entry that is not an object")
        return None
    service_id = to_id(item.get("service", item.get("id")))
    rate = to_decimal(item.get("rate"))
    low = to_int(item.get("min"))
    high = to_int(item.get("max"))
    missing = [
        name for name, value in (("service", service_id), ("rate", rate), ("min", low), ("max", high)) if value is None
    ]
    if missing or rate < 0:
        logger.warning(
            "upstream services: skipping service %s, missing or invalid %s",
            service_id or "?",
            ", ".join(missing) or "rate",
        )
        return None
    desc = item.get("desc")
    if desc is None:
        desc = item.get("description")
    return Service(
        service=service_id,
        name=to_text(item.get("name")) or "",
        type=to_text(item.get("type")) or "Default",
        category=to_text(item.get("category")) or "",
        rate=rate,
        min=low,
        max=high,
        refill=to_bool(item.get("refill")),
        cancel=to_bool(item.get("cancel")),
        dripfeed=to_bool(item.get("dripfeed")),
        desc=to_text(desc) or "",
        raw=item,
    )


def parse_order_status(order_id: str, item: dict) -> OrderStatus:
    error = error_of(item)
    if error is not None:
        return OrderStatus(order_id, None, None, None, None, None, None, None, error, item)
    word = item.get("status")
    status = normalize_status(word)
    if status is None and word not in (None, ""):
        logger.warning("upstream status: unknown order status %r for order %s", word, order_id)
    get = item.get
    # Positional: this runs for every ID of every poll, and keywords cost measurably more.
    return OrderStatus(
        order_id,
        status,
        to_decimal(get("charge")),
        to_int(get("start_count")),
        to_int(get("remains")),
        to_text(get("currency")),
        to_int(get("runs")),
        to_int(get("posts")),
        None,
        item,
    )


def parse_refill_status(refill_id: str, item: dict) -> RefillStatus:
    error = error_of(item)
    status_value = item.get("status")
    if error is None and isinstance(status_value, dict):
        error = error_of(status_value) or readable(status_value)
    if error is not None:
        return RefillStatus(refill_id, None, error, item)
    status = normalize_refill_status(status_value)
    if status is None and status_value not in (None, ""):
        logger.warning("upstream refill_status: unknown status %r for refill %s", status_value, refill_id)
    return RefillStatus(refill_id, status, None, item)


def keyed_items(payload: Any, id_fields: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    """(ID, entry) pairs from a multi-ID answer: an object keyed by ID, or a list of objects
    naming their ID in one of `id_fields`. Never matches entries to IDs by position."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            key_id = to_id(key)
            if key_id is not None:
                yield key_id, value
    elif isinstance(payload, list):
        for item in payload:
            if not isinstance(item, dict):
                continue
            for name in id_fields:
                item_id = to_id(item.get(name))
                if item_id is not None:
                    yield item_id, item
                    break
    else:
        raise BadShape(f"expected an object or a list, got {type(payload).__name__}")


NOT_JSON = object()


def load_json(body: bytes) -> Any:
    try:
        # Floats become Decimal and NaN/Infinity become non-finite Decimals (then refused),
        # so money never passes through binary floating point.
        return json.loads(body, parse_float=Decimal, parse_constant=Decimal)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return NOT_JSON


def interpret(
    action: str,
    response: requests.Response,
    body: bytes,
    parse: Callable[[Any], Any],
    error_with_result: str | None,
    redact: Callable[[str], str],
) -> Any:
    """The result of one answer, or the UpstreamError it means. `redact` hides our own key in
    a refusal, should a provider echo it back (the words are already readable)."""
    code = response.status_code
    if code == 429:
        raise Unknown(action, "rate limited")
    if code >= 500:
        raise Unknown(action, f"HTTP {code}")
    if 300 <= code < 400:
        raise Unknown(action, f"unexpected redirect (HTTP {code})")
    payload = load_json(body)
    refused = refusal(payload) if isinstance(payload, dict) else None
    if 400 <= code < 500:
        if refused is not None:
            raise Rejected(action, redact(refused))
        raise Unknown(action, f"HTTP {code}")
    if not 200 <= code < 300:
        raise Unknown(action, f"HTTP {code}")
    if payload is NOT_JSON:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        raise Unknown(action, f"answer is not JSON ({kind}, {len(body)} bytes)")
    if refused is not None:
        if error_with_result and payload.get(error_with_result) not in (None, ""):
            # An error next to a result: we cannot tell whether the provider acted.
            raise Unknown(action, "answer carries both an error and a result")
        raise Rejected(action, redact(refused))
    try:
        return parse(payload)
    except ProviderError as exc:
        raise Rejected(action, redact(str(exc))) from None
    except BadShape as exc:
        raise Unknown(action, f"unexpected answer: {exc}") from None
