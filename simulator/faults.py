"""Faults: what the simulator does wrong on purpose, drawn from a generator seeded by `seed`.

Faults apply to /api/v2 only: latency_ms plus 0..jitter_ms of delay; then at most one of
timeout_rate (hold without answering for 60 s or until shutdown), http_500_rate, html_rate
(an HTML page with status 200), error_rate ({"error": "Service temporarily unavailable"})
and, for `add` only, drop_after_accept_rate (create the order, then close the connection
without answering) and hang_after_accept_rate (create the order, then hold the answer back as
timeout_rate does: the client times out after the order exists); out_of_funds refuses adds.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

FAULT_DEFAULTS: dict[str, Any] = {
    "latency_ms": 0.0,
    "jitter_ms": 0.0,
    "error_rate": 0.0,
    "http_500_rate": 0.0,
    "html_rate": 0.0,
    "drop_after_accept_rate": 0.0,
    "timeout_rate": 0.0,
    "hang_after_accept_rate": 0.0,
    "out_of_funds": False,
}


def checked_faults(changes: Mapping[str, Any]) -> dict[str, Any]:
    """`changes` as stored; ValueError names the first bad key or value."""
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
    return checked


class Faults:
    """The current faults and their generator. Thread-safe."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._values = dict(FAULT_DEFAULTS)
        self._rng = random.Random(f"faults:{seed}")

    def current(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._values)

    def update(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Merge `changes` into the faults; ValueError names the first bad key or value."""
        checked = checked_faults(changes)
        with self._lock:
            self._values.update(checked)
            return dict(self._values)

    def reseed(self) -> None:
        """Start the draws over, as after a restart with the same seed."""
        with self._lock:
            self._rng = random.Random(f"faults:{self._seed}")

    def draw(self, action: str) -> tuple[float, str | None]:
        """(delay in seconds, fault to apply or None) for one /api/v2 request."""
        with self._lock:
            faults = self._values
            rng = self._rng
            delay = faults["latency_ms"] / 1000
            if faults["jitter_ms"]:
                delay += rng.uniform(0, faults["jitter_ms"]) / 1000
            kinds = ["timeout", "http_500", "html", "error"]
            if action == "add":
                kinds.extend(("drop_after_accept", "hang_after_accept"))
            for kind in kinds:
                rate = faults[f"{kind}_rate"]
                if rate and rng.random() < rate:
                    return delay, kind
            return delay, None
