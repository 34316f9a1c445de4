"""Orders and refills of the simulator, and an order's status answer at a given time.

Each order's timeline and outcome are drawn once at creation from a generator seeded by
(seed, order ID); its state is computed from the clock when asked (see the package).
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from .catalog import money, quantize


class Order:
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
        self.charge_text = money(self.charge)
        self.canceled_at = None
        self.pending_view = None
        self.final_view = None
        self.settled = False


class Refill:
    __slots__ = ("created", "id", "order_id", "t_end", "t_start")

    def __init__(self, refill_id: int, order_id: int, created: float, t_start: float, t_end: float) -> None:
        self.id = refill_id
        self.order_id = order_id
        self.created = created
        self.t_start = t_start
        self.t_end = t_end


def new_order(
    seed: int,
    speed: float,
    order_id: int,
    service: dict[str, Any],
    quantity: int,
    runs: int | None,
    posts: int | None,
    charge: Decimal,
    now: float,
) -> Order:
    # Seeded by (seed, order ID) so that a replay with the same seed behaves the same.
    rng = random.Random(seed * 1_000_003 + order_id)
    t_start = now + rng.uniform(1.5, 2.5) / speed
    t_end = t_start + rng.uniform(8.0, 12.0) / speed
    roll = rng.random()
    outcome = "Completed" if roll < 0.80 else "Partial" if roll < 0.92 else "Canceled"
    if outcome == "Partial" and quantity < 2:
        outcome = "Completed"
    remains = {"Completed": 0, "Canceled": quantity}.get(outcome)
    if remains is None:  # Partial: up to 60% undelivered
        remains = rng.randint(1, max(1, quantity * 3 // 5))
    return Order(
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
        refund_due=quantize(charge * remains / quantity),
        start_count=rng.randint(0, 50000),
    )


def order_view(order: Order, now: float, currency: str) -> dict[str, Any]:
    """The order's status answer at `now`. This is the hot path of every poll: Pending
    and final answers are built once per order, In progress ones cost one small dict."""
    if order.final_view is not None:
        return order.final_view
    if order.canceled_at is None:
        if now < order.t_start:
            if order.pending_view is None:
                order.pending_view = build_view(order, currency, "Pending", order.quantity, order.charge, False, 0)
            return order.pending_view
        if now < order.t_end:
            share = (now - order.t_start) / (order.t_end - order.t_start)
            delivered = int((order.quantity - order.remains_final) * share)
            runs_done = int(order.runs * share) if order.runs else 0
            return build_view(order, currency, "In progress", order.quantity - delivered, order.charge, True, runs_done)
        view = build_view(
            order, currency, order.outcome, order.remains_final, order.charge - order.refund_due, True, order.runs
        )
    else:
        # The start count is taken when delivery starts; an order canceled before has none.
        started = order.canceled_at >= order.t_start
        view = build_view(order, currency, "Canceled", order.quantity, Decimal(0), started, 0)
    order.final_view = view
    return view


def build_view(
    order: Order, currency: str, status: str, remains: int, kept: Decimal, started: bool, runs_done: int | None
) -> dict[str, Any]:
    view = {
        "charge": order.charge_text if kept is order.charge else money(kept),
        "start_count": str(order.start_count) if started else "0",
        "status": status,
        "remains": str(remains),
        "currency": currency,
    }
    if order.runs:
        view["runs"] = str(runs_done or 0)
    if order.posts:
        view["posts"] = str(order.posts - (order.posts * remains) // order.quantity)
    return view
