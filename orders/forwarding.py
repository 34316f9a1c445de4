"""Forwarding an order to its provider: exactly one worker may send it, and never twice blindly.

queued -> sending (conditional UPDATE: one winner) -> the `add` call, outside any transaction ->
  sent (upstream ID kept) | rejected (Canceled + full refund) | queued again (not sent: retry with
  backoff) | unknown (may have been processed). An unknown outcome at a provider that honours
  idempotency keys (staff say so, or its answers advertise it) is sent again with the same key,
  with backoff, up to UNKNOWN_RESENDS sends: the provider answers with the order it already has
  or creates it once. At any other provider it needs attention and is never resent automatically.

A definite refusal (the service is switched off or unknown upstream, the provider is out of
funds, disabled in our panel, or its circuit is open) moves the order to the service's next
fallback and sends it there in the same task (orders.failover); only when no fallback can take
it does the refusal end as above. Never after an unknown outcome.
"""

import logging
from datetime import timedelta

from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from panel.events import DomainEvent, emit
from panel.observability import bind_log_context, current_context, log_context
from panel.tenancy import current_schema, is_child, scoped
from upstream.client import NotSent, Rejected, Unknown, UpstreamError
from upstream.client.errors import FUNDS, SERVICE
from upstream.models import Provider, resends_unknown_outcomes_q
from upstream.services import NoFreeSlot, provider_call

from .events import order_event
from .failover import CIRCUIT_OPEN, LOST, PROVIDER_DISABLED, Refusal, order_failover
from .metrics import FORWARD_OUTCOMES
from .models import ForwardState, Order, Status
from .settlement import order_settle
from .validation import upstream_params

logger = logging.getLogger(__name__)

BACKOFF_BASE = 5  # seconds; doubled per attempt with full jitter
BACKOFF_CAP = 600
SEND_LEASE = timedelta(minutes=5)
OUT_OF_FUNDS_RETRY = timedelta(minutes=5)
FIRST_POLL_AFTER = timedelta(seconds=10)
# Sends of one order, in all, after which an unknown outcome waits for staff even at a provider
# that honours idempotency keys (something is wrong beyond a lost answer).
UNKNOWN_RESENDS = 8
# Fallbacks one task sends to at most: each send may take the provider's read timeout, and the
# task has a time limit. An order moved this many times is queued where it now is; the sweeper
# enqueues it again within a minute.
MAX_MOVES_PER_TASK = 3


class CircuitBreaker:
    """Stops hammering a provider that is down, shared by every worker through the cache.

    Written here rather than taken from a library: pybreaker keeps its state per process (or needs
    its own Redis connection), and this one only has to count failures in the Django cache,
    which is Redis in production and local memory in the no-services demo.
    """

    THRESHOLD = 5  # consecutive "not sent" failures that open the circuit
    WINDOW = 120  # seconds in which they must happen
    OPEN_FOR = 30  # seconds the circuit stays open before one request may test the provider

    def __init__(self, provider_id: int):
        self.provider_id = provider_id
        self.fail_key = f"cb:fail:{provider_id}"
        self.open_key = f"cb:open:{provider_id}"

    def is_open(self) -> bool:
        return cache.get(self.open_key) is not None

    def failure(self) -> None:
        cache.add(self.fail_key, 0, timeout=self.WINDOW)
        try:
            count = cache.incr(self.fail_key)
        except ValueError:
            count = 1
        if count >= self.THRESHOLD:
            cache.set(self.open_key, 1, timeout=self.OPEN_FOR)
        if count == self.THRESHOLD:
            # Staff alert, at most once an hour per provider however often it opens.
            emit(
                DomainEvent(
                    kind="provider.failing",
                    key=f"provider:{self.provider_id}:circuit:{timezone.now():%Y-%m-%dT%H}",
                    data={
                        "provider": self.provider_id,
                        "message": f"Provider {self.provider_id}: {count} sends failed in a row; paused",
                    },
                )
            )

    def success(self) -> None:
        cache.delete_many([self.fail_key, self.open_key])


def _backoff(attempts: int) -> timedelta:
    seconds = get_exponential_backoff_interval(BACKOFF_BASE, attempts, BACKOFF_CAP, full_jitter=True)
    return timedelta(seconds=max(seconds, 1))


