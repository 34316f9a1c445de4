"""A complete API v2 provider in memory, for tests, the demo and benchmarks.

Standard library only (upstream.lines and upstream.names are too). The state lives in
`Simulator` (thread-safe, no I/O); `make_server` puts it behind a keep-alive HTTP/1.1 server.
Run it with `python manage.py simulate_upstream` or, without Django,
`python -m upstream.simulator`.

How it behaves, where the protocol leaves a choice:

- Orders move Pending (~2 s) -> In progress (~10 s) -> final, divided by `speed`. Each order's
  timeline and outcome (80% Completed, 12% Partial, 8% Canceled) are drawn once at creation
  from a generator seeded by (seed, order ID), and its state is computed from the clock when
  asked, so a status costs O(1) and no background thread runs.
- Prices: rate per 1,000 (`charge = rate x quantity / 1000`), except Package and Custom
  Comments Package whose rate is the price of one package. Subscriptions cost
  `rate x max / 1000` per post for `posts` posts (1 when not given).
- Drip-feed: `quantity` is per run and min/max apply to each run; the order's total is
  quantity x runs and the charge covers all runs.
- Comment and list types: the quantity is the number of lines as upstream.lines.split_lines
  counts them (the panel's one definition of a line); a list it cannot split (a control
  character) is refused with {"error": ...}, as a provider would refuse it.
- Types are matched ignoring case, white space, `_` and `-` (upstream.names.name_key), so a
  service added as "custom_comments" is served under that spelling and sells like "Custom
  Comments".
- Balance: the charge is taken at creation. A Canceled order gives it all back, a Partial one
  gives back charge x remains / quantity, both at the moment the order turns final; the
  `charge` in its status is what was kept.
- Refills: for Completed orders of refill services; Pending (~2 s) -> In progress (~5 s) ->
  Completed. Cancels: for non-final orders of cancel services; the order turns Canceled at once
  and is refunded in full.
- `idempotency_key` (form field, or the Idempotency-Key header): the same key answers the same
  order and creates nothing.
- Money goes out as strings with five decimals.

Faults apply to /api/v2 only and are drawn from a generator seeded by `seed`: latency_ms plus
0..jitter_ms of delay; then at most one of timeout_rate (hold without answering for 60 s or
until shutdown), http_500_rate, html_rate (an HTML page with status 200), error_rate
({"error": "Service temporarily unavailable"}) and, for `add` only, drop_after_accept_rate
(create the order, then close the connection without answering); out_of_funds refuses adds.

Control endpoints (no key; they only listen where the simulator listens, loopback by default):
GET/POST /_sim/faults (POST merges keys), GET /_sim/stats, POST /_sim/reset (forgets orders,
refills, idempotency keys and counters and restores the balance; keeps catalog and faults),
POST /_sim/services ({"remove": [ids], "update": {id: {field: value}}, "add": [services]}).

Tests can pass `clock=` (a callable returning monotonic seconds) to move time by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import hmac
import json
import random
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from upstream.lines import LineError, split_lines
from upstream.names import name_key

MAX_IDS = 100
FIRST_ORDER_ID = 10001
TIMEOUT_HOLD_SECONDS = 60.0
_PLACES = Decimal("0.00001")

# --- Catalog ------------------------------------------------------------------------------

TYPES = (
    "Default",
    "Package",
    "SEO",
    "Custom Comments",
    "Mentions",
    "Mentions with Hashtags",
    "Mentions Custom List",
    "Mentions Hashtag",
    "Mentions User Followers",
    "Mentions Media Likers",
    "Custom Comments Package",
    "Comment Likes",
    "Poll",
    "Invites from Groups",
    "Subscriptions",
    "Web Traffic",
)

# How `add` reads each type: where the quantity comes from ("quantity" param, lines of a
# text param, or one package), the other required params, and whether runs/interval apply.
_TYPE_RULES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "Default": ("quantity", (), True),
    "Package": ("package", (), False),
    "SEO": ("quantity", ("keywords",), False),
    "Custom Comments": ("lines:comments", (), False),
    "Mentions": ("quantity", ("usernames",), False),
    "Mentions with Hashtags": ("quantity", ("usernames", "hashtags"), False),
    "Mentions Custom List": ("lines:usernames", (), False),
    "Mentions Hashtag": ("quantity", ("hashtag",), False),
    "Mentions User Followers": ("quantity", ("username",), False),
    "Mentions Media Likers": ("quantity", ("media",), False),
    "Custom Comments Package": ("package_lines:comments", (), False),
    "Comment Likes": ("quantity", ("username",), False),
    "Poll": ("quantity", ("answer_number",), False),
    "Invites from Groups": ("quantity", ("groups",), False),
    "Subscriptions": ("subscription", ("username",), False),
    "Web Traffic": ("quantity", ("country", "device", "type_of_traffic"), True),
}
_TYPE_BY_KEY = {name_key(type_name): type_name for type_name in _TYPE_RULES}
# List parameters, one item per line; the label names them in a refusal.
_LINE_PARAMS = {"comments": "Comments", "usernames": "Usernames", "keywords": "Keywords", "hashtags": "Hashtags"}


def _type_of(service: dict[str, Any]) -> str | None:
    """The protocol's name of a service's type, however the service spells it."""
    spelled = service["type"]
    return _TYPE_BY_KEY.get(name_key(spelled)) if isinstance(spelled, str) else None


# Minutes: 0 5 10 15 20 30 40 50 60 90 120 150 180 210 240 270 300 360 420 480 540 600.
_SUBSCRIPTION_DELAYS = {0, 5, 10, 15, 20, 30, 40, 50, 60, *range(90, 301, 30), *range(360, 601, 60)}

# (category, type, weight, rate range, min choices, max choices, refill %, cancel %, drip-feed %)
_FAMILIES: tuple[tuple[str, str, int, tuple[str, str], tuple[int, ...], tuple[int, ...], int, int, int], ...] = (
    ("Instagram Followers", "Default", 16, ("0.40", "6.00"), (10, 50, 100), (5000, 20000, 100000), 60, 40, 30),
    ("Instagram Likes", "Default", 14, ("0.08", "2.50"), (10, 20, 50), (10000, 50000, 200000), 40, 40, 40),
    ("Instagram Views", "Default", 8, ("0.01", "0.40"), (100, 500), (1000000, 10000000), 0, 30, 50),
    ("Instagram Comments", "Custom Comments", 3, ("4.00", "30.00"), (5, 10), (500, 1000, 1500), 0, 30, 0),
    ("Instagram Comments", "Custom Comments Package", 1, ("2.00", "15.00"), (1,), (10, 20), 0, 0, 0),
    ("Instagram Comment Likes", "Comment Likes", 1, ("1.00", "8.00"), (20, 50), (5000, 20000), 0, 30, 0),
    ("Instagram Mentions", "Mentions", 1, ("2.00", "10.00"), (100,), (10000, 50000), 0, 0, 0),
    ("Instagram Mentions", "Mentions with Hashtags", 1, ("2.50", "12.00"), (100,), (10000, 50000), 0, 0, 0),
    ("Instagram Mentions", "Mentions Custom List", 1, ("3.00", "15.00"), (10,), (1000, 5000), 0, 0, 0),
    ("Instagram Mentions", "Mentions Hashtag", 1, ("2.00", "10.00"), (100,), (10000, 50000), 0, 0, 0),
    ("Instagram Mentions", "Mentions User Followers", 1, ("2.00", "10.00"), (100,), (10000, 50000), 0, 0, 0),
    ("Instagram Mentions", "Mentions Media Likers", 1, ("2.00", "10.00"), (100,), (10000, 50000), 0, 0, 0),
    ("Instagram Auto Likes", "Subscriptions", 2, ("0.20", "3.00"), (20, 50), (5000, 20000), 0, 40, 0),
    ("Instagram Packages", "Package", 2, ("1.00", "50.00"), (1,), (1,), 0, 0, 0),
    ("TikTok Views", "Default", 12, ("0.01", "0.30"), (100, 500), (1000000, 10000000), 0, 40, 50),
    ("TikTok Followers", "Default", 7, ("0.80", "7.00"), (10, 50, 100), (10000, 50000), 50, 40, 20),
    ("TikTok Likes", "Default", 6, ("0.10", "3.00"), (10, 50), (50000, 200000), 30, 40, 30),
    ("YouTube Views", "Default", 12, ("0.50", "5.00"), (100, 500, 1000), (100000, 1000000), 40, 30, 30),
    ("YouTube Subscribers", "Default", 5, ("8.00", "40.00"), (50, 100), (5000, 20000), 60, 20, 10),
    ("YouTube Likes", "Default", 4, ("0.50", "4.00"), (20, 50), (20000, 100000), 40, 40, 20),
    ("YouTube Comments", "Custom Comments", 2, ("8.00", "40.00"), (5, 10), (500, 1000), 0, 20, 0),
    ("Telegram Members", "Default", 7, ("0.30", "4.00"), (100, 500), (10000, 50000, 100000), 40, 30, 20),
    ("Telegram Members", "Invites from Groups", 1, ("2.00", "9.00"), (100,), (10000, 30000), 0, 30, 0),
    ("Telegram Post Views", "Default", 5, ("0.01", "0.20"), (100,), (100000, 1000000), 0, 30, 50),
    ("Telegram Polls", "Poll", 2, ("0.20", "2.00"), (50, 100), (10000, 50000), 0, 30, 0),
    ("Twitter Followers", "Default", 6, ("1.00", "12.00"), (10, 100), (5000, 50000), 50, 30, 20),
    ("Twitter Likes", "Default", 3, ("0.50", "5.00"), (10, 50), (10000, 50000), 30, 40, 20),
    ("Twitter Polls", "Poll", 1, ("0.50", "3.00"), (100,), (10000, 50000), 0, 30, 0),
    ("Facebook Page Likes", "Default", 4, ("1.00", "10.00"), (100,), (10000, 100000), 40, 30, 20),
    ("Spotify Plays", "Default", 3, ("0.30", "2.00"), (1000,), (1000000,), 0, 30, 30),
    ("Google SEO", "SEO", 1, ("3.00", "20.00"), (100,), (10000,), 0, 0, 0),
    ("Website Traffic", "Web Traffic", 2, ("0.10", "2.00"), (500, 1000), (100000, 1000000), 0, 30, 100),
)
_QUALITIES = ("[Real]", "[HQ]", "[Mixed]", "[Non Drop]", "[Max 100K]", "[Instant]", "[Low Drop]", "[Premium]")
_SPEEDS = ("1K/day", "5K/day", "10K/day", "20K/day", "50K/day", "100K/day")


def _money(value: Decimal) -> str:
    return f"{value:.5f}"


def _quantize(value: Decimal) -> Decimal:
    return value.quantize(_PLACES, rounding=ROUND_HALF_UP)


def _random_rate(rng: random.Random, low: str, high: str) -> Decimal:
    value = Decimal(str(round(rng.uniform(float(low), float(high)), 4)))
    return value.quantize(Decimal("0.01") if value >= Decimal("0.1") else Decimal("0.0001"))


def generate_catalog(count: int, seed: int) -> dict[int, dict[str, Any]]:
    """`count` services, the same for the same (count, seed); every type appears once the
    count allows, most services are Default, and IDs run 1..count grouped by category."""
    rng = random.Random(f"catalog:{seed}")
    covering = []
    for type_name in TYPES[1:]:
        covering.append(next(i for i, family in enumerate(_FAMILIES) if family[1] == type_name))
    weights = [family[2] for family in _FAMILIES]
    picks = covering[:count] + rng.choices(range(len(_FAMILIES)), weights, k=max(0, count - len(covering)))
    picks.sort()
    catalog = {}
    for service_id, family_index in enumerate(picks, start=1):
        category, type_name, _, rates, mins, maxes, refill_pct, cancel_pct, drip_pct = _FAMILIES[family_index]
        refill = rng.randrange(100) < refill_pct
        name = f"{category} {rng.choice(_QUALITIES)}"
        if type_name not in {"Package", "Custom Comments Package"}:
            name += f" [Speed: {rng.choice(_SPEEDS)}]"
        if refill:
            name += f" [Refill: {rng.choice((30, 60, 90, 365))}D]"
        catalog[service_id] = {
            "service": service_id,
            "name": name,
            "type": type_name,
            "category": category,
            "rate": _random_rate(rng, *rates),
            "min": rng.choice(mins),
            "max": rng.choice(maxes),
            "refill": refill,
            "cancel": rng.randrange(100) < cancel_pct,
            "dripfeed": rng.randrange(100) < drip_pct,
            "desc": f"{type_name} service for {category}. Start 0-{rng.choice((1, 2, 6, 12, 24))} h.",
        }
    return catalog


def _render_service(service: dict[str, Any]) -> dict[str, Any]:
    return {**service, "rate": str(service["rate"]), "min": str(service["min"]), "max": str(service["max"])}


# --- Orders and refills ---------------------------------------------------------------------


class _Order:
    __slots__ = (
        "canceled_at",
        "charge",
        "charge_text",
        "created",
        "final_view",
        "id",
        "outcome",
        "pending_view",
        "posts",
        "quantity",
        "refund_due",
        "remains_final",
        "runs",
        "service",
        "settled",
        "start_count",
        "t_end",
        "t_start",
    )

    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)
        self.charge_text = _money(self.charge)
        self.canceled_at = None
        self.pending_view = None
        self.final_view = None
        self.settled = False


class _Refill:
    __slots__ = ("created", "id", "order_id", "t_end", "t_start")

    def __init__(self, refill_id: int, order_id: int, created: float, t_start: float, t_end: float) -> None:
        self.id = refill_id
        self.order_id = order_id
        self.created = created
        self.t_start = t_start
        self.t_end = t_end


class _Refusal(Exception):
    """An `add` refused with the provider's error text."""


