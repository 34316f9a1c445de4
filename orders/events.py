"""An order's history: one row per thing that happened to it, written by the transition itself."""

from .models import OrderEvent


def order_event(
    order_id: int, kind: str, message: str, *, data: dict | None = None, actor_id: int | None = None
) -> None:
    OrderEvent.objects.create(order_id=order_id, kind=kind, message=message, data=data or {}, actor_id=actor_id)