def _release(
    order_id: int, delay: timedelta, *, undo_attempt: bool = False, may_exist: bool = False, keep_mark: bool = False
) -> None:
    """Put a claimed order back, to be tried again after `delay`: queued, or, when an earlier
    send may have reached the provider (`may_exist`), unknown-and-resending, so that nothing
    treats it as never sent (a queued order can be canceled with a full refund). `keep_mark`
    queues it but keeps its "send started" mark: an earlier outcome was unknown, so it must
    never go to another provider (orders.failover)."""
    changes = {
        "forward_state": ForwardState.UNKNOWN if may_exist else ForwardState.QUEUED,
        "next_attempt_at": timezone.now() + delay,
        "lease_until": None,
    }
    if not may_exist and not keep_mark:
        changes["send_started_at"] = None
    if undo_attempt:
        changes["attempts"] = F("attempts") - 1
    Order.objects.filter(pk=order_id, forward_state=ForwardState.SENDING).update(**changes)


def upstream_idempotency_key(order_id: int) -> str:
    # A child panel's order IDs repeat the parent's, so its keys carry its schema (panel.tenancy).
    return scoped(f"{settings.PANEL_IDEMPOTENCY_PREFIX}-{order_id}", sep="-")


def order_forward(*, order_id: int) -> str:
    """Send one queued order to its provider. Safe to call twice or concurrently. Returns the outcome."""
    with log_context(order_id=order_id):
        outcome = _forward(order_id)
        FORWARD_OUTCOMES.labels(current_context().get("provider", "-"), outcome).inc()
    return outcome


# Orders whose `add` answer was lost at a provider that honours idempotency keys: sent again
# with the same key (by the sweeper's schedule) until the provider answers.
RESENDS_KEYS = resends_unknown_outcomes_q("provider__")
# An unknown order waiting to be resent is the only kind not waiting for staff. The claim reads
# only the order's own columns: a condition through a join would be a subquery, which
# PostgreSQL does not check again after waiting for the row lock (two workers could both win).
CLAIMABLE = Q(forward_state=ForwardState.QUEUED) | Q(forward_state=ForwardState.UNKNOWN, needs_attention=False)
RESENDING = Q(forward_state=ForwardState.UNKNOWN, needs_attention=False) & RESENDS_KEYS


def _unavailable(provider: Provider) -> Refusal | None:
    """Why a provider is not to be asked at all right now, or None."""
    if not provider.enabled:
        return Refusal(PROVIDER_DISABLED, f"{provider.name} is disabled in our panel")
    if CircuitBreaker(provider.pk).is_open():
        return Refusal(CIRCUIT_OPEN, f"{provider.name} failed {CircuitBreaker.THRESHOLD} times in a row")
    return None


def _forward(order_id: int) -> str:
    now = timezone.now()
    claimed = (
        Order.objects.filter(CLAIMABLE, pk=order_id, provider__isnull=False)
        .exclude(next_attempt_at__gt=now)
        .update(forward_state=ForwardState.SENDING, lease_until=now + SEND_LEASE, attempts=F("attempts") + 1)
    )
    if not claimed:
        return "skipped"
    order = Order.objects.select_related("service", "provider").get(pk=order_id)
    # Set by an earlier send whose outcome is unknown: the provider may have this order.
    may_exist = order.send_started_at is not None
    if may_exist and not order.provider.resends_unknown_outcomes:
        # Staff stopped trusting the provider's keys since: the order waits for them.
        bind_log_context(provider=order.provider.name)
        return _unknown(order, order.provider, Unknown("add", "an earlier answer was lost"))
    # One provider per pass; a definite refusal moves the order to the next fallback, which
    # the next pass sends to. Each move excludes what was tried, so the passes end.
    for moves in range(MAX_MOVES_PER_TASK + 1):
        if moves == MAX_MOVES_PER_TASK:
            # Moved, never sent to its new provider: queued there for the next task.
            _release(order.pk, timedelta(0), undo_attempt=True)
            return "deferred"
        provider: Provider = order.provider
        bind_log_context(provider=provider.name)
        refusal = _unavailable(provider)
        if refusal is None:
            outcome = _send(order, provider, may_exist)
            if isinstance(outcome, str):
                return outcome
            refusal = outcome
            if refusal.reason == FUNDS:
                # Staff top the provider up, whether or not a fallback takes this order.
                Provider.objects.filter(pk=provider.pk).update(
                    low_balance=True, last_error=f"add: {refusal.detail}"[:500]
                )
        # The order may already exist at a provider after an unknown outcome: never elsewhere.
        moved = (
            None
            if may_exist
            else order_failover(order=order, refusal=refusal, unavailable=_unavailable, lease=SEND_LEASE)
        )
        if moved is LOST:
            return "skipped"
        if moved is None:
            return _refused(order, provider, refusal, may_exist)
        logger.warning(
            "order %s provider %s: %s; failover to %s", order.pk, provider.name, refusal.detail, moved.provider.name
        )
        order = moved
    raise AssertionError("unreachable: the last pass returns")


