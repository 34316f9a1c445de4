"""Client for the "API v2" protocol that SMM providers speak.

Every call is a form-encoded POST of `key`, `action` and the action's parameters; every answer
is JSON. Providers differ in the details (numbers as strings or numbers, status words in any
case, extra fields), so parsing is tolerant and normalises on the way in.

Failures are sorted by what the caller may do next, which is the only thing the order engine
needs to know:

- NotSent: the request certainly never reached the provider. Sending it again is safe.
- Rejected: the provider refused the request. Nothing was done upstream.
- Unknown: the provider may or may not have acted (a lost answer, a 5xx, a page we cannot
  read, an answer that carries both an error and an order ID). Sending an `add` again could buy
  the same thing twice, so the client never retries anything by itself; the caller decides.

A refusal comes in any of the shapes panels use, all definite (see `_refusal`):
{"error": "..."} (or an object or list there), {"errors": [...]}, {"success": false, ...},
and {"status": "error"|"fail"|"failed", "message"|"msg": "..."}. Its words are made readable
and storable (`_readable`) before anyone sees them.

This module must stay free of Django imports: Celery tasks and the simulator's tests use it.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import ssl
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from upstream.lines import join_lines
from upstream.names import name_key

logger = logging.getLogger("upstream.client")

# The protocol accepts at most this many IDs in one multi-ID call.
MAX_IDS_PER_CALL = 100

ORDER_STATUSES = ("Pending", "In progress", "Processing", "Completed", "Partial", "Canceled")
FINAL_STATUSES = {"Completed", "Partial", "Canceled"}
REFILL_STATUSES = ("Pending", "In progress", "Completed", "Rejected")


# --- Errors -------------------------------------------------------------------------------


class UpstreamError(Exception):
    """Base of every failure the client raises.

    `partial` holds the results of the chunks that succeeded before a multi-ID call failed
    (a list or dict shaped like the method's return value), or None. It matters for `refills`
    and `cancel`, whose earlier chunks did act upstream.
    """

    retry_safe = False

    def __init__(self, action: str, detail: str) -> None:
        super().__init__(action, detail)
        self.action = action
        self.detail = detail
        self.partial: Any = None

    def __str__(self) -> str:
        return f"{self.action}: {self.detail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(action={self.action!r}, detail={self.detail!r})"


class NotSent(UpstreamError):
    """The request certainly never reached the provider; sending it again is safe."""

    retry_safe = True


class Rejected(UpstreamError):
    """The provider refused the request; `message` is its text made readable: one line of at
    most 500 characters, without control characters, our API key replaced by "[key]" should
    the provider echo it."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(action, f"rejected: {message}")
        self.message = message
        # Keeps pickling (Celery results, multiprocessing) faithful to the constructor.
        self.args = (action, message)


class Unknown(UpstreamError):
    """The provider may have acted on the request; do not resend an `add` blindly."""


# --- Status words ---------------------------------------------------------------------------

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
    # the rest is counted from the posts it reports (orders.services.final_remains).
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


# --- Tolerant value parsing -----------------------------------------------------------------

_TRUE_WORDS = {"1", "true", "yes", "y", "on", "t"}
_FALSE_WORDS = {"0", "false", "no", "n", "off", "f", ""}
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _to_decimal(value: Any) -> Decimal | None:
    # JSON floats arrive as Decimal (parse_float=Decimal); the float branch is only for
    # callers handing us Python values, and goes through the shortest repr, not binary.
    if type(value) is str:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str | float):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def _to_int(value: Any) -> int | None:
    # Fast paths for the usual "3572", 3572 and absent: a poll parses hundreds per call.
    if value is None:
        return None
    if type(value) is int:
        return value
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    number = _to_decimal(value)
    # adjusted() caps the size so that "1e999999" cannot make int() build a huge number.
    if number is None or number.adjusted() > 18 or number != number.to_integral_value():
        return None
    return int(number)