_LINK_HANDLE = re.compile(r"@?[\w.\-]{1,100}")
_DIGITS = re.compile(r"\d{1,12}")


def _valid_link(link: str) -> bool:
    if not link or len(link) > 2048 or any(char.isspace() for char in link):
        return False
    if "://" in link:
        try:
            parts = urlsplit(link)
        except ValueError:
            return False
        return parts.scheme in {"http", "https"} and "." in (parts.hostname or "")
    return bool(_LINK_HANDLE.fullmatch(link))


def _positive_int(value: str | None) -> int | None:
    if value is None or not _DIGITS.fullmatch(value.strip()):
        return None
    number = int(value)
    return number if number > 0 else None


def _lines(params: Mapping[str, str], name: str) -> list[str]:
    """The lines of a list parameter, or _Refusal when the text cannot be split into lines."""
    try:
        return split_lines(params.get(name) or "", label=_LINE_PARAMS.get(name, name))
    except LineError as exc:
        raise _Refusal(exc.message) from None


FAULT_DEFAULTS: dict[str, Any] = {
    "latency_ms": 0.0,
    "jitter_ms": 0.0,
    "error_rate": 0.0,
    "http_500_rate": 0.0,
    "html_rate": 0.0,
    "drop_after_accept_rate": 0.0,
    "timeout_rate": 0.0,
    "out_of_funds": False,
}