def _send(order: Order, provider: Provider, may_exist: bool) -> str | Refusal:
    """Send the claimed order to `provider`: the outcome, or the definite refusal that may
    send it elsewhere."""
    params = upstream_params(order)

    def send(client) -> str:
        # From here on the request may reach the provider: the sweeper treats a lapsed lease
        # with this mark as "may have sent", never as "safe to resend".
        Order.objects.filter(pk=order.pk, forward_state=ForwardState.SENDING).update(send_started_at=timezone.now())
        key = upstream_idempotency_key(order.pk) if provider.send_idempotency_key else None
        return client.add(service=order.upstream_service_id, idempotency_key=key, **params)

    breaker = CircuitBreaker(provider.pk)
    try:
        upstream_id = provider_call(provider, "add", send, wait=10)
    except NoFreeSlot:
        _release(order.pk, timedelta(seconds=5), undo_attempt=True, may_exist=may_exist)
        return "deferred"
    except NotSent as exc:
        breaker.failure()
        delay = _backoff(order.attempts)
        _release(order.pk, delay, may_exist=may_exist)
        order_event(order.pk, "retry", f"Not sent ({exc.detail}); retrying in {int(delay.total_seconds())} s")
        logger.warning("order %s provider %s: not sent, retry in %s: %s", order.pk, provider.name, delay, exc)
        return "not_sent"
    except Rejected as exc:
        breaker.success()
        if exc.reason in (SERVICE, FUNDS):
            return Refusal(exc.reason, exc.message)
        return _rejected(order, provider, exc.message)
    except (Unknown, UpstreamError) as exc:
        return _unknown(order, provider, exc)
    breaker.success()
    if provider.funds_short_since is not None:
        # The shortage is over; the next one is told again.
        Provider.objects.filter(pk=provider.pk).update(funds_short_since=None)
    with transaction.atomic():
        # A sweeper may have moved a lapsed lease to `unknown` meanwhile; the answer still wins.
        Order.objects.filter(pk=order.pk, forward_state__in=[ForwardState.SENDING, ForwardState.UNKNOWN]).update(
            forward_state=ForwardState.SENT,
            upstream_order_id=upstream_id,
            lease_until=None,
            next_check_at=timezone.now() + FIRST_POLL_AFTER,
            needs_attention=False,
            attention_reason="",
            upstream_error="",
        )
        order_event(order.pk, "forwarded", f"Sent to {provider.name} as order {upstream_id}")
    logger.info("order %s provider %s: sent as %s", order.pk, provider.name, upstream_id)
    return "sent"


def _refused(order: Order, provider: Provider, refusal: Refusal, may_exist: bool) -> str:
    """A definite refusal no fallback took, handled as without fallbacks."""
    if refusal.reason in (PROVIDER_DISABLED, CIRCUIT_OPEN):
        _release(order.pk, timedelta(seconds=CircuitBreaker.OPEN_FOR), undo_attempt=True, may_exist=may_exist)
        return "deferred"
    if refusal.reason == FUNDS:
        return _out_of_funds(order, provider, refusal.detail, may_exist)
    return _rejected(order, provider, refusal.detail)


