"""panel.db: the prepared, server-bound cursor and bulk_insert."""

import pytest
from django.db import DataError, IntegrityError, connection, transaction

from accounts.models import User
from notifications.models import Event
from orders.models import OrderEvent
from orders.placement import order_place
from panel.db import bulk_insert, prepared_cursor

pytestmark = pytest.mark.django_db


def prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_statements_are_prepared_once_and_bound_in_binary():
    for value in (1, 2, 3):
        with prepared_cursor() as cursor:
            cursor.execute("SELECT %b::bigint[] || %b::bigint", [[value, None], value])
            assert cursor.fetchone()[0] == [value, None, value]
    assert len([s for s in prepared() if "|| $2::bigint" in s]) == 1


def test_nothing_is_prepared_when_prepared_statements_are_off():
    raw = connection.connection
    threshold, raw.prepare_threshold = raw.prepare_threshold, None
    try:
        with prepared_cursor() as cursor:
            cursor.execute("SELECT %s::int + 40", [2])
            assert cursor.fetchone()[0] == 42
        assert not [s for s in prepared() if "+ 40" in s]
    finally:
        raw.prepare_threshold = threshold


def test_bulk_insert_is_bulk_create():
    user = User.objects.create(username="bulk-insert")
    rows = [Event(key=f"k{i}", kind="order.final", user_id=user.pk, data={"n": i}) for i in range(3)]
    bulk_insert(Event, rows, ignore_conflicts=True)
    # Defaults and auto_now_add as bulk_create applies them.
    stored = list(Event.objects.filter(key__startswith="k").order_by("key"))
    assert [(e.key, e.data, e.public_id == r.public_id) for e, r in zip(stored, rows, strict=True)] == [
        ("k0", {"n": 0}, True),
        ("k1", {"n": 1}, True),
        ("k2", {"n": 2}, True),
    ]
    assert all(e.created_at is not None for e in stored)
    # A conflicting key is skipped with ignore_conflicts, refused without it.
    bulk_insert(Event, [Event(key="k1", kind="order.final")], ignore_conflicts=True)
    assert Event.objects.filter(key="k1").count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk_insert(Event, [Event(key="k1", kind="order.final")])


def test_bulk_insert_sets_primary_keys_and_refuses_what_the_column_refuses(customer, make_service):
    service = make_service("Default", dripfeed=False)
    order = order_place(
        user=customer, service_id=service.pk, data={"link": "https://x.com/b", "quantity": service.min}
    ).order
    events = [OrderEvent(order_id=order.pk, kind="status", message=f"m{i}") for i in range(4)]
    bulk_insert(OrderEvent, events)
    assert [e.pk for e in events] == list(
        OrderEvent.objects.filter(order_id=order.pk, message__startswith="m")
        .order_by("id")
        .values_list("id", flat=True)
    )
    # Too long for the column: refused as an INSERT refuses it, never cut short.
    with pytest.raises(DataError), transaction.atomic():
        bulk_insert(Event, [Event(key="x" * 201, kind="order.final")])