def _to_bool(value: Any, default: bool = False) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)):
        return value != 0
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    return default


def _to_id(value: Any) -> str | None:
    """An order, refill or service ID as a string, or None if `value` does not look like one."""
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 64:
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        number = _to_int(value)
        return None if number is None else str(number)
    if isinstance(value, str):
        text = value.strip()
        return text if _ID_RE.fullmatch(text) else None
    return None


def _to_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    return None


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


def _readable(value: Any) -> str:
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


def _refusal(item: dict) -> str | None:
    """The readable refusal an answer (or one entry of a multi-ID answer) carries, or None when
    it carries none. Every shape here is a definite "no": the provider looked at the request
    and did not act on it."""
    get = item.get
    error = get("error")
    if error:
        return _readable(error)
    errors = get("errors")
    if errors:
        return _readable(errors)
    if "success" in item and _is_false(get("success")):
        return _readable({name: get(name) for name in _MESSAGE_KEYS})
    status = get("status")
    if (
        isinstance(status, str)
        and status.strip().lower() in _FAILURE_WORDS
        and (get("message") or get("msg"))
        and not any(name in item for name in _ORDER_FIGURES)
    ):
        return _readable(get("message") or get("msg"))
    return None


def _form_value(value: Any) -> str:
    # Comments, usernames and keywords go one per line (upstream.lines); a list is accepted.
    if isinstance(value, (list, tuple)):
        return join_lines([str(item) for item in value])
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


class _BadShape(Exception):
    """Raised by parsers: the answer is JSON but not what the action returns."""


class _ProviderError(Exception):
    """Raised by parsers: the answer carries the provider's error for the whole request."""


def _error_of(item: dict) -> str | None:
    return _refusal(item)


def _parse_service(item: Any) -> Service | None:
    if not isinstance(item, dict):
        logger.warning("upstream services: skipping an entry that is not an object")
        return None
    service_id = _to_id(item.get("service", item.get("id")))
    rate = _to_decimal(item.get("rate"))
    low = _to_int(item.get("min"))
    high = _to_int(item.get("max"))
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
        name=_to_text(item.get("name")) or "",
        type=_to_text(item.get("type")) or "Default",
        category=_to_text(item.get("category")) or "",
        rate=rate,
        min=low,
        max=high,
        refill=_to_bool(item.get("refill")),
        cancel=_to_bool(item.get("cancel")),
        dripfeed=_to_bool(item.get("dripfeed")),
        desc=_to_text(desc) or "",
        raw=item,
    )


def _parse_order_status(order_id: str, item: dict) -> OrderStatus:
    error = _error_of(item)
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
        _to_decimal(get("charge")),
        _to_int(get("start_count")),
        _to_int(get("remains")),
        _to_text(get("currency")),
        _to_int(get("runs")),
        _to_int(get("posts")),
        None,
        item,
    )


def _parse_refill_status(refill_id: str, item: dict) -> RefillStatus:
    error = _error_of(item)
    status_value = item.get("status")
    if error is None and isinstance(status_value, dict):
        error = _error_of(status_value) or _readable(status_value)
    if error is not None:
        return RefillStatus(refill_id, None, error, item)
    status = normalize_refill_status(status_value)
    if status is None and status_value not in (None, ""):
        logger.warning("upstream refill_status: unknown status %r for refill %s", status_value, refill_id)
    return RefillStatus(refill_id, status, None, item)