def _out_of_funds(order: Order, provider: Provider, message: str, may_exist: bool) -> str:
    # Our money at the provider ran out: the order is fine, the provider needs a top-up. A
    # provider that honours keys refuses a repeated key only if it does not have the order, so
    # it is queued as before; its mark stays, so that it is never sent anywhere else.
    _release(order.pk, OUT_OF_FUNDS_RETRY, undo_attempt=True, keep_mark=may_exist)
    if provider.is_parent:
        # A child panel: the money that ran out is its owner's balance on the parent panel.
        reason = (
            f"The panel owner's balance on the parent panel is too low for this order ({message}). "
            "Top it up on the parent panel: waiting orders are sent again every 5 minutes."
        )
    else:
        reason = f"Provider {provider.name} is out of funds: {message}"
    Order.objects.filter(pk=order.pk).update(needs_attention=True, attention_reason=reason)
    order_event(order.pk, "attention", f"Provider out of funds ({message}); waiting")
    logger.error("order %s provider %s: provider out of funds: %s", order.pk, provider.name, message)
    _funds_short(provider, message)
    return "provider_out_of_funds"


def _funds_short(provider: Provider, message: str) -> None:
    """Mark the start of the provider's shortage (once, however many orders and retries meet
    it) and, for a child panel whose provider is the parent, tell the panel's owner on the
    parent: one "childpanel.funds_short" event per shortage, which ends when the provider
    accepts an order again (_send)."""
    if provider.funds_short_since is not None:
        return
    now = timezone.now()
    if not (provider.is_parent and is_child()):
        Provider.objects.filter(pk=provider.pk, funds_short_since__isnull=True).update(funds_short_since=now)
        return
    # Only child panels (PostgreSQL) get here: the registry and django-tenants are not installed
    # on the single-panel SQLite demo.
    from django_tenants.utils import get_public_schema_name, schema_context

    from tenants.models import Panel

    schema = current_schema()
    # The mark (in the child's schema) and the event (in the parent's) commit together, so the
    # owner is told exactly once per shortage even if a worker dies in between. The transaction
    # is opened in the parent's schema: the event's dispatch is enqueued there after the commit.
    with schema_context(get_public_schema_name()), transaction.atomic():
        panel = Panel.objects.filter(schema_name=schema).values("name", "owner_id").first()
        with schema_context(schema):
            started = Provider.objects.filter(pk=provider.pk, funds_short_since__isnull=True).update(
                funds_short_since=now
            )
        if not started or panel is None or panel["owner_id"] is None:
            return
        emit(
            DomainEvent(
                kind="childpanel.funds_short",
                key=f"childpanel:{schema}:funds-short:{now.isoformat()}",
                user_id=panel["owner_id"],
                data={"panel": schema, "panel_name": panel["name"], "message": message[:500]},
            )
        )
    logger.warning("child panel %s: the owner's parent balance is too low (%s); owner told", schema, message)


def _rejected(order: Order, provider: Provider, message: str) -> str:
    with transaction.atomic():
        updated = Order.objects.filter(pk=order.pk, forward_state=ForwardState.SENDING).update(
            forward_state=ForwardState.REJECTED,
            status=Status.CANCELED,
            upstream_error=message,
            lease_until=None,
            completed_at=timezone.now(),
        )
        if updated:
            order_event(order.pk, "rejected", f"Rejected by {provider.name}: {message}")
    order_settle(order_id=order.pk)
    logger.warning("order %s provider %s: rejected: %s", order.pk, provider.name, message)
    return "rejected"


def _unknown(order: Order, provider: Provider, exc: UpstreamError) -> str:
    if provider.resends_unknown_outcomes and order.attempts < UNKNOWN_RESENDS:
        # The provider answers a repeated key with the order it already has (or creates it
        # once): sending again with the same key settles the doubt without risking a duplicate.
        delay = _backoff(order.attempts)
        _release(order.pk, delay, may_exist=True)
        seconds = int(delay.total_seconds())
        message = f"Outcome unknown ({exc.detail}); resending with the same idempotency key in {seconds} s"
        order_event(order.pk, "retry", message, data={"error": exc.detail[:2000]})
        logger.warning("order %s provider %s: %s", order.pk, provider.name, message)
        return "resend"
    reason = f"The provider may have received this order ({exc.detail}). Check it at {provider.name} before resending."
    Order.objects.filter(pk=order.pk, forward_state=ForwardState.SENDING).update(
        forward_state=ForwardState.UNKNOWN,
        lease_until=None,
        needs_attention=True,
        attention_reason=reason,
        upstream_error=exc.detail[:2000],
    )
    order_event(order.pk, "attention", reason, data={"error": exc.detail[:2000]})
    logger.error("order %s provider %s: unknown outcome: %s", order.pk, provider.name, exc.detail)
    return "unknown"
