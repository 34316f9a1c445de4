"""Domain events: how any app says "this happened" for notifications, without importing them.

Notifications (email, Telegram, webhooks, staff alerts) sit above every domain app in the layers,
yet events are raised down in accounts, upstream, catalog and orders. So the domain calls
`emit(DomainEvent(...))` from here, the bottom layer, and the notifications app listens
(notifications/apps.py connects its receiver). The receiver records each event in the same
database transaction as the action that raised it (a rolled-back action leaves no event) and
hands it to Celery after commit; it never raises into the caller.

An event's `key` is its identity and must be deterministic ("order:42:final"): an action that
runs twice raises the same key, and the second is ignored.
"""

from dataclasses import dataclass, field

from django.dispatch import Signal

raised = Signal()


@dataclass(frozen=True)
class DomainEvent:
    kind: str  # e.g. "order.final", see notifications/kinds.py
    key: str  # unique identity, e.g. "order:42:final"
    user_id: int | None = None  # the customer it concerns; None for staff alerts
    data: dict = field(default_factory=dict)  # JSON-safe (Decimals are written as strings)


def emit(*events: DomainEvent) -> None:
    """Record events for notification. Never raises; a no-op when nobody listens."""
    if events:
        raised.send(sender=DomainEvent, events=events)