class Simulator:
    """The provider's state. Every public method is thread-safe; nothing here does I/O."""

    def __init__(
        self,
        *,
        key: str = "sim-key",
        services: int = 300,
        speed: float = 1.0,
        seed: int = 0,
        balance: Decimal = Decimal("10000"),
        currency: str = "USD",
        faults: dict | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.key = key
        self.speed = float(speed)
        self.seed = seed
        self.currency = currency
        self.initial_balance = Decimal(balance)
        self.clock = clock
        self._lock = threading.Lock()
        self._fault_lock = threading.Lock()
        self._faults = dict(FAULT_DEFAULTS)
        self._fault_rng = random.Random(f"faults:{seed}")
        self._catalog = generate_catalog(services, seed)
        self._services_json: bytes | None = None
        self._reset_state()
        if faults:
            self.set_faults(faults)

    def _reset_state(self) -> None:
        self._orders: dict[int, _Order] = {}
        self._refills: dict[int, _Refill] = {}
        self._idempotency: dict[str, int] = {}
        self._settlements: list[tuple[float, int]] = []
        self._balance = self.initial_balance
        self._next_order = FIRST_ORDER_ID
        self._next_refill = 1
        self._next_cancel = 1
        self._orders_created = 0
        self._requests: dict[str, int] = {}

    # --- control ---

    def reset(self) -> None:
        """Forget orders, refills, idempotency keys and counters; restore the balance."""
        with self._lock:
            self._reset_state()
        with self._fault_lock:
            self._fault_rng = random.Random(f"faults:{self.seed}")

    def faults(self) -> dict[str, Any]:
        with self._fault_lock:
            return dict(self._faults)

    def set_faults(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Merge `changes` into the faults; ValueError names the first bad key or value."""
        checked = {}
        for name, value in changes.items():
            if name not in FAULT_DEFAULTS:
                raise ValueError(f"Unknown fault: {name}")
            if name == "out_of_funds":
                if not isinstance(value, bool):
                    raise ValueError("out_of_funds must be true or false")
            elif isinstance(value, bool) or not isinstance(value, int | float | Decimal):
                raise ValueError(f"{name} must be a number")
            elif name.endswith("_rate") and not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
            elif name.endswith("_ms") and not 0 <= value <= 600_000:
                raise ValueError(f"{name} must be between 0 and 600000")
            checked[name] = value if name == "out_of_funds" else float(value)
        with self._fault_lock:
            self._faults.update(checked)
            return dict(self._faults)

    def draw_faults(self, action: str) -> tuple[float, str | None]:
        """(delay in seconds, fault to apply or None) for one /api/v2 request."""
        with self._fault_lock:
            faults = self._faults
            rng = self._fault_rng
            delay = faults["latency_ms"] / 1000
            if faults["jitter_ms"]:
                delay += rng.uniform(0, faults["jitter_ms"]) / 1000
            kinds = ["timeout", "http_500", "html", "error"]
            if action == "add":
                kinds.append("drop_after_accept")
            for kind in kinds:
                rate = faults[f"{kind}_rate"]
                if rate and rng.random() < rate:
                    return delay, kind
            return delay, None

    def record_request(self, action: str) -> None:
        name = action if action in _ACTIONS or action == "add" else "other"
        with self._lock:
            self._requests[name] = self._requests.get(name, 0) + 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            now = self.clock()
            self._settle(now)
            by_status: dict[str, int] = {}
            for order in self._orders.values():
                status = self._view(order, now)["status"]
                by_status[status] = by_status.get(status, 0) + 1
            return {
                "orders_created": self._orders_created,
                "requests": dict(self._requests),
                "balance": _money(self._balance),
                "orders_by_status": by_status,
            }

    def change_services(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Apply {"remove": [ids], "update": {id: {field: value}}, "add": [service dicts]}."""
        unknown = set(changes) - {"remove", "update", "add"}
        if unknown:
            raise ValueError(f"Unknown key: {sorted(unknown)[0]}")
        with self._lock:
            catalog = {service_id: dict(service) for service_id, service in self._catalog.items()}
            removed = 0
            for raw_id in changes.get("remove") or []:
                removed += catalog.pop(_service_id(raw_id), None) is not None
            for raw_id, fields in (changes.get("update") or {}).items():
                service_id = _service_id(raw_id)
                if service_id not in catalog:
                    raise ValueError(f"No service {raw_id}")
                if not isinstance(fields, dict):
                    raise ValueError("update takes {id: {field: value}}")
                catalog[service_id] = _checked_service({**catalog[service_id], **fields, "service": service_id})
            added = []
            for fields in changes.get("add") or []:
                if not isinstance(fields, dict):
                    raise ValueError("add takes service objects")
                service_id = _service_id(fields.get("service", max(catalog, default=0) + 1))
                if service_id in catalog:
                    raise ValueError(f"Service {service_id} already exists")
                catalog[service_id] = _checked_service({**fields, "service": service_id}, new=True)
                added.append(service_id)
            self._catalog = dict(sorted(catalog.items()))
            self._services_json = None
            return {"services": len(catalog), "removed": removed, "added": added}

    @property
    def service_count(self) -> int:
        return len(self._catalog)

    def services_json(self) -> bytes:
        with self._lock:
            if self._services_json is None:
                listing = [_render_service(service) for service in self._catalog.values()]
                self._services_json = json.dumps(listing).encode()
            return self._services_json

    # --- the API ---

    def api(self, params: Mapping[str, str], idempotency_header: str | None = None) -> tuple[Any, bool]:
        """Answer one API v2 request: (JSON-able answer, True when an `add` was accepted)."""
        if not hmac.compare_digest(params.get("key", "").encode(), self.key.encode()):
            return {"error": "Invalid API key"}, False
        action = params.get("action", "")
        if action == "add":
            try:
                return {"order": self._add(params, idempotency_header)}, True
            except _Refusal as exc:
                return {"error": str(exc)}, False
        handler = _ACTIONS.get(action)
        if handler is None:
            return {"error": "Incorrect request"}, False
        return handler(self, params), False

    def _add(self, params: Mapping[str, str], header_key: str | None) -> int:
        idempotency_key = params.get("idempotency_key") or header_key
        with self._lock:
            if idempotency_key and idempotency_key in self._idempotency:
                return self._idempotency[idempotency_key]
            service = self._catalog.get(_service_id_or_none(params.get("service")))
            if service is None:
                raise _Refusal("Incorrect service ID")
            quantity, runs, posts, charge = _validate_add(service, params)
            now = self.clock()
            self._settle(now)
            if self.faults()["out_of_funds"] or charge > self._balance:
                raise _Refusal("Not enough funds on balance")
            order_id = self._next_order
            self._next_order += 1
            self._orders_created += 1
            self._balance -= charge
            self._orders[order_id] = order = self._new_order(order_id, service, quantity, runs, posts, charge, now)
            heapq.heappush(self._settlements, (order.t_end, order_id))
            if idempotency_key:
                self._idempotency[idempotency_key] = order_id
            return order_id

    def _new_order(
        self,
        order_id: int,
        service: dict[str, Any],
        quantity: int,
        runs: int | None,
        posts: int | None,
        charge: Decimal,
        now: float,
    ) -> _Order:
        # Seeded by (seed, order ID) so that a replay with the same seed behaves the same.
        rng = random.Random(self.seed * 1_000_003 + order_id)
        t_start = now + rng.uniform(1.5, 2.5) / self.speed
        t_end = t_start + rng.uniform(8.0, 12.0) / self.speed
        roll = rng.random()
        outcome = "Completed" if roll < 0.80 else "Partial" if roll < 0.92 else "Canceled"
        if outcome == "Partial" and quantity < 2:
            outcome = "Completed"
        remains = {"Completed": 0, "Canceled": quantity}.get(outcome)
        if remains is None:  # Partial: up to 60% undelivered
            remains = rng.randint(1, max(1, quantity * 3 // 5))
        return _Order(
            id=order_id,
            service=service,
            quantity=quantity,
            runs=runs,
            posts=posts,
            charge=charge,
            created=now,
            t_start=t_start,
            t_end=t_end,
            outcome=outcome,
            remains_final=remains,
            refund_due=_quantize(charge * remains / quantity),
            start_count=rng.randint(0, 50000),
        )

    def _settle(self, now: float) -> None:
        """Credit the refunds of orders that turned Partial or Canceled by now."""
        heap = self._settlements
        while heap and heap[0][0] <= now:
            _, order_id = heapq.heappop(heap)
            order = self._orders[order_id]
            if not order.settled:
                order.settled = True
                self._balance += order.refund_due

    def _view(self, order: _Order, now: float) -> dict[str, Any]:
        """The order's status answer at `now`. This is the hot path of every poll: Pending
        and final answers are built once per order, In progress ones cost one small dict."""
        if order.final_view is not None:
            return order.final_view
        if order.canceled_at is None:
            if now < order.t_start:
                if order.pending_view is None:
                    order.pending_view = self._build_view(order, "Pending", order.quantity, order.charge, False, 0)
                return order.pending_view
            if now < order.t_end:
                share = (now - order.t_start) / (order.t_end - order.t_start)
                delivered = int((order.quantity - order.remains_final) * share)
                runs_done = int(order.runs * share) if order.runs else 0
                return self._build_view(order, "In progress", order.quantity - delivered, order.charge, True, runs_done)
            view = self._build_view(
                order, order.outcome, order.remains_final, order.charge - order.refund_due, True, order.runs
            )
        else:
            # The start count is taken when delivery starts; an order canceled before has none.
            started = order.canceled_at >= order.t_start
            view = self._build_view(order, "Canceled", order.quantity, Decimal(0), started, 0)
        order.final_view = view
        return view

    def _build_view(
        self, order: _Order, status: str, remains: int, kept: Decimal, started: bool, runs_done: int | None
    ) -> dict[str, Any]:
        view = {
            "charge": order.charge_text if kept is order.charge else _money(kept),
            "start_count": str(order.start_count) if started else "0",
            "status": status,
            "remains": str(remains),
            "currency": self.currency,
        }
        if order.runs:
            view["runs"] = str(runs_done or 0)
        if order.posts:
            view["posts"] = str(order.posts - (order.posts * remains) // order.quantity)
        return view

    def _order_for(self, raw_id: str) -> _Order | None:
        raw_id = raw_id.strip()
        if raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 12:
            return self._orders.get(int(raw_id))
        return None

    @staticmethod
    def _id_list(value: str) -> list[str] | None:
        ids = [part.strip() for part in value.split(",") if part.strip()]
        return ids if 0 < len(ids) <= MAX_IDS else None

    @staticmethod
    def _echo_id(raw_id: str) -> int | str:
        return int(raw_id) if _DIGITS.fullmatch(raw_id) else raw_id

    def _status(self, params: Mapping[str, str]) -> Any:
        with self._lock:
            now = self.clock()
            if "orders" in params:
                ids = self._id_list(params["orders"])
                if ids is None:
                    return {"error": "Incorrect request"}
                answer = {}
                for raw_id in ids:
                    order = self._order_for(raw_id)
                    answer[raw_id] = self._view(order, now) if order else {"error": "Incorrect order ID"}
                return answer
            if "order" in params:
                order = self._order_for(params["order"])
                return self._view(order, now) if order else {"error": "Incorrect order ID"}
            return {"error": "Incorrect request"}

    def _refill_one(self, raw_id: str, now: float) -> int | str:
        """A new refill's ID, or the error text."""
        order = self._order_for(raw_id)
        if order is None:
            return "Incorrect order ID"
        service = self._catalog.get(order.service["service"], order.service)
        if not service["refill"]:
            return "Refill is disabled for this service"
        if self._view(order, now)["status"] != "Completed":
            return "The order is not completed"
        rng = random.Random(self.seed * 2_000_003 + self._next_refill)
        t_start = now + rng.uniform(1.5, 2.5) / self.speed
        refill = _Refill(self._next_refill, order.id, now, t_start, t_start + rng.uniform(4.0, 6.0) / self.speed)
        self._refills[refill.id] = refill
        self._next_refill += 1
        return refill.id

    def _refill(self, params: Mapping[str, str]) -> Any:
        with self._lock:
            now = self.clock()
            if "orders" in params:
                ids = self._id_list(params["orders"])
                if ids is None:
                    return {"error": "Incorrect request"}
                answer = []
                for raw_id in ids:
                    outcome = self._refill_one(raw_id, now)
                    value = outcome if isinstance(outcome, int) else {"error": outcome}
                    answer.append({"order": self._echo_id(raw_id), "refill": value})
                return answer
            if "order" in params:
                outcome = self._refill_one(params["order"], now)
                return {"refill": str(outcome)} if isinstance(outcome, int) else {"error": outcome}
            return {"error": "Incorrect request"}

    def _refill_state(self, raw_id: str, now: float) -> str | None:
        raw_id = raw_id.strip()
        refill = self._refills.get(int(raw_id)) if _DIGITS.fullmatch(raw_id) else None
        if refill is None:
            return None
        if now < refill.t_start:
            return "Pending"
        return "In progress" if now < refill.t_end else "Completed"

    def _refill_status(self, params: Mapping[str, str]) -> Any:
        with self._lock:
            now = self.clock()
            if "refills" in params:
                ids = self._id_list(params["refills"])
                if ids is None:
                    return {"error": "Incorrect request"}
                answer = []
                for raw_id in ids:
                    state = self._refill_state(raw_id, now)
                    answer.append({"refill": self._echo_id(raw_id), "status": state or {"error": "Refill not found"}})
                return answer
            if "refill" in params:
                state = self._refill_state(params["refill"], now)
                return {"status": state} if state else {"error": "Refill not found"}
            return {"error": "Incorrect request"}

    def _cancel(self, params: Mapping[str, str]) -> Any:
        ids = self._id_list(params.get("orders") or params.get("order") or "")
        if ids is None:
            return {"error": "Incorrect request"}
        with self._lock:
            now = self.clock()
            self._settle(now)
            answer = []
            for raw_id in ids:
                order = self._order_for(raw_id)
                if order is None:
                    error = "Incorrect order ID"
                elif not self._catalog.get(order.service["service"], order.service)["cancel"]:
                    error = "Cancel is disabled for this service"
                elif self._view(order, now)["status"] in {"Completed", "Partial", "Canceled"}:
                    error = "Order can not be canceled"
                else:
                    error = None
                    order.canceled_at = now
                    order.settled = True
                    self._balance += order.charge
                    answer.append({"order": order.id, "cancel": self._next_cancel})
                    self._next_cancel += 1
                if error:
                    answer.append({"order": self._echo_id(raw_id), "cancel": {"error": error}})
            return answer

    def _balance_answer(self, params: Mapping[str, str]) -> Any:
        with self._lock:
            self._settle(self.clock())
            return {"balance": _money(self._balance), "currency": self.currency}

    def _services_answer(self, params: Mapping[str, str]) -> Any:
        return _Raw(self.services_json())


class _Raw(bytes):
    """An answer that is already JSON."""


_ACTIONS: dict[str, Callable[[Simulator, Mapping[str, str]], Any]] = {
    "services": Simulator._services_answer,
    "status": Simulator._status,
    "refill": Simulator._refill,
    "refill_status": Simulator._refill_status,
    "cancel": Simulator._cancel,
    "balance": Simulator._balance_answer,
}


def _service_id_or_none(value: Any) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if _DIGITS.fullmatch(text) else None


def _service_id(value: Any) -> int:
    service_id = _service_id_or_none(value)
    if service_id is None:
        raise ValueError(f"Bad service ID: {value!r}")
    return service_id


def _checked_service(fields: dict[str, Any], *, new: bool = False) -> dict[str, Any]:
    allowed = {"service", "name", "type", "category", "rate", "min", "max", "refill", "cancel", "dripfeed", "desc"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"Unknown service field: {sorted(unknown)[0]}")
    if new:
        missing = {"name", "rate", "min", "max"} - set(fields)
        if missing:
            raise ValueError(f"A new service needs {', '.join(sorted(missing))}")
    service = {"type": "Default", "category": "Other", "refill": False, "cancel": False, "dripfeed": False, "desc": ""}
    service.update(fields)
    if _type_of(service) is None:
        raise ValueError(f"Unknown service type: {service['type']}")
    try:
        service["rate"] = Decimal(str(service["rate"]))
        service["min"] = int(service["min"])
        service["max"] = int(service["max"])
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError("rate, min and max must be numbers") from None
    if not service["rate"].is_finite() or service["rate"] < 0 or not 0 < service["min"] <= service["max"]:
        raise ValueError("rate must be >= 0 and 0 < min <= max")
    for flag in ("refill", "cancel", "dripfeed"):
        if not isinstance(service[flag], bool):
            raise ValueError(f"{flag} must be true or false")
    service["name"] = str(service["name"])
    service["category"] = str(service["category"])
    service["desc"] = str(service["desc"])
    return service


def _validate_add(service: dict[str, Any], params: Mapping[str, str]) -> tuple[int, int | None, int | None, Decimal]:
    """(total quantity, runs, posts, charge) for a valid order; _Refusal otherwise."""
    kind = _type_of(service)
    source, required, drip_capable = _TYPE_RULES[kind]
    low, high = service["min"], service["max"]
    rate = service["rate"]

    def check_range(quantity: int) -> None:
        if quantity < low:
            raise _Refusal(f"Quantity less than minimal {low}")
        if quantity > high:
            raise _Refusal(f"Quantity more than maximum {high}")

    if source == "subscription":
        return _validate_subscription(service, params)
    if not _valid_link((params.get("link") or "").strip()):
        raise _Refusal("Bad link")
    for name in required:
        present = _lines(params, name) if name in _LINE_PARAMS else (params.get(name) or "").strip()
        if not present:
            raise _Refusal("Incorrect request")

    runs = None
    if params.get("runs") or params.get("interval"):
        if not drip_capable or not service["dripfeed"]:
            raise _Refusal("This service does not support drip-feed")
        if not params.get("runs"):
            raise _Refusal("Runs is required")
        if not params.get("interval"):
            raise _Refusal("Interval is required")
        runs = _positive_int(params["runs"])
        if runs is None or _positive_int(params["interval"]) is None:
            raise _Refusal("Incorrect request")

    if kind == "Poll" and _positive_int(params.get("answer_number")) is None:
        raise _Refusal("Incorrect request")
    if kind == "Web Traffic":
        _validate_web_traffic(params)

    if source == "package":
        return 1, None, None, _quantize(rate)
    if source.startswith(("lines:", "package_lines:")):
        count = len(_lines(params, source.split(":")[1]))
        if count == 0:
            raise _Refusal("Incorrect request")
        check_range(count)
        flat = source.startswith("package_lines:")
        return count, None, None, _quantize(rate if flat else rate * count / 1000)

    quantity = _positive_int(params.get("quantity"))
    if quantity is None:
        raise _Refusal("Incorrect request")
    check_range(quantity)
    total = quantity * (runs or 1)
    return total, runs, None, _quantize(rate * total / 1000)


def _validate_web_traffic(params: Mapping[str, str]) -> None:
    device = _positive_int(params.get("device"))
    traffic = _positive_int(params.get("type_of_traffic"))
    if device is None or device > 5 or traffic is None or traffic > 3:
        raise _Refusal("Incorrect request")
    if traffic == 1 and not (params.get("google_keyword") or "").strip():
        raise _Refusal("Incorrect request")
    if traffic == 2 and not _valid_link((params.get("referring_url") or "").strip()):
        raise _Refusal("Bad link")


def _validate_subscription(service: dict[str, Any], params: Mapping[str, str]) -> tuple[int, None, int, Decimal]:
    if not _LINK_HANDLE.fullmatch((params.get("username") or "").strip()):
        raise _Refusal("Incorrect request")
    low, high = _positive_int(params.get("min")), _positive_int(params.get("max"))
    if low is None or high is None or low > high:
        raise _Refusal("Incorrect request")
    if low < service["min"]:
        raise _Refusal(f"Quantity less than minimal {service['min']}")
    if high > service["max"]:
        raise _Refusal(f"Quantity more than maximum {service['max']}")
    delay = (params.get("delay") or "").strip()
    if not delay.isdigit() or int(delay) not in _SUBSCRIPTION_DELAYS:
        raise _Refusal("Incorrect request")
    posts = 1
    if params.get("posts"):
        posts = _positive_int(params["posts"])
        if posts is None:
            raise _Refusal("Incorrect request")
    if params.get("old_posts") and not (params["old_posts"].strip().isdigit()):
        raise _Refusal("Incorrect request")
    if params.get("expiry"):
        try:
            datetime.strptime(params["expiry"].strip(), "%d/%m/%Y")
        except ValueError:
            raise _Refusal("Incorrect request") from None
    return high * posts, None, posts, _quantize(service["rate"] * high * posts / 1000)


# --- HTTP -----------------------------------------------------------------------------------

_HTML_ERROR = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
    b"<center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>"
)
_HTML_500 = (
    b"<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>"
)
_MAX_BODY = 10 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so pooled clients reuse connections
    server_version = "smm-sim/1.0"
    disable_nagle_algorithm = True
    server: SimulatorServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # an access log per request would cost more than answering it

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def _send(self, code: int, payload: Any, content_type: str = "application/json") -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        head = (
            f"HTTP/1.1 {code} {HTTPStatus(code).phrase}\r\n"
            f"Server: {self.server_version}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"{'Connection: close' + chr(13) + chr(10) if self.close_connection else ''}\r\n"
        )
        # One write: a separate write for the body would meet Nagle and delayed ACKs.
        self.wfile.write(head.encode("latin-1") + body)

    def _body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._send(411, {"error": "Content-Length required"})
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self.close_connection = True
            self._send(400, {"error": "Bad Content-Length"})
            return None
        return self.rfile.read(length) if length else b""

    def _route(self) -> None:
        body = self._body()
        if body is None:
            return
        path, _, query = self.path.partition("?")
        if path.rstrip("/") == "/api/v2":
            self._api(query, body)
        elif path.startswith("/_sim/"):
            self._control(path, body)
        else:
            self._send(404, {"error": "Not found"})

    def _params(self, query: str, body: bytes) -> dict[str, str]:
        params = dict(parse_qsl(query, keep_blank_values=True))
        if not body:
            return params
        if self.headers.get("Content-Type", "").startswith("application/json"):
            try:
                data = json.loads(body)
            except ValueError:
                return params
            if isinstance(data, dict):
                for name, value in data.items():
                    if isinstance(value, list):
                        separator = "," if name in {"orders", "refills"} else "\n"
                        value = separator.join(str(item) for item in value)
                    params[str(name)] = "" if value is None else str(value)
            return params
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return params

    def _api(self, query: str, body: bytes) -> None:
        sim = self.server.sim
        params = self._params(query, body)
        action = params.get("action", "")
        sim.record_request(action)
        delay, fault = sim.draw_faults(action)
        stop = self.server.stop_event
        if delay and stop.wait(delay):
            self.close_connection = True
            return
        if fault == "timeout":
            stop.wait(TIMEOUT_HOLD_SECONDS)
            self.close_connection = True
            return
        if fault == "http_500":
            self._send(500, _HTML_500, "text/html")
            return
        if fault == "html":
            self._send(200, _HTML_ERROR, "text/html; charset=utf-8")
            return
        if fault == "error":
            self._send(200, {"error": "Service temporarily unavailable"})
            return
        answer, accepted = sim.api(params, self.headers.get("Idempotency-Key"))
        if fault == "drop_after_accept" and accepted:
            # The order exists now; the client never hears about it.
            self.close_connection = True
            return
        self._send(200, answer)

    def _control(self, path: str, body: bytes) -> None:
        sim = self.server.sim
        name = path[len("/_sim/") :].rstrip("/")
        method = self.command
        try:
            data = json.loads(body, parse_float=Decimal) if body.strip() else {}
        except ValueError:
            self._send(400, {"error": "Body must be JSON"})
            return
        try:
            if name == "faults" and method == "GET":
                self._send(200, sim.faults())
            elif name == "faults" and method == "POST":
                if not isinstance(data, dict):
                    raise ValueError("Body must be a JSON object")
                self._send(200, sim.set_faults(data))
            elif name == "stats" and method == "GET":
                self._send(200, sim.stats())
            elif name == "reset" and method == "POST":
                sim.reset()
                self._send(200, {"ok": True})
            elif name == "services" and method == "POST":
                if not isinstance(data, dict):
                    raise ValueError("Body must be a JSON object")
                self._send(200, sim.change_services(data))
            elif name in {"faults", "stats", "reset", "services"}:
                self._send(405, {"error": "Method not allowed"})
            else:
                self._send(404, {"error": "Not found"})
        except ValueError as exc:
            self._send(400, {"error": str(exc)})


class SimulatorServer(ThreadingHTTPServer):
    """ThreadingHTTPServer whose shutdown() also ends held requests and open connections."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        super().__init__(address, _Handler)
        self.sim = sim
        self.stop_event = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._started = False
        self._closed = False

    def serve_forever(self, poll_interval: float = 0.1) -> None:
        self._started = True
        super().serve_forever(poll_interval)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def shutdown(self) -> None:
        """Stop serving, release held requests and close every connection (idempotent).
        Call it from another thread than the one in serve_forever()."""
        if self._closed:
            return
        self._closed = True
        self.stop_event.set()
        if self._started:
            super().shutdown()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()


def make_server(sim: Simulator, host: str = "127.0.0.1", port: int = 8081) -> SimulatorServer:
    """A server for `sim`; port 0 picks a free port (see server.server_address)."""
    return SimulatorServer((host, port), sim)


def base_url(server: SimulatorServer) -> str:
    host, port = server.server_address[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/api/v2"


def start_in_thread(**kwargs: Any) -> tuple[SimulatorServer, Simulator, str]:
    """Start a simulator in a daemon thread: (server, sim, base_url). `host` and `port`
    (default 0, a free port) go to the server, everything else to Simulator()."""
    host = kwargs.pop("host", "127.0.0.1")
    port = kwargs.pop("port", 0)
    sim = Simulator(**kwargs)
    server = make_server(sim, host, port)
    threading.Thread(target=server.serve_forever, name="simulator", daemon=True).start()
    return server, sim, base_url(server)


# --- Command line ---------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `manage.py simulate_upstream` and `python -m upstream.simulator`."""
    parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default loopback).")
    parser.add_argument("--port", type=int, default=8081, help="Port (0 picks a free one).")
    parser.add_argument("--key", default="sim-key", help="The API key clients must send.")
    parser.add_argument("--services", type=int, default=300, help="Number of services in the catalog.")
    parser.add_argument("--speed", type=float, default=1.0, help="Time factor for order progress.")
    parser.add_argument("--seed", type=int, default=0, help="Seed for the catalog, outcomes and faults.")
    parser.add_argument("--balance", type=Decimal, default=Decimal("10000"), help="Starting balance.")
    parser.add_argument("--currency", default="USD")
    parser.add_argument("--latency-ms", type=float, default=0, help="Delay added to every API request.")
    parser.add_argument("--jitter-ms", type=float, default=0, help="Random extra delay, 0..N ms.")
    parser.add_argument("--error-rate", type=float, default=0, help='Share of {"error": ...} answers.')
    parser.add_argument("--http-500-rate", type=float, default=0, help="Share of HTTP 500 answers.")
    parser.add_argument("--html-rate", type=float, default=0, help="Share of HTML pages with status 200.")
    parser.add_argument(
        "--drop-after-accept-rate", type=float, default=0, help="Share of adds that create the order, then hang up."
    )
    parser.add_argument("--timeout-rate", type=float, default=0, help="Share of requests never answered.")
    parser.add_argument("--out-of-funds", action="store_true", help='Every add answers "Not enough funds".')


def serve(options: Mapping[str, Any], *, stdout: Any = None) -> None:
    """Run a simulator from parsed options until Ctrl-C or SIGTERM."""
    stdout = stdout or sys.stdout
    faults = {
        name: options[name] for name in FAULT_DEFAULTS if name in options and options[name] != FAULT_DEFAULTS[name]
    }
    sim = Simulator(
        key=options["key"],
        services=options["services"],
        speed=options["speed"],
        seed=options["seed"],
        balance=options["balance"],
        currency=options["currency"],
        faults=faults,
    )
    server = make_server(sim, options["host"], options["port"])
    stdout.write(f"Simulator: {base_url(server)} key={sim.key} services={sim.service_count} speed={sim.speed}\n")
    if faults:
        stdout.write(f"Faults: {json.dumps(faults)}\n")
    stdout.flush()

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # Both signals explicitly: a process started in the background inherits an ignored SIGINT.
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    stdout.write("Simulator stopped.\n")
    stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m upstream.simulator", description="An API v2 provider simulator.")
    add_arguments(parser)
    serve(vars(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
