"""Cancel requests: concurrent cancels of one unsent order leave no request queued forever."""

from decimal import Decimal

import pytest

from accounts.ledger import ledger_credit, ledger_drift
from accounts.models import User
from orders.cancels import cancel_request, cancels_forward
from orders.models import CancelRequest, Order, Status
from orders.placement import order_place
from panel.celery import app as celery_app
from testing.concurrency import run_together


@pytest.fixture
def buyer(transactional_db):
    user = User.objects.create(username="canceler", email="canceler@example.com")
    ledger_credit(user_id=user.pk, amount=Decimal("1000"), memo="test funds")
    return user


@pytest.fixture
def tasks_not_run():
    """Keep orders unsent: tasks go to the broker, which no worker consumes here. Set on the app
    itself, since other tests set it there and that shadows the Django setting."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = previous


def test_concurrent_cancels_of_an_unsent_order_leave_nothing_queued(buyer, make_service, tasks_not_run):
    service = make_service("Default", dripfeed=False, cancel=True)
    for attempt in range(5):
        order = order_place(
            user=buyer, service_id=service.pk, data={"link": f"https://x.com/c{attempt}", "quantity": service.min}
        ).order
        order_ids = [order.pk]
        outcomes = run_together(4, lambda _, ids=order_ids: cancel_request(user_id=buyer.pk, order_ids=ids)[0])
        assert sum(1 for outcome in outcomes if outcome.id) >= 1
        assert Order.objects.get(pk=order.pk).status == Status.CANCELED
        assert not CancelRequest.objects.filter(order=order).exclude(state=CancelRequest.State.DONE).exists()
    assert ledger_drift() == []


def test_a_queued_cancel_of_an_order_that_ended_meanwhile_is_closed(customer, make_service):
    service = make_service("Default", dripfeed=False, cancel=True)
    order = order_place(
        user=customer, service_id=service.pk, data={"link": "https://x.com/closed", "quantity": service.min}
    ).order
    cancel = CancelRequest.objects.create(order=order, user=customer)
    Order.objects.filter(pk=order.pk).update(status=Status.COMPLETED, remains=0)
    assert cancels_forward(cancel_ids=[cancel.pk]) == 0
    assert CancelRequest.objects.get(pk=cancel.pk).state == CancelRequest.State.REJECTED