def _keyed_items(payload: Any, id_fields: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    """(ID, entry) pairs from a multi-ID answer: an object keyed by ID, or a list of objects
    naming their ID in one of `id_fields`. Never matches entries to IDs by position."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            key_id = _to_id(key)
            if key_id is not None:
                yield key_id, value
    elif isinstance(payload, list):
        for item in payload:
            if not isinstance(item, dict):
                continue
            for name in id_fields:
                item_id = _to_id(item.get(name))
                if item_id is not None:
                    yield item_id, item
                    break
    else:
        raise _BadShape(f"expected an object or a list, got {type(payload).__name__}")


def _chunks(ids: Iterable[Any]) -> Iterator[list[str]]:
    unique: dict[str, None] = {}
    for value in ids:
        text = _to_id(value)
        if text is None:
            raise ValueError(f"not an ID: {value!r}")
        unique[text] = None
    ordered = list(unique)
    for start in range(0, len(ordered), MAX_IDS_PER_CALL):
        yield ordered[start : start + MAX_IDS_PER_CALL]


def _one_id(value: Any) -> str:
    text = _to_id(value)
    if text is None:
        raise ValueError(f"not an ID: {value!r}")
    return text


_NOT_JSON = object()


def _load_json(body: bytes) -> Any:
    try:
        # Floats become Decimal and NaN/Infinity become non-finite Decimals (then refused),
        # so money never passes through binary floating point.
        return json.loads(body, parse_float=Decimal, parse_constant=Decimal)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _NOT_JSON


# --- Exception classification ---------------------------------------------------------------


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """exc and everything it wraps: requests puts urllib3's error in args, MaxRetryError keeps
    the real one in .reason, ProtocolError carries the socket error in its args."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 20:
        current = todo.pop()
        if any(current is known for known in seen):
            continue
        seen.append(current)
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked.extend(current.args)
        todo.extend(item for item in linked if isinstance(item, BaseException))
    return seen


def _classify(exc: requests.RequestException) -> tuple[type[UpstreamError], str]:
    chain = _exception_chain(exc)

    def has(*types: type[BaseException]) -> bool:
        return any(isinstance(item, types) for item in chain)

    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return NotSent, "invalid provider URL"
    if isinstance(exc, requests.exceptions.InvalidSchema):
        return NotSent, "unsupported URL scheme"
    # Read-side failures first: once bytes went out, nothing else matters.
    if isinstance(exc, requests.ReadTimeout) or has(ReadTimeoutError):
        return Unknown, "read timeout"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return Unknown, "connection broken while reading the answer"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return Unknown, "answer could not be decoded"
    if has(ProtocolError, http.client.HTTPException, ConnectionResetError, BrokenPipeError):
        return Unknown, "connection closed or reset after the request was sent"
    # Connect-side failures: urllib3 wraps every error of opening the socket (DNS, refused,
    # unreachable, timeout) in NewConnectionError or ConnectTimeoutError inside MaxRetryError.
    if has(NameResolutionError):
        return NotSent, "DNS resolution failed"
    if has(ConnectionRefusedError):
        return NotSent, "connection refused"
    if isinstance(exc, requests.ConnectTimeout) or (has(ConnectTimeoutError) and not has(NewConnectionError)):
        return NotSent, "connect timeout"
    if has(NewConnectionError):
        return NotSent, "could not connect"
    # A refused certificate fails the TLS handshake, before the request is written.
    if has(ssl.SSLCertVerificationError):
        return NotSent, "TLS certificate verification failed"
    if isinstance(exc, requests.exceptions.SSLError):
        return Unknown, "TLS error"
    if has(MaxRetryError):
        return Unknown, "connection error"
    return Unknown, f"request failed ({type(exc).__name__})"


# --- The client -----------------------------------------------------------------------------


class ApiV2Client:
    """One provider's API v2 endpoint. Thread-safe; share one instance per provider."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        pool_size: int = 10,
        session: requests.Session | None = None,
        user_agent: str = "smm-panel/1.0",
        url_guard: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        self._key = key
        parts = urlsplit(url)
        # Host and port only: a URL may carry user:password@ and a query.
        self.host = parts.hostname or "?"
        if parts.port:
            self.host = f"{self.host}:{parts.port}"
        self._timeout = (connect_timeout, read_timeout)
        self._url_guard = url_guard
        self._headers = {
            "User-Agent": user_agent,
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        if session is None:
            session = requests.Session()
            # max_retries=0: the client never resends anything; retrying is the caller's call.
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            # requests re-reads the proxy and CA variables from the environment on every call,
            # which costs more than parsing a 100-ID answer. Read them once here instead.
            session.proxies.update(requests.utils.get_environ_proxies(url))
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if bundle:
                session.verify = bundle
            session.trust_env = False
        self._session = session

    def __repr__(self) -> str:
        return f"<ApiV2Client {self.host}>"

    def __enter__(self) -> ApiV2Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session and its pooled connections, also a session passed in."""
        self._session.close()

    # --- actions ---

    def services(self) -> list[Service]:
        def parse(payload: Any) -> list[Service]:
            if isinstance(payload, dict):
                # A few providers key the list by service ID.
                if not all(isinstance(value, dict) for value in payload.values()):
                    raise _BadShape("expected a list of services")
                payload = [{"service": key, **value} for key, value in payload.items()]
            if not isinstance(payload, list):
                raise _BadShape("expected a list of services")
            parsed = (_parse_service(item) for item in payload)
            return [service for service in parsed if service is not None]

        return self._call("services", {}, parse)

    def add(self, *, service: str | int, idempotency_key: str | None = None, **params: Any) -> str:
        """Place an order and return the provider's order ID.

        `params` are the type's fields (link, quantity, runs, interval, comments, ...); None
        values are left out. `idempotency_key` goes both as a form field and as an
        Idempotency-Key header, for providers that honour either.
        """
        reserved = {"key", "action"} & params.keys()
        if reserved:
            raise TypeError(f"add() got a reserved parameter: {sorted(reserved)[0]}")
        form = {"service": service, **params}
        headers = None
        if idempotency_key is not None:
            form["idempotency_key"] = idempotency_key
            headers = {"Idempotency-Key": idempotency_key}

        def parse(payload: Any) -> str:
            if not isinstance(payload, dict):
                raise _BadShape("expected an object with the order ID")
            order_id = _to_id(payload.get("order"))
            if order_id is None:
                raise _BadShape("no order ID in the answer")
            return order_id

        return self._call("add", form, parse, headers=headers, error_with_result="order")

    def status(self, order_id: str | int) -> OrderStatus:
        wanted = _one_id(order_id)

        def parse(payload: Any) -> OrderStatus:
            if not isinstance(payload, dict):
                raise _BadShape("expected an object")
            nested = payload.get(wanted)
            if "status" not in payload and isinstance(nested, dict):
                # Answered in the multi-ID shape.
                payload = nested
            return _parse_order_status(wanted, payload)

        return self._call("status", {"order": wanted}, parse)

    def statuses(self, order_ids: Iterable[str | int]) -> dict[str, OrderStatus]:
        def parse_chunk(chunk: list[str]) -> Callable[[Any], dict[str, OrderStatus]]:
            def parse(payload: Any) -> dict[str, OrderStatus]:
                if len(chunk) == 1 and isinstance(payload, dict) and "status" in payload:
                    return {chunk[0]: _parse_order_status(chunk[0], payload)}
                wanted = set(chunk)
                answer = {}
                # The usual answer is keyed by exactly the IDs we sent; skip the slow path then.
                pairs = payload.items() if isinstance(payload, dict) else _keyed_items(payload, ("order", "id"))
                for key, item in pairs:
                    item_id = key if key in wanted else _to_id(key)
                    if item_id not in wanted:
                        continue
                    if isinstance(item, dict):
                        answer[item_id] = _parse_order_status(item_id, item)
                    elif isinstance(item, str) and item:
                        answer[item_id] = _parse_order_status(item_id, {"error": item})
                return answer

            return parse

        def call(chunk: list[str]) -> dict[str, OrderStatus]:
            return self._call("status", {"orders": ",".join(chunk)}, parse_chunk(chunk))

        return self._multi(order_ids, call, {})

    def refill(self, order_id: str | int) -> str:
        def parse(payload: Any) -> str:
            if not isinstance(payload, dict):
                raise _BadShape("expected an object with the refill ID")
            value = payload.get("refill")
            refusal = _refusal(value) if isinstance(value, dict) else None
            if refusal is not None:
                raise _ProviderError(refusal)
            refill_id = _to_id(value)
            if refill_id is None:
                raise _BadShape("no refill ID in the answer")
            return refill_id

        return self._call("refill", {"order": _one_id(order_id)}, parse)

    def refills(self, order_ids: Iterable[str | int]) -> list[RefillResult]:
        def call(chunk: list[str]) -> list[RefillResult]:
            parse = self._results_parser(chunk, "refill", RefillResult)
            return self._call("refill", {"orders": ",".join(chunk)}, parse)

        return self._multi(order_ids, call, [])

    def refill_status(self, refill_id: str | int) -> RefillStatus:
        wanted = _one_id(refill_id)

        def parse(payload: Any) -> RefillStatus:
            if not isinstance(payload, dict):
                raise _BadShape("expected an object")
            return _parse_refill_status(wanted, payload)

        return self._call("refill_status", {"refill": wanted}, parse)

    def refill_statuses(self, refill_ids: Iterable[str | int]) -> dict[str, RefillStatus]:
        def parse_chunk(chunk: list[str]) -> Callable[[Any], dict[str, RefillStatus]]:
            def parse(payload: Any) -> dict[str, RefillStatus]:
                wanted = set(chunk)
                answer = {}
                for item_id, item in _keyed_items(payload, ("refill", "id")):
                    if item_id not in wanted:
                        continue
                    if not isinstance(item, dict):
                        # {"7": "Completed"}: an object keyed by refill ID with bare words.
                        item = {"status": item}
                    answer[item_id] = _parse_refill_status(item_id, item)
                return answer

            return parse

        def call(chunk: list[str]) -> dict[str, RefillStatus]:
            return self._call("refill_status", {"refills": ",".join(chunk)}, parse_chunk(chunk))

        return self._multi(refill_ids, call, {})

    def cancel(self, order_ids: Iterable[str | int]) -> list[CancelResult]:
        def call(chunk: list[str]) -> list[CancelResult]:
            parse = self._results_parser(chunk, "cancel", CancelResult)
            return self._call("cancel", {"orders": ",".join(chunk)}, parse)

        return self._multi(order_ids, call, [])

    def balance(self) -> Balance:
        def parse(payload: Any) -> Balance:
            if not isinstance(payload, dict):
                raise _BadShape("expected an object")
            amount = _to_decimal(payload.get("balance"))
            if amount is None:
                raise _BadShape("no balance in the answer")
            return Balance(balance=amount, currency=_to_text(payload.get("currency")) or "")

        return self._call("balance", {}, parse)

    # --- plumbing ---

    @staticmethod
    def _multi(ids: Iterable[Any], call_chunk: Callable[[list[str]], Any], result: Any) -> Any:
        """Calls `call_chunk` for chunks of at most 100 IDs and merges the answers into
        `result`; a failure after the first chunk carries what was already done."""
        for index, chunk in enumerate(list(_chunks(ids))):
            try:
                answer = call_chunk(chunk)
            except UpstreamError as exc:
                if index:
                    exc.partial = result
                raise
            if isinstance(result, dict):
                result.update(answer)
            else:
                result.extend(answer)
        return result

    @staticmethod
    def _results_parser(chunk: list[str], field_name: str, result_type: type) -> Callable:
        """Parser for the list answers of multi refill and cancel:
        [{"order": 1, "<field>": 7}, {"order": 3, "<field>": {"error": "..."}}]."""

        def parse(payload: Any) -> list:
            if len(chunk) == 1 and isinstance(payload, dict) and field_name in payload:
                payload = [{"order": chunk[0], **payload}]
            wanted = set(chunk)
            answer = []
            for order_id, item in _keyed_items(payload, ("order", "id")):
                if order_id not in wanted:
                    continue
                if not isinstance(item, dict):
                    item = {field_name: item}
                value = item.get(field_name)
                error = _error_of(item)
                if isinstance(value, dict):
                    error = _error_of(value) or _readable(value)
                    value = None
                new_id = _to_id(value)
                if new_id is None and error is None:
                    error = _readable(value) if value not in (None, "", False) else "no ID"
                answer.append(result_type(order_id, new_id if error is None else None, error))
            return answer

        return parse

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "[key]") if self._key else text

    def _call(
        self,
        action: str,
        params: dict[str, Any],
        parse: Callable[[Any], Any],
        *,
        headers: dict[str, str] | None = None,
        error_with_result: str | None = None,
    ) -> Any:
        form = {"key": self._key, "action": action}
        form.update((name, _form_value(value)) for name, value in params.items() if value is not None)
        size = params.get("orders") or params.get("refills")
        label = f"{action}[{size.count(',') + 1}]" if isinstance(size, str) else action

        started = time.monotonic()
        failure: UpstreamError | None = None
        result: Any = None
        try:
            if self._url_guard is not None:
                self._url_guard(self.url)
            # Encoded here rather than by requests, whose generic form encoding costs more.
            response = self._session.post(
                self.url,
                data=urlencode(form).encode(),
                headers={**self._headers, **headers} if headers else self._headers,
                timeout=self._timeout,
                allow_redirects=False,
            )
            body = response.content
        except UpstreamError as exc:  # from url_guard
            failure = exc
        except requests.RequestException as exc:
            failure_type, detail = _classify(exc)
            failure = failure_type(action, detail)
        else:
            try:
                result = self._interpret(action, response, body, parse, error_with_result)
            except UpstreamError as exc:
                failure = exc
        elapsed_ms = (time.monotonic() - started) * 1000

        if failure is None:
            logger.info("upstream %s host=%s %.0fms ok", label, self.host, elapsed_ms)
            return result
        if isinstance(failure, Rejected):
            level, outcome, detail = logging.INFO, "rejected", failure.message
        else:
            level, detail = logging.WARNING, failure.detail
            outcome = "not sent" if isinstance(failure, NotSent) else "unknown"
        logger.log(
            level, "upstream %s host=%s %.0fms %s: %s", label, self.host, elapsed_ms, outcome, self._redact(detail)
        )
        # Raised outside the except blocks on purpose: no __context__ chain, so the requests
        # exception (which holds the request and its form body with the key) is not kept.
        raise failure

    def _interpret(
        self,
        action: str,
        response: requests.Response,
        body: bytes,
        parse: Callable[[Any], Any],
        error_with_result: str | None,
    ) -> Any:
        code = response.status_code
        if code == 429:
            raise Unknown(action, "rate limited")
        if code >= 500:
            raise Unknown(action, f"HTTP {code}")
        if 300 <= code < 400:
            raise Unknown(action, f"unexpected redirect (HTTP {code})")
        payload = _load_json(body)
        refusal = _refusal(payload) if isinstance(payload, dict) else None
        if 400 <= code < 500:
            if refusal is not None:
                raise self._rejected(action, refusal)
            raise Unknown(action, f"HTTP {code}")
        if not 200 <= code < 300:
            raise Unknown(action, f"HTTP {code}")
        if payload is _NOT_JSON:
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            raise Unknown(action, f"answer is not JSON ({kind}, {len(body)} bytes)")
        if refusal is not None:
            if error_with_result and payload.get(error_with_result) not in (None, ""):
                # An error next to a result: we cannot tell whether the provider acted.
                raise Unknown(action, "answer carries both an error and a result")
            raise self._rejected(action, refusal)
        try:
            return parse(payload)
        except _ProviderError as exc:
            raise self._rejected(action, str(exc)) from None
        except _BadShape as exc:
            raise Unknown(action, f"unexpected answer: {exc}") from None

    def _rejected(self, action: str, message: str) -> Rejected:
        # Already readable (_readable); our own key is hidden, should a provider echo it back.
        return Rejected(action, self._redact(message))
