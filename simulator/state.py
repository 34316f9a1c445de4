"""The simulated provider's state: catalogue, orders, refills, balance, idempotency keys.

`Simulator` answers API v2 requests given as parsed form fields (`api`), in memory and without
I/O; simulator.server is a thin HTTP layer over it. How it behaves: see the package.
"""

from __future__ import annotations

import heapq
import hmac
import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from .catalog import (
    DIGITS,
    checked_service,
    generate_catalog,
    money,
    render_service,
    to_service_id,
    to_service_id_or_none,
)
from .faults import Faults
from .orders import Order, Refill, new_order, order_view
from .validation import Refusal, validate_add

MAX_IDS = 100
FIRST_ORDER_ID = 10001


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
        self._faults = Faults(seed)
        self._catalog = generate_catalog(services, seed)
        self._services_json: bytes | None = None
        self._reset_state()
        if faults:
            self.set_faults(faults)

    def _reset_state(self) -> None:
        self._orders: dict[int, Order] = {}
        self._refills: dict[int, Refill] = {}
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
        self._faults.reseed()

    def faults(self) -> dict[str, Any]:
        return self._faults.current()

    def set_faults(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Merge `changes` into the faults; ValueError names the first bad key or value."""
        return self._faults.update(changes)

    def draw_faults(self, action: str) -> tuple[float, str | None]:
        """(delay in seconds, fault to apply or None) for one /api/v2 request."""
        return self._faults.draw(action)

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
                status = order_view(order, now, self.currency)["status"]
                by_status[status] = by_status.get(status, 0) + 1
            return {
                "orders_created": self._orders_created,
                "requests": dict(self._requests),
                "balance": money(self._balance),
                "orders_by_status": by_status,
            }

    def change_services(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Apply {"remove": [ids], "update": {id: {field: value}}, "add": [service dicts]}.

        {"update": {id: {"disabled": true}}} switches a service off as a provider's staff would:
        it leaves the `services` list and `add` refuses it ("Service not found or inactive");
        its existing orders carry on. {"disabled": false} brings it back."""
        unknown = set(changes) - {"remove", "update", "add"}
        if unknown:
            raise ValueError(f"Unknown key: {sorted(unknown)[0]}")
        with self._lock:
            catalog = {service_id: dict(service) for service_id, service in self._catalog.items()}
            removed = 0
            for raw_id in changes.get("remove") or []:
                removed += catalog.pop(to_service_id(raw_id), None) is not None
            for raw_id, fields in (changes.get("update") or {}).items():
                service_id = to_service_id(raw_id)
                if service_id not in catalog:
                    raise ValueError(f"No service {raw_id}")
                if not isinstance(fields, dict):
                    raise ValueError("update takes {id: {field: value}}")
                catalog[service_id] = checked_service({**catalog[service_id], **fields, "service": service_id})
            added = []
            for fields in changes.get("add") or []:
                if not isinstance(fields, dict):
                    raise ValueError("add takes service objects")
                service_id = to_service_id(fields.get("service", max(catalog, default=0) + 1))
                if service_id in catalog:
                    raise ValueError(f"Service {service_id} already exists")
                catalog[service_id] = checked_service({**fields, "service": service_id}, new=True)
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
                listing = [render_service(s) for s in self._catalog.values() if not s.get("disabled")]
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
            except Refusal as exc:
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
            service = self._catalog.get(to_service_id_or_none(params.get("service")))
            if service is None:
                raise Refusal("Incorrect service ID")
            if service.get("disabled"):
                # Staff of the provider switched it off: gone from the list, refused by name.
                raise Refusal("Service not found or inactive")
            quantity, runs, posts, charge = validate_add(service, params)
            now = self.clock()
            self._settle(now)
            if self.faults()["out_of_funds"] or charge > self._balance:
                raise Refusal("Not enough funds on balance")
            order_id = self._next_order
            self._next_order += 1
            self._orders_created += 1
            self._balance -= charge
            self._orders[order_id] = order = new_order(
                self.seed, self.speed, order_id, service, quantity, runs, posts, charge, now
            )
            heapq.heappush(self._settlements, (order.t_end, order_id))
            if idempotency_key:
                self._idempotency[idempotency_key] = order_id
            return order_id

    def _settle(self, now: float) -> None:
        """Credit the refunds of orders that turned Partial or Canceled by now."""
        heap = self._settlements
        while heap and heap[0][0] <= now:
            _, order_id = heapq.heappop(heap)
            order = self._orders[order_id]
            if not order.settled:
                order.settled = True
                self._balance += order.refund_due

    def _order_for(self, raw_id: str) -> Order | None:
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
        return int(raw_id) if DIGITS.fullmatch(raw_id) else raw_id

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
                    answer[raw_id] = order_view(order, now, self.currency) if order else {"error": "Incorrect order ID"}
                return answer
            if "order" in params:
                order = self._order_for(params["order"])
                return order_view(order, now, self.currency) if order else {"error": "Incorrect order ID"}
            return {"error": "Incorrect request"}

    def _refill_one(self, raw_id: str, now: float) -> int | str:
        """A new refill's ID, or the error text."""
        order = self._order_for(raw_id)
        if order is None:
            return "Incorrect order ID"
        service = self._catalog.get(order.service["service"], order.service)
        if not service["refill"]:
            return "Refill is disabled for this service"
        if order_view(order, now, self.currency)["status"] != "Completed":
            return "The order is not completed"
        rng = random.Random(self.seed * 2_000_003 + self._next_refill)
        t_start = now + rng.uniform(1.5, 2.5) / self.speed
        refill = Refill(self._next_refill, order.id, now, t_start, t_start + rng.uniform(4.0, 6.0) / self.speed)
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
        refill = self._refills.get(int(raw_id)) if DIGITS.fullmatch(raw_id) else None
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
                elif order_view(order, now, self.currency)["status"] in {"Completed", "Partial", "Canceled"}:
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
            return {"balance": money(self._balance), "currency": self.currency}

    def _services_answer(self, params: Mapping[str, str]) -> Any:
        return Raw(self.services_json())


class Raw(bytes):
    """An answer that is already JSON."""


_ACTIONS: dict[str, Callable[[Simulator, Mapping[str, str]], Any]] = {
    "services": Simulator._services_answer,
    "status": Simulator._status,
    "refill": Simulator._refill,
    "refill_status": Simulator._refill_status,
    "cancel": Simulator._cancel,
    "balance": Simulator._balance_answer,
}
