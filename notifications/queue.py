"""Enqueueing the notification tasks by name (tasks.py imports services, never the reverse).

Every task runs on the `notify` queue (CELERY_TASK_ROUTES), so slow receivers never delay orders.
A lost enqueue (broker down) loses nothing: the sweeper finds undispatched events and due
deliveries in the database.
"""

import logging

from panel.celery import app

logger = logging.getLogger(__name__)

DISPATCH = "notifications.dispatch_events"
DELIVER = "notifications.deliver"


def enqueue(task_name: str, *args) -> None:
    try:
        app.signature(task_name, args=args).delay()
    except Exception:
        # In eager mode (tests, the demo) the task ran here and failed; in production the broker
        # refused it. Either way the sweeper tries again from what the database holds.
        logger.exception("notifications: could not run or enqueue %s", task_name)
