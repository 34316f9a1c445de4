"""Enqueueing the order engine's Celery tasks by name.

Services enqueue work after commit; the tasks call those services. Naming the task instead of
importing tasks.py keeps the import graph one-way (tasks -> services). OrdersConfig.ready imports
tasks.py, so every process knows the tasks and eager mode (tests, the demo) runs them in place.
"""

from panel.celery import app

FORWARD_ORDER = "orders.forward_order"
FORWARD_REFILLS = "orders.forward_refills"
FORWARD_CANCELS = "orders.forward_cancels"


def enqueue(task_name: str, *args) -> None:
    app.signature(task_name, args=args).delay()
