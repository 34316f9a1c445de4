"""An order's history: one row per thing that happened to it, written by the transition itself.

The same transitions tell notifications (panel.events) what customers and staff hear about:
each helper here is the one place its event is raised, with a deterministic key.
"""

from panel.events import DomainEvent, emit
from panel.tenancy import panel_currency

from .models import FINAL_STATUSES, Order, OrderEvent, Refill


def order_event(
    order_id: int, kind: str, message: str, *, data: dict | None = None, actor_id: int | None = None
) -> None:
    event = OrderEvent.objects.create(order_id=order_id, kind=kind, message=message, data=data or {}, actor_id=actor_id)
    if kind == "attention":
        # Staff alert: every path that leaves an order for staff writes this history row.
        emit(
            DomainEvent(
                kind="order.attention",
                key=f"order-event:{event.pk}",
                data={"order": order_id, "message": f"Order {order_id}: {message}"},
            )
        )


def order_final_notify(order: Order, *, refunded) -> None:
    """The customer's "order final" event, with the charge and the refund; raised by order_settle."""
    emit(_final_event(order, refunded))


def orders_final_notify(settled: list[tuple[Order, object]]) -> None:
    """order_final_notify for a settled batch, (order, refunded) each, recorded together."""
    emit(*(_final_event(order, refunded) for order, refunded in settled))


def _final_event(order: Order, refunded) -> DomainEvent:
    return DomainEvent(
        kind="order.final",
        key=f"order:{order.pk}:final",
        user_id=order.user_id,
        data={
            "order": order.pk,
            "status": order.status,
            "charge": order.charge,
            "refund": refunded,
            "remains": order.remains,
            "quantity": order.quantity,
            "link": order.link,
            "service": order.service_id,
            "currency": panel_currency(),
        },
    )


def order_status_notify(rows: list[OrderEvent], orders: dict[int, Order], previous: dict[int, str]) -> None:
    """Customers' "order status changed" events for the status rows polling wrote; final statuses
    are left to order_final_notify (they carry the refund)."""
    emit(
        *(
            DomainEvent(
                kind="order.status",
                key=f"order-event:{row.pk}" if row.pk else f"order:{row.order_id}:status:{orders[row.order_id].status}",
                user_id=orders[row.order_id].user_id,
                data={
                    "order": row.order_id,
                    "status": orders[row.order_id].status,
                    "previous": previous.get(row.order_id, ""),
                    "start_count": orders[row.order_id].start_count,
                    "remains": orders[row.order_id].remains,
                },
            )
            for row in rows
            if orders[row.order_id].status not in FINAL_STATUSES
        )
    )


def refill_final_notify(refill: Refill, *, status: str, error: str = "") -> None:
    """The customer's "refill done or rejected" event, once per refill and status."""
    if status not in (Refill.Status.COMPLETED, Refill.Status.REJECTED):
        return
    emit(
        DomainEvent(
            kind="refill.status",
            key=f"refill:{refill.pk}:{status}",
            user_id=refill.user_id,
            data={"refill": refill.pk, "order": refill.order_id, "status": status, "error": error[:500]},
        )
    )
