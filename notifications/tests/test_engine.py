"""The delivery engine: events recorded once with their action, deliveries sent once however
often (and however concurrently) their tasks run, retries with backoff for 24 hours, the sweeper."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from notifications import tasks
from notifications.models import Delivery, Event
from notifications.services import deliveries_sweep, delivery_send, event_dispatch, retry_delay
from panel.events import DomainEvent, emit
from testing.concurrency import run_together


def final_event(user_id: int, order_id: int = 42) -> DomainEvent:
    return DomainEvent(
        kind="order.final",
        key=f"order:{order_id}:final",
        user_id=user_id,
        data={"order": order_id, "status": "Partial", "charge": Decimal("2.5"), "refund": Decimal("0.75")},
    )


def test_an_event_raised_in_a_rolled_back_action_is_not_recorded(customer, django_capture_on_commit_callbacks):
    class Boom(Exception):
        pass

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(Boom), transaction.atomic():
        emit(final_event(customer.pk))
        raise Boom
    assert not Event.objects.exists()
    assert callbacks == []


def test_the_same_key_is_recorded_once(customer):
    emit(final_event(customer.pk))
    emit(final_event(customer.pk), final_event(customer.pk))
    event = Event.objects.get()
    assert event.key == "order:42:final" and event.public_id.startswith("evt_")
    # Decimals are stored as exact strings.
    assert event.data["charge"] == "2.5" and event.data["refund"] == "0.75"


def test_a_failure_to_record_never_breaks_the_action(customer):
    with transaction.atomic():
        emit(DomainEvent(kind="order.final", key="order:1:final", user_id=customer.pk, data={"x": object()}))
        # The caller's transaction is still usable after the failed insert.
        User.objects.filter(pk=customer.pk).update(timezone="Europe/Berlin")
    assert not Event.objects.exists()
    customer.refresh_from_db()
    assert customer.timezone == "Europe/Berlin"


def test_an_event_reaches_the_webhook_after_commit_signed(
    customer, endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        emit(final_event(customer.pk))
        assert receiver.requests == []  # nothing leaves before the action commits
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request["verified"], "the Standard Webhooks library accepts the signature"
    event = Event.objects.get()
    assert request["headers"]["webhook-id"] == event.public_id
    assert request["event"] == {
        "id": event.public_id,
        "type": "order.final",
        "timestamp": event.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {"order": 42, "status": "Partial", "charge": "2.5", "refund": "0.75"},
    }
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("sent", 1, 200)
    assert delivery.recipient == receiver.url


def test_dispatching_twice_makes_one_delivery_per_channel(customer, endpoint, receiver):
    emit(final_event(customer.pk))
    event = Event.objects.get()
    event_dispatch(event_id=event.pk)
    event_dispatch(event_id=event.pk)
    assert Delivery.objects.filter(event=event).count() == 1
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_event_tasks_run_twice_and_concurrently_deliver_once_per_channel(receiver):
    customer = User.objects.create(username="racer", email="racer@example.com")
    from notifications.services import preferences_save, webhook_endpoint_save

    _, receiver.secret = webhook_endpoint_save(user_id=customer.pk, url=receiver.url, kinds=[])
    preferences_save(user_id=customer.pk, choices={("order.final", "email"): True}, balance_threshold=None)
    receiver.delay = 0.2  # a slow receiver: the racing workers overlap while it answers
    keys = []
    for order_id in range(1, 4):
        # Recorded but not dispatched: no on_commit enqueue (as if the broker lost it).
        Event.objects.create(key=f"order:{order_id}:final", kind="order.final", user_id=customer.pk, data={})
        keys.append(f"order:{order_id}:final")

    run_together(6, lambda index: tasks.dispatch_events(keys))
    run_together(6, lambda index: [tasks.deliver(pk) for pk in Delivery.objects.values_list("pk", flat=True)])

    assert Delivery.objects.count() == 6  # 3 events x (webhook, email)
    assert set(Delivery.objects.values_list("state", flat=True)) == {"sent"}
    assert all(request["verified"] for request in receiver.requests)
    sent_ids = sorted(request["headers"]["webhook-id"] for request in receiver.requests)
    assert sent_ids == sorted(Event.objects.values_list("public_id", flat=True))
    assert len(mail.outbox) == 3


@pytest.mark.django_db(transaction=True)
def test_one_delivery_claimed_by_many_workers_at_once_is_sent_once(receiver):
    customer = User.objects.create(username="claims", email="")
    from notifications.services import webhook_endpoint_save

    _, receiver.secret = webhook_endpoint_save(user_id=customer.pk, url=receiver.url, kinds=[])
    receiver.delay = 0.3
    event = Event.objects.create(key="order:7:final", kind="order.final", user_id=customer.pk, data={})
    delivery = Delivery.objects.create(
        event=event, channel="webhook", user=customer, recipient=receiver.url, next_attempt_at=timezone.now()
    )
    results = run_together(8, lambda index: delivery_send(delivery_id=delivery.pk))
    assert sorted(results) == [""] * 7 + ["sent"]
    assert len(receiver.requests) == 1
    # And once sent, it is never sent again.
    assert delivery_send(delivery_id=delivery.pk) == ""
    assert len(receiver.requests) == 1


def test_failed_attempts_are_retried_with_backoff_until_the_receiver_answers(
    customer, endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.answers = [500, 503]
    with django_capture_on_commit_callbacks(execute=True):
        emit(final_event(customer.pk))
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
    assert delivery.last_error == "The receiver answered HTTP 500."
    first_wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=25) < first_wait <= timedelta(seconds=30)

    assert deliveries_sweep()["due"] == 0  # not due yet: nothing sent
    assert len(receiver.requests) == 1

    Delivery.objects.update(next_attempt_at=timezone.now())
    deliveries_sweep()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("pending", 2, 503)
    assert timedelta(seconds=115) < delivery.next_attempt_at - timezone.now() <= timedelta(seconds=120)

    Delivery.objects.update(next_attempt_at=timezone.now())
    deliveries_sweep()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status, delivery.last_error) == ("sent", 3, 200, "")
    assert len(receiver.requests) == 3
    assert all(request["verified"] for request in receiver.requests)
    # Every retry carries the same event ID, for the receiver to de-duplicate.
    assert len({request["headers"]["webhook-id"] for request in receiver.requests}) == 1


def test_backoff_grows_fourfold_up_to_eight_hours():
    assert [retry_delay(n).total_seconds() for n in range(1, 9)] == [
        30,
        120,
        480,
        1920,
        7680,
        28800,
        28800,
        28800,
    ]


def test_retries_stop_24_hours_after_the_event(customer, endpoint, receiver):
    receiver.answers = [500] * 10
    event = Event.objects.create(key="order:9:final", kind="order.final", user_id=customer.pk, data={})
    Event.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(hours=23, minutes=59, seconds=50))
    event_dispatch(event_id=event.pk)
    delivery = Delivery.objects.get()
    # The last try is at the deadline, not 30 s later.
    event.refresh_from_db()
    assert delivery.state == "pending"
    assert delivery.next_attempt_at == event.created_at + timedelta(hours=24)
    Event.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(hours=25))
    Delivery.objects.update(next_attempt_at=timezone.now())
    deliveries_sweep()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("failed", 2)
    deliveries_sweep()
    assert len(receiver.requests) == 2


def test_a_worker_that_died_mid_send_is_replaced_by_the_sweeper(customer, endpoint, receiver):
    event = Event.objects.create(key="order:5:final", kind="order.final", user_id=customer.pk, data={})
    delivery = Delivery.objects.create(
        event=event,
        channel="webhook",
        user=customer,
        state="sending",
        attempts=1,
        lease_until=timezone.now() - timedelta(seconds=1),
        next_attempt_at=timezone.now() - timedelta(minutes=3),
    )
    Event.objects.filter(pk=event.pk).update(dispatched_at=timezone.now())
    assert deliveries_sweep()["expired"] == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("sent", 2)
    assert len(receiver.requests) == 1


def test_an_event_whose_enqueue_was_lost_is_dispatched_by_the_sweeper(customer, endpoint, receiver):
    event = Event.objects.create(key="order:6:final", kind="order.final", user_id=customer.pk, data={})
    assert deliveries_sweep()["dispatched"] == 0  # too fresh: its own enqueue may still come
    Event.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    assert deliveries_sweep()["dispatched"] == 1
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert len(receiver.requests) == 1


def test_staff_events_go_to_the_staff_digest_not_one_by_one(db, settings, django_capture_on_commit_callbacks):
    settings.NOTIFY_STAFF_EMAILS = ["ops@example.com"]
    with django_capture_on_commit_callbacks(execute=True):
        emit(DomainEvent(kind="sync.failed", key="sync:1", data={"message": "Provider sim: timed out"}))
        emit(DomainEvent(kind="order.attention", key="order-event:5", data={"message": "Order 5: unknown outcome"}))
    assert Delivery.objects.filter(channel="staff_email", state="pending").count() == 2
    assert mail.outbox == []
    assert tasks.staff_digest() == 2
    assert tasks.staff_digest() == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ops@example.com"]
    assert "2 staff alerts" in message.subject
    assert "Provider sim: timed out" in message.body and "Order 5: unknown outcome" in message.body


def test_old_settled_events_are_purged_and_waiting_ones_kept(customer):
    old = timezone.now() - timedelta(days=91)
    settled = Event.objects.create(key="order:1:final", kind="order.final", user_id=customer.pk, data={})
    Delivery.objects.create(event=settled, channel="email", user=customer, state="sent", sent_at=old)
    waiting = Event.objects.create(key="order:2:final", kind="order.final", user_id=customer.pk, data={})
    Delivery.objects.create(event=waiting, channel="webhook", user=customer, state="pending", next_attempt_at=old)
    recent = Event.objects.create(key="order:3:final", kind="order.final", user_id=customer.pk, data={})
    Event.objects.filter(pk__in=[settled.pk, waiting.pk]).update(created_at=old)
    assert tasks.purge() == 1
    assert sorted(Event.objects.values_list("pk", flat=True)) == [waiting.pk, recent.pk]
    assert Delivery.objects.count() == 1


def test_the_beat_schedule_is_created_once_and_routed_to_the_notify_queue(db, settings):
    from django_celery_beat.models import PeriodicTask

    from notifications.schedules import DEFAULT_SCHEDULE, ensure_default_schedule
    from panel.celery import app

    ensure_default_schedule()
    ensure_default_schedule()
    names = {task for task, _ in DEFAULT_SCHEDULE.values()}
    assert set(PeriodicTask.objects.filter(task__in=names).values_list("task", flat=True)) == names
    assert PeriodicTask.objects.filter(task__in=names).count() == len(names)
    assert all(name in app.tasks for name in names)
    assert app.amqp.router.route({}, "notifications.deliver")["queue"].name == "notify"
    assert "notify" in [queue.name for queue in settings.CELERY_TASK_QUEUES]


def test_waiting_and_failed_deliveries_are_gauged(customer):
    from notifications.metrics import delivery_families

    event = Event.objects.create(key="order:8:final", kind="order.final", user_id=customer.pk, data={})
    Delivery.objects.create(event=event, channel="webhook", user=customer, next_attempt_at=timezone.now())
    Delivery.objects.create(event=event, channel="email", copy=0, user=customer, state="failed")
    rows, age = delivery_families()
    assert {tuple(sample.labels.values()): sample.value for sample in rows.samples} == {
        ("webhook", "pending"): 1,
        ("email", "failed"): 1,
    }
    assert age.samples[0].value >= 0


def test_a_delivery_whose_recipient_opted_out_meanwhile_ends_canceled_not_failed(customer):
    from notifications.models import Preference

    event = Event.objects.create(key="ticket-message:1", kind="ticket.answered", user_id=customer.pk, data={})
    delivery = Delivery.objects.create(event=event, channel="email", user=customer, next_attempt_at=timezone.now())
    Preference.objects.create(user=customer, kind="ticket.answered", channel="email", enabled=False)
    assert delivery_send(delivery_id=delivery.pk) == "canceled"
    assert mail.outbox == []
