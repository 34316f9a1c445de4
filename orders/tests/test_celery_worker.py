"""The engine under a real Celery worker, fed through the Redis broker."""

import time
from decimal import Decimal

import pytest
from django.db import connections

from accounts.ledger import ledger_credit, ledger_drift
from accounts.models import User
from orders.models import FINAL_STATUSES, ForwardState, Order
from orders.placement import order_place
from orders.tasks import forward_order, poll_orders
from panel.celery import app
from testing.fixtures import running_worker


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def worker(transactional_db, settings):
    assert app.conf.broker_url.startswith("redis://")
    app.conf.task_always_eager = False
    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    # No queues named: a plain worker consumes every declared queue (forward, poll, default).
    with running_worker(app, pool="threads", concurrency=4) as w:
        yield w
    app.conf.task_always_eager = True
    connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_orders_flow_through_real_workers_and_duplicate_deliveries_do_nothing(worker, sim, make_service, provider):
    user = User.objects.create(username="worker-user")
    ledger_credit(user_id=user.pk, amount=Decimal("500"))
    service = make_service("Default", dripfeed=False)
    ids = [
        order_place(
            user=user, service_id=service.pk, data={"link": f"https://x.com/w{i}", "quantity": service.min}
        ).order.pk
        for i in range(20)
    ]
    # on_commit enqueued one forward task per order; deliver each a second time as a broker might.
    for order_id in ids:
        forward_order.delay(order_id)
    assert wait_for(lambda: Order.objects.filter(forward_state=ForwardState.SENT).count() == 20)
    time.sleep(0.5)
    assert sim.stats()["orders_created"] == 20

    sim.clock.advance(100)
    Order.objects.update(next_check_at=None)
    Order.objects.filter(pk__in=ids).update(next_check_at="2000-01-01T00:00:00Z")
    # Two beats firing at once: batches are claimed, so every order is polled once.
    poll_orders.delay()
    poll_orders.delay()
    assert wait_for(lambda: Order.objects.filter(status__in=FINAL_STATUSES).count() == 20)
    time.sleep(0.5)
    assert sim.stats()["requests"]["status"] == 1
    assert ledger_drift() == []
