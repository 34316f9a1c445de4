"""Polling order statuses in batches of 100, the protocol's limit.

A pass claims due orders per provider in batches (SELECT ... FOR UPDATE SKIP LOCKED, then pushing
their next_check_at out as a lease), so overlapping passes and several machines never poll the
same order twice. Each batch is one `status` call and one bulk write of what changed. Missing
IDs and per-ID errors carry no information: the order is simply checked again later.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, DateTimeField, Value, When
from django.utils import timezone

from panel.db import bulk_insert, prepared_cursor
from panel.health import heartbeat
from panel.observability import bind_log_context, log_context
from upstream.client import UpstreamError, normalize_status
from upstream.models import Provider
from upstream.services import provider_call

from .events import order_status_notify, orders_final_notify
from .metrics import POLL_BATCHES, POLL_ORDERS_CHANGED
from .models import ACTIVE_STATUSES, FINAL_STATUSES, CancelRequest, ForwardState, Order, OrderEvent, Status
from .settlement import final_remains, order_settle, orders_settle, settle_locked

logger = logging.getLogger(__name__)

BATCH = 100
POLL_FIELDS = (
    "id",
    "user",
    "quantity",
    "runs",
    "upstream_order_id",
    "status",
    "start_count",
    "remains",
    "cost_actual",
    "upstream_runs",
    "upstream_posts",
    "provider_id",
    "last_checked_at",
    "completed_at",
    # What settling a final order in the same transaction reads, and its "order final" notice.
    "charge",
    "refunded",
    "needs_attention",
    "link",
    "service",
)
# What the provider's answer changes.
ANSWERED_COLUMNS = (
    ("status", "varchar"),
    ("start_count", "bigint"),
    ("remains", "bigint"),
    ("cost_actual", "numeric"),
    ("upstream_runs", "integer"),
    ("upstream_posts", "integer"),
)
WRITE_COLUMNS = (*ANSWERED_COLUMNS, ("last_checked_at", "timestamptz"), ("completed_at", "timestamptz"))

# What a poll's write compares before writing: the order is still where the answer was asked.
READ_COLUMNS = (*ANSWERED_COLUMNS, ("upstream_order_id", "varchar"), ("provider_id", "bigint"))

_TABLE = Order._meta.db_table
# The batch's rows, locked in ID order, with what the compare needs and what settling reads.
LOCK_SQL = (
    f"SELECT id, forward_state, refunded, needs_attention, charge, {', '.join(n for n, _ in READ_COLUMNS)} "  # noqa: S608
    f"FROM {_TABLE} WHERE id = ANY(%b::bigint[]) ORDER BY id FOR UPDATE"
)
# Answers, completion, and (for the orders settled with them) the refunded total and settled time.
_WRITTEN = (("id", "bigint"), *ANSWERED_COLUMNS, ("completed_at", "timestamptz"), ("refunded", "numeric"))
WRITE_SQL = (
    f"UPDATE {_TABLE} AS o SET "  # noqa: S608
    + ", ".join(f"{name} = v.{name}" for name, _ in _WRITTEN[1:-1])
    + ", refunded = coalesce(v.refunded, o.refunded), settled_at = coalesce(v.settled_at, o.settled_at), "
    "last_checked_at = %s, updated_at = %s "
    "FROM unnest("
    + ", ".join(f"%b::{kind}[]" for _, kind in (*_WRITTEN, ("settled_at", "timestamptz")))
    + f") AS v({', '.join(name for name, _ in _WRITTEN)}, settled_at) WHERE o.id = v.id"
)


# Young orders are checked often, old ones rarely: (younger than, check again after N x base).
SCHEDULE = ((timedelta(minutes=10), 1), (timedelta(hours=1), 4), (timedelta(hours=24), 20))
SCHEDULE_DEFAULT = 60


def next_check_delay(age: timedelta) -> timedelta:
    base = settings.ORDER_POLL_MIN_SECONDS
    for younger_than, factor in SCHEDULE:
        if age < younger_than:
            return timedelta(seconds=base * factor)
    return timedelta(seconds=base * SCHEDULE_DEFAULT)


def claim_batch(provider_id: int, *, now=None) -> list[int]:
    """Claim up to 100 due orders of one provider; returns their IDs.

    Claiming sets each order's next check time by its age, in the same UPDATE: that is both the
    lease (a pass running meanwhile skips them) and the schedule, so an order whose answer
    brings nothing new needs no further write. On PostgreSQL one prepared statement (CLAIM_SQL);
    a pass claims a thousand batches one after another, so each claim's cost adds up.
    """
    now = now or timezone.now()
    base = settings.ORDER_POLL_MIN_SECONDS
    if connection.vendor == "postgresql":
        cases = [
            when
            for younger_than, factor in SCHEDULE
            for when in (now - younger_than, now + timedelta(seconds=base * factor))
        ]
        with prepared_cursor() as cursor:
            default = now + timedelta(seconds=base * SCHEDULE_DEFAULT)
            cursor.execute(CLAIM_SQL, [*cases, default, provider_id, now])
            return sorted(row[0] for row in cursor.fetchall())
    schedule = Case(
        *[
            When(created_at__gt=now - younger_than, then=Value(now + timedelta(seconds=base * factor)))
            for younger_than, factor in SCHEDULE
        ],
        default=Value(now + timedelta(seconds=base * SCHEDULE_DEFAULT)),
        output_field=DateTimeField(),
    )
    with transaction.atomic():
        ids = list(
            Order.objects.select_for_update(skip_locked=True)
            .filter(
                provider_id=provider_id,
                forward_state=ForwardState.SENT,
                status__in=ACTIVE_STATUSES,
                next_check_at__lte=now,
            )
            .order_by("next_check_at")
            .values_list("id", flat=True)[:BATCH]
        )
        if ids:
            Order.objects.filter(id__in=ids).update(next_check_at=schedule)
    return ids


# claim_batch on PostgreSQL: one statement picks, locks and reschedules a batch. The state and
# statuses are written out (constants of ours, never input) so that the planner proves the
# partial index order_poll_due usable for every execution of the prepared statement; the times
# and the provider are parameters.
_WHENS = " ".join("WHEN created_at > %b THEN %b" for _ in SCHEDULE)
_ACTIVE = ", ".join(f"'{status}'" for status in ACTIVE_STATUSES)
CLAIM_SQL = (
    f"UPDATE {_TABLE} SET next_check_at = CASE {_WHENS} ELSE %b END "  # noqa: S608
    f"WHERE id IN (SELECT id FROM {_TABLE} WHERE provider_id = %b AND forward_state = '{ForwardState.SENT}' "
    f"AND status IN ({_ACTIVE}) AND next_check_at <= %b "
    f"ORDER BY next_check_at LIMIT {BATCH} FOR UPDATE SKIP LOCKED) RETURNING id"
)


@dataclass
class PassResult:
    batches: int = 0
    orders: int = 0


def poll_pass(*, enqueue, max_batches: int | None = None) -> PassResult:
    """Claim every due batch of every enabled provider and hand each to `enqueue(provider_id, ids)`."""
    result = PassResult()
    now = timezone.now()
    for provider_id in Provider.objects.filter(enabled=True).values_list("id", flat=True):
        while max_batches is None or result.batches < max_batches:
            ids = claim_batch(provider_id, now=now)
            if not ids:
                break
            enqueue(provider_id, ids)
            result.batches += 1
            result.orders += len(ids)
    heartbeat("poll")
    return result


def _values(order: Order, columns) -> tuple:
    return tuple(getattr(order, name) for name, _ in columns)


def _charge_in_panel_currency(charge: Decimal | None, provider: Provider) -> Decimal | None:
    if charge is None:
        return None
    return (charge * provider.exchange_rate).quantize(settings.MONEY_PLACES, rounding=ROUND_HALF_UP)


def poll_batch(*, provider_id: int, order_ids: list[int]) -> int:
    """One `status` call for up to 100 orders and one bulk write of the changes. Returns changes."""
    with log_context():
        return _poll_batch(provider_id, order_ids)


def _poll_batch(provider_id: int, order_ids: list[int]) -> int:
    provider = Provider.objects.get(pk=provider_id)
    bind_log_context(provider=provider.name)
    orders = list(
        Order.objects.filter(id__in=order_ids, forward_state=ForwardState.SENT, status__in=ACTIVE_STATUSES).only(
            *POLL_FIELDS
        )
    )
    if not orders:
        return 0
    try:
        upstream_ids = [o.upstream_order_id for o in orders]
        answers = provider_call(provider, "status", lambda client: client.statuses(upstream_ids))
    except UpstreamError as exc:
        # No information: the lease lapses and the orders are claimed again by a later pass.
        logger.warning("provider %s: status of %d orders failed: %s", provider.name, len(orders), exc)
        POLL_BATCHES.labels(provider.name, "failed").inc()
        return 0
    POLL_BATCHES.labels(provider.name, "ok").inc()

    now = timezone.now()
    # What each order held when read, before the provider was called: the write's condition.
    read = {order.pk: _values(order, READ_COLUMNS) for order in orders}
    changed: list[Order] = []
    events: list[OrderEvent] = []
    finals: list[int] = []
    for order in orders:
        answer = answers.get(order.upstream_order_id)
        if answer is None or answer.error:
            continue
        before = read[order.pk]
        order.status = normalize_status(answer.status) or order.status
        if answer.start_count is not None:
            order.start_count = answer.start_count
        order.cost_actual = _charge_in_panel_currency(answer.charge, provider) or order.cost_actual
        order.upstream_runs = answer.runs if answer.runs is not None else order.upstream_runs
        order.upstream_posts = answer.posts if answer.posts is not None else order.upstream_posts
        if order.status in FINAL_STATUSES:
            order.remains = final_remains(order, reported=answer.remains)
        elif answer.remains is not None:
            order.remains = max(answer.remains, 0)
        if _values(order, READ_COLUMNS) == before:
            continue
        order.last_checked_at = now
        if order.status in FINAL_STATUSES:
            order.completed_at = now
            finals.append(order.pk)
        if order.status != before[0]:
            events.append(
                OrderEvent(
                    order_id=order.pk,
                    kind="status",
                    message=f"{before[0]} -> {order.status}",
                    data={"start_count": order.start_count, "remains": order.remains},
                )
            )
        changed.append(order)
    if not changed:
        return 0
    read = {order.pk: read[order.pk] for order in changed}
    if connection.vendor == "postgresql":
        try:
            written, unsettled = _write_settling(changed, read=read, events=events, now=now, settle=True)
        except Exception:
            # Nothing of the batch was written: write the answers alone, then settle the finals
            # on their own (orders_settle falls back to one by one), as the SQLite demo does.
            logger.exception("provider %s: writing and settling a batch together failed", provider.name)
            written, unsettled = _write_settling(changed, read=read, events=events, now=now, settle=False)
    else:
        written, unsettled = _write_one_by_one(changed, read=read, events=events)
    if len(written) < len(changed):
        logger.info(
            "provider %s: %d orders changed meanwhile; their answer was dropped",
            provider.name,
            len(changed) - len(written),
        )
    POLL_ORDERS_CHANGED.labels(provider.name).inc(len(written))
    # Finals not settled with the write (a Partial without remains, which waits for staff, or
    # any final order when settling together failed): the same rule, in a transaction of theirs.
    orders_settle(order_ids=unsettled)
    return len(written)


def _write_settling(
    orders: list[Order], *, read: dict[int, tuple], events: list[OrderEvent], now, settle: bool
) -> tuple[set[int], list[int]]:
    """PostgreSQL: the batch's answers and the refunds of the orders they end, in one transaction.

    The batch's orders are locked in ID order (as every settlement locks them) and re-read: an
    order is written only if it is still sent, with the upstream ID and provider it had, and every
    polled field still holds what was read before the provider was called; a staff decision
    (mark final, resend, move) or another writer that got there meanwhile wins, and the provider's
    older answer is dropped. The final orders among those written are settled under the same
    locks (orders.settlement.settle_locked: one ledger entry per refund, the same keys as
    order_settle, so still exactly once), and one UPDATE writes the answers, the refunded totals
    and the settled times together: each order's row is written once per poll instead of twice,
    with one commit. The statements have a constant text (arrays, not a row of parameters per
    order), prepared and bound on the server in binary (panel.db.prepared_cursor): no array is
    quoted element by element.

    Returns the IDs written and the final orders left for orders_settle.
    """
    by_id = {order.pk: order for order in orders}
    with transaction.atomic():
        with prepared_cursor() as cursor:
            cursor.execute(LOCK_SQL, [sorted(by_id)])
            current = cursor.fetchall()
        written: list[Order] = []
        for pk, forward_state, refunded, needs_attention, charge, *held in current:
            order = by_id[pk]
            if forward_state != ForwardState.SENT or tuple(held) != read[pk]:
                continue
            order.refunded, order.needs_attention, order.charge = refunded, needs_attention, charge
            written.append(order)
        if not written:
            return set(), []
        finals = [order for order in written if order.status in FINAL_STATUSES]
        # A Partial without remains is settled by orders_settle, which flags it for staff.
        settling = [o for o in finals if not (o.status == Status.PARTIAL and o.remains is None)] if settle else []
        settled, refund_rows, moved = settle_locked(settling, now=now)
        settled_ids = {order.pk for order in settled}
        with prepared_cursor() as cursor:
            cursor.execute(
                WRITE_SQL,
                [
                    now,
                    now,
                    [order.pk for order in written],
                    *([getattr(order, name) for order in written] for name, _ in ANSWERED_COLUMNS),
                    [order.completed_at for order in written],
                    [order.refunded if order.pk in settled_ids else None for order in written],
                    [now if order.pk in settled_ids else None for order in written],
                ],
            )
        written_ids = {order.pk for order in written}
        rows = [event for event in events if event.order_id in written_ids]
        if rows or refund_rows:
            bulk_insert(OrderEvent, [*rows, *refund_rows])
        if rows:
            order_status_notify(rows, by_id, {pk: read[pk][0] for pk in written_ids})
        if settled:
            orders_final_notify([(order, order.refunded) for order in settled])
        _cancels_done([order.pk for order in finals])
    for order_id, delta in moved.items():
        logger.info("order %s settled: refunded %s", order_id, delta)
    return written_ids, [order.pk for order in finals if order.pk not in settled_ids]


def _write_one_by_one(
    orders: list[Order], *, read: dict[int, tuple], events: list[OrderEvent]
) -> tuple[set[int], list[int]]:
    """The SQLite demo's write: the same compare-and-set, order by order; finals settled after."""
    fields = [name for name, _ in WRITE_COLUMNS]
    with transaction.atomic():
        written = set()
        for order in orders:
            if _unchanged(order, read[order.pk]).update(
                **{name: getattr(order, name) for name in fields}, updated_at=order.last_checked_at
            ):
                written.add(order.pk)
        rows = [event for event in events if event.order_id in written]
        if rows:
            OrderEvent.objects.bulk_create(rows, batch_size=BATCH)
            order_status_notify(rows, {o.pk: o for o in orders}, {pk: read[pk][0] for pk in written})
    finals = [order.pk for order in orders if order.pk in written and order.status in FINAL_STATUSES]
    _cancels_done(finals)
    return written, finals


def _cancels_done(order_ids: list[int]) -> None:
    """Cancels the provider confirmed are done once their orders are final."""
    if order_ids:
        CancelRequest.objects.filter(order_id__in=order_ids, state=CancelRequest.State.CONFIRMED).update(
            state=CancelRequest.State.DONE
        )


def _unchanged(order: Order, values: tuple):
    return Order.objects.filter(
        pk=order.pk,
        forward_state=ForwardState.SENT,
        **dict(zip((name for name, _ in READ_COLUMNS), values, strict=True)),
    )


def order_recheck(*, order_id: int) -> Order:
    """Ask the provider about one order now (staff's "re-check status")."""
    order = Order.objects.get(pk=order_id)
    if order.forward_state == ForwardState.SENT and order.status not in FINAL_STATUSES:
        poll_batch(provider_id=order.provider_id, order_ids=[order.pk])
    elif order.status in FINAL_STATUSES:
        order_settle(order_id=order.pk)
    order.refresh_from_db()
    return order
