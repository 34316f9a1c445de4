"""Recording events, fanning them out to deliveries, and sending each delivery once.

The path of one event:

1. `event_record` (the receiver of panel.events.emit) inserts it with ON CONFLICT DO NOTHING on
   its key, inside the raising action's transaction, and enqueues `dispatch` after commit.
2. `event_dispatch` creates its deliveries (unique per event, channel and copy) from the
   customer's endpoint and preferences, and enqueues one `deliver` task per delivery.
3. `delivery_send` claims the delivery with a conditional UPDATE (pending and due -> sending);
   only the worker whose UPDATE matched calls the channel, outside any transaction. Success is
   final; a failure is retried with exponential backoff until 24 hours after the event.
4. `deliveries_sweep` (beat) re-enqueues due deliveries, dispatches events whose enqueue was
   lost, and puts back deliveries whose worker died mid-send (their lease ran out).
"""

import hashlib
import logging
import secrets
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone, translation
from django.utils.translation import gettext

from panel.db import bulk_insert
from panel.events import DomainEvent
from panel.i18n import language_valid
from panel.tenancy import panel_currency
from site_pages.selectors import brand

from .channels import Outcome, telegram
from .channels.email import EmailChannel, customer_language
from .channels.email import staff_digest as email_digest
from .channels.webhook import WebhookChannel, display_url, webhook_url_check
from .kinds import CUSTOMER, KINDS
from .models import (
    CustomerSettings,
    Delivery,
    Event,
    Preference,
    TelegramBot,
    TelegramLink,
    WebhookEndpoint,
    new_webhook_secret,
)
from .queue import DELIVER, DISPATCH, enqueue
from .selectors import preference_enabled

logger = logging.getLogger(__name__)

CHANNELS = {
    Delivery.Channel.WEBHOOK: WebhookChannel(),
    Delivery.Channel.EMAIL: EmailChannel(),
    Delivery.Channel.TELEGRAM: telegram.TelegramChannel(),
}
# Sent in batches by their own task, never one by one.
DIGESTS = {Delivery.Channel.STAFF_EMAIL: email_digest, Delivery.Channel.STAFF_TELEGRAM: telegram.staff_digest}
DIGEST_CHANNELS = tuple(DIGESTS)
# How long a worker may hold a delivery before the sweeper assumes it died.
LEASE = timedelta(minutes=2)
# First retry after 30 s, then four times longer each time, at most 8 hours apart.
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 8 * 3600


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt."""
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 4 ** max(attempts - 1, 0), MAX_RETRY_SECONDS))


# --- 1. Recording ----------------------------------------------------------------------------


def event_record(*, events: tuple[DomainEvent, ...]) -> None:
    """Insert the events (each key once) in the caller's transaction; dispatch them after commit.

    Never raises: a notification must not roll back or break the action that raised it. The
    insert runs in a savepoint, so a failure here leaves the caller's transaction usable.
    """
    try:
        with transaction.atomic():
            events = _wanted(events)
            rows = [
                Event(key=event.key[:200], kind=event.kind, user_id=event.user_id, data=event.data or {})
                for event in events
            ]
            if not rows:
                return
            bulk_insert(Event, rows, ignore_conflicts=True)
    except Exception:
        logger.exception("notifications: could not record events %s", [event.key for event in events])
        return
    keys = [row.key for row in rows]
    transaction.on_commit(lambda: enqueue(DISPATCH, keys))


def _wanted(events: tuple[DomainEvent, ...]) -> list[DomainEvent]:
    """The events worth recording: those that only a webhook can carry ("order.status", one per
    polled change) are kept for customers whose endpoint takes them, and dropped for the rest
    with one read instead of an insert each."""
    webhook_only = {event.user_id for event in events if event.kind in KINDS and KINDS[event.kind].webhook_only}
    if not webhook_only:
        return list(events)
    endpoints = dict(
        WebhookEndpoint.objects.filter(user_id__in=webhook_only, enabled=True).values_list("user_id", "kinds")
    )
    return [
        event
        for event in events
        if not (event.kind in KINDS and KINDS[event.kind].webhook_only)
        or (event.user_id in endpoints and (not endpoints[event.user_id] or event.kind in endpoints[event.user_id]))
    ]


def on_raised(sender, events, **kwargs) -> None:
    event_record(events=events)


# --- 2. Dispatching --------------------------------------------------------------------------


def _deliveries_for(event: Event) -> list[Delivery]:
    spec = KINDS.get(event.kind)
    if spec is None:
        logger.warning("notifications: event %s has an unknown kind %s", event.key, event.kind)
        return []
    rows: list[Delivery] = []
    if spec.audience != CUSTOMER:
        if settings.NOTIFY_STAFF_EMAILS:
            rows.append(Delivery(channel=Delivery.Channel.STAFF_EMAIL, recipient="staff list"))
        config = telegram.bot()
        if config is not None and config.staff_chat_id:
            rows.append(Delivery(channel=Delivery.Channel.STAFF_TELEGRAM, recipient=config.staff_chat_id))
        return rows
    if event.user_id is None:
        return rows
    user = event.user
    if spec.webhook:
        endpoint = WebhookEndpoint.objects.filter(user_id=user.pk).first()
        if endpoint is not None and endpoint.wants(event.kind):
            rows.append(Delivery(channel=Delivery.Channel.WEBHOOK, recipient=display_url(endpoint.url)))
    if (
        spec.email
        and user.email
        and preference_enabled(user_id=user.pk, kind=event.kind, channel=Delivery.Channel.EMAIL)
    ):
        rows.append(Delivery(channel=Delivery.Channel.EMAIL, recipient=user.email[:255]))
    if spec.telegram and telegram.bot() is not None:
        link = TelegramLink.objects.filter(user_id=user.pk).exclude(chat_id="").first()
        if link is not None and preference_enabled(user_id=user.pk, kind=event.kind, channel=Delivery.Channel.TELEGRAM):
            rows.append(Delivery(channel=Delivery.Channel.TELEGRAM, recipient=link.telegram_username or link.chat_id))
    return rows


def event_dispatch(*, event_id: int) -> list[int]:
    """Create the event's deliveries (once) and enqueue those due. Safe to run twice.

    Returns the IDs of the deliveries enqueued.
    """
    event = Event.objects.select_related("user").get(pk=event_id)
    now = timezone.now()
    rows = _deliveries_for(event)
    for row in rows:
        row.event = event
        row.user_id = event.user_id
        row.next_attempt_at = now
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    Event.objects.filter(pk=event.pk, dispatched_at__isnull=True).update(dispatched_at=now)
    due = list(
        Delivery.objects.filter(event=event, state=Delivery.State.PENDING, next_attempt_at__lte=now)
        .exclude(channel__in=DIGEST_CHANNELS)
        .values_list("pk", flat=True)
    )
    for delivery_id in due:
        enqueue(DELIVER, delivery_id)
    return due


def events_dispatch(*, keys: list[str]) -> None:
    for event_id in Event.objects.filter(key__in=keys).values_list("pk", flat=True):
        try:
            event_dispatch(event_id=event_id)
        except Exception:
            logger.exception("notifications: dispatching event %s failed; the sweeper retries", event_id)


# --- 3. Sending ------------------------------------------------------------------------------


def _claim(delivery_ids: list[int], now) -> int:
    return Delivery.objects.filter(pk__in=delivery_ids, state=Delivery.State.PENDING, next_attempt_at__lte=now).update(
        state=Delivery.State.SENDING, attempts=F("attempts") + 1, lease_until=now + LEASE
    )


def _finish(delivery_ids: list[int], outcome: Outcome, *, event_created_at, attempts: int) -> str:
    now = timezone.now()
    sending = Delivery.objects.filter(pk__in=delivery_ids, state=Delivery.State.SENDING)
    if outcome.ok:
        sending.update(
            state=Delivery.State.SENT, sent_at=now, lease_until=None, last_error="", last_status=outcome.status
        )
        return Delivery.State.SENT
    deadline = event_created_at + timedelta(hours=settings.NOTIFY_RETRY_HOURS)
    error = outcome.error[:500]
    if outcome.retry and now < deadline:
        sending.update(
            state=Delivery.State.PENDING,
            next_attempt_at=min(now + retry_delay(attempts), deadline),
            lease_until=None,
            last_error=error,
            last_status=outcome.status,
        )
        return Delivery.State.PENDING
    final = Delivery.State.CANCELED if outcome.canceled else Delivery.State.FAILED
    sending.update(state=final, lease_until=None, last_error=error, last_status=outcome.status)
    return final


def delivery_send(*, delivery_id: int) -> str:
    """Send one delivery if it is due and nobody else holds it. Returns its state afterwards,
    or "" when this call did not claim it (sent already, not due, or another worker has it)."""
    now = timezone.now()
    if not _claim([delivery_id], now):
        return ""
    delivery = Delivery.objects.select_related("event", "user").get(pk=delivery_id)
    channel = CHANNELS.get(delivery.channel)
    if channel is None:
        outcome = Outcome(False, f"No sender for channel {delivery.channel}.", retry=False)
    else:
        try:
            outcome = channel.notify(delivery)
        except Exception as exc:
            # A bug of ours, not the receiver's answer: logged in full, recorded by type only.
            logger.exception("notifications: delivery %s raised", delivery_id)
            outcome = Outcome(False, f"Internal error ({type(exc).__name__}).")
    state = _finish([delivery_id], outcome, event_created_at=delivery.event.created_at, attempts=delivery.attempts)
    if state != Delivery.State.SENT:
        logger.info("notifications: delivery %s %s: %s", delivery_id, state, outcome.error)
    return state


def staff_digest_send(channel: str = Delivery.Channel.STAFF_EMAIL) -> int:
    """Send every pending staff alert of `channel` as one message (an email to the staff list, or
    one Telegram message to the staff chat). Returns how many alerts went.

    Claimed like single deliveries (pending -> sending, only the rows this UPDATE matched), so two
    digests running at once never mail the same alert twice.
    """
    now = timezone.now()
    with transaction.atomic():
        # SKIP LOCKED: a digest running at the same time takes other rows or none, never these.
        ids = list(
            Delivery.objects.filter(channel=channel, state=Delivery.State.PENDING, next_attempt_at__lte=now)
            .select_for_update(skip_locked=True)
            .order_by("id")
            .values_list("pk", flat=True)[:500]
        )
        Delivery.objects.filter(pk__in=ids, state=Delivery.State.PENDING).update(
            state=Delivery.State.SENDING, attempts=F("attempts") + 1, lease_until=now + LEASE
        )
    if not ids:
        return 0
    mine = list(
        Delivery.objects.filter(pk__in=ids, state=Delivery.State.SENDING)
        .select_related("event")
        .order_by("event__created_at")
    )
    try:
        outcome = DIGESTS[channel]([delivery.event for delivery in mine])
    except Exception as exc:
        logger.exception("notifications: staff digest raised")
        outcome = Outcome(False, f"Internal error ({type(exc).__name__}).")
    oldest = min(delivery.event.created_at for delivery in mine)
    attempts = max(delivery.attempts for delivery in mine)
    _finish([delivery.pk for delivery in mine], outcome, event_created_at=oldest, attempts=attempts)
    return len(mine) if outcome.ok else 0


# --- 4. Sweeping -----------------------------------------------------------------------------


def deliveries_sweep() -> dict[str, int]:
    """Beat: put back deliveries whose worker died, dispatch events whose enqueue was lost, and
    enqueue deliveries that are due (retries)."""
    now = timezone.now()
    expired = Delivery.objects.filter(state=Delivery.State.SENDING, lease_until__lt=now).update(
        state=Delivery.State.PENDING, next_attempt_at=now, lease_until=None
    )
    stale = now - timedelta(seconds=30)
    lost = list(
        Event.objects.filter(dispatched_at__isnull=True, created_at__lt=stale).values_list("key", flat=True)[:1000]
    )
    if lost:
        events_dispatch(keys=lost)
    due = list(
        Delivery.objects.filter(state=Delivery.State.PENDING, next_attempt_at__lte=now)
        .exclude(channel__in=DIGEST_CHANNELS)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:1000]
    )
    for delivery_id in due:
        enqueue(DELIVER, delivery_id)
    return {"expired": expired, "dispatched": len(lost), "due": len(due)}


# Events (and their deliveries) are kept this long, then purged by beat once nothing waits.
KEEP_DAYS = 90


def events_purge(*, batch: int = 1000) -> int:
    """Beat (daily): delete events older than KEEP_DAYS whose deliveries are all settled, in
    batches. Returns how many events went."""
    cutoff = timezone.now() - timedelta(days=KEEP_DAYS)
    waiting = Delivery.objects.filter(state__in=[Delivery.State.PENDING, Delivery.State.SENDING])
    total = 0
    while True:
        ids = list(
            Event.objects.filter(created_at__lt=cutoff)
            .exclude(pk__in=waiting.values("event_id"))
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return total
        Event.objects.filter(pk__in=ids).delete()
        total += len(ids)


def deliveries_retry(*, delivery_ids: list[int]) -> int:
    """Staff: try failed deliveries once more, now (sent ones are never sent again)."""
    now = timezone.now()
    ids = list(Delivery.objects.filter(pk__in=delivery_ids, state=Delivery.State.FAILED).values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=ids, state=Delivery.State.FAILED).update(
        state=Delivery.State.PENDING, next_attempt_at=now
    )
    for delivery_id in (
        Delivery.objects.filter(pk__in=ids).exclude(channel__in=DIGEST_CHANNELS).values_list("pk", flat=True)
    ):
        transaction.on_commit(lambda delivery_id=delivery_id: enqueue(DELIVER, delivery_id))
    return len(ids)


# --- Customers' actions ----------------------------------------------------------------------


def delivery_resend(*, delivery_id: int, user_id: int) -> Delivery:
    """A new copy of one of the customer's webhook deliveries ("send again"), sent now.

    It carries the same event ID: to the receiver it is the same event again.
    """
    original = Delivery.objects.get(pk=delivery_id, user_id=user_id, channel=Delivery.Channel.WEBHOOK)
    with transaction.atomic():
        # Lock the event so that two clicks at once number their copies 1 and 2, not 1 and 1.
        Event.objects.select_for_update().get(pk=original.event_id)
        copy = Delivery.objects.filter(event_id=original.event_id, channel=original.channel).aggregate(top=Max("copy"))[
            "top"
        ]
        delivery = Delivery.objects.create(
            event_id=original.event_id,
            channel=original.channel,
            copy=copy + 1,
            user_id=user_id,
            recipient=original.recipient,
            next_attempt_at=timezone.now(),
        )
    transaction.on_commit(lambda: enqueue(DELIVER, delivery.pk))
    return delivery


def webhook_test_send(*, user_id: int) -> Event:
    """Raise a "webhook.test" event for the customer's endpoint, delivered like any other."""
    now = timezone.now()
    event = Event.objects.create(
        key=f"test:{user_id}:{now.timestamp():.6f}",
        kind="webhook.test",
        user_id=user_id,
        data={"message": "This is a test event from the panel.", "sent_at": now.isoformat()},
    )
    transaction.on_commit(lambda: enqueue(DISPATCH, [event.key]))
    return event


@transaction.atomic
def webhook_endpoint_save(
    *, user_id: int, url: str, kinds: list[str], enabled: bool = True
) -> tuple[WebhookEndpoint, str]:
    """Set the customer's webhook URL and kinds. Raises UnsafeURL for a URL the panel may not call.

    Returns the endpoint and, for a new endpoint, its signing secret (shown once); "" otherwise.
    """
    url = url.strip()
    webhook_url_check(url)
    unknown = [kind for kind in kinds if kind not in KINDS or not KINDS[kind].webhook]
    if unknown:
        raise ValueError(f"Unknown event types: {', '.join(unknown)}")
    endpoint = WebhookEndpoint.objects.select_for_update().filter(user_id=user_id).first()
    secret = ""
    if endpoint is None:
        endpoint = WebhookEndpoint(user_id=user_id)
        secret = endpoint.secret
    endpoint.url = url
    endpoint.kinds = sorted(set(kinds))
    endpoint.enabled = enabled
    endpoint.save()
    return endpoint, secret


def webhook_secret_rotate(*, user_id: int) -> str:
    """A new signing secret for the customer's endpoint; the old one stops at once. Shown once."""
    secret = new_webhook_secret()
    endpoint = WebhookEndpoint.objects.get(user_id=user_id)
    endpoint.secret = secret
    endpoint.save(update_fields=["secret", "updated_at"])
    return secret


def webhook_endpoint_delete(*, user_id: int) -> None:
    """Remove the endpoint; deliveries still waiting are canceled (not sent to nowhere)."""
    with transaction.atomic():
        WebhookEndpoint.objects.filter(user_id=user_id).delete()
        Delivery.objects.filter(user_id=user_id, channel=Delivery.Channel.WEBHOOK, state=Delivery.State.PENDING).update(
            state=Delivery.State.CANCELED, last_error="The endpoint was removed."
        )


@transaction.atomic
def preferences_save(
    *, user_id: int, choices: dict[tuple[str, str], bool], balance_threshold: Decimal | None, language: str = ""
) -> None:
    """Store the customer's choices (every kind and channel on the page) and threshold."""
    for (kind, channel), enabled in choices.items():
        if kind not in KINDS:
            raise ValueError(f"Unknown event type {kind}")
        Preference.objects.update_or_create(
            user_id=user_id, kind=kind, channel=channel, defaults={"enabled": bool(enabled)}
        )
    row, _ = CustomerSettings.objects.select_for_update().get_or_create(user_id=user_id)
    if row.balance_threshold != balance_threshold:
        # A new threshold starts a new watch: the next fall under it is told.
        row.balance_low_notified = False
    row.balance_threshold = balance_threshold
    if language:
        row.language = language[:16]
    row.save()


def unsubscribe(*, user_id: int, kind: str) -> None:
    """The one-click unsubscribe of an email: that kind, by email, off."""
    Preference.objects.update_or_create(
        user_id=user_id, kind=kind, channel=Delivery.Channel.EMAIL, defaults={"enabled": False}
    )


def balances_check() -> int:
    """Beat: raise "balance.low" for each customer whose balance fell under their threshold.

    Checked here, every minute, rather than in the ledger, so that placing an order costs no
    extra query. Each fall is told once: the conditional UPDATE that sets balance_low_notified
    is the claim, and the event's key numbers the fall. Coming back up re-arms it.
    """
    from panel.events import emit

    watched = CustomerSettings.objects.filter(balance_threshold__isnull=False)
    watched.filter(balance_low_notified=True, user__balance__gte=F("balance_threshold")).update(
        balance_low_notified=False
    )
    told = 0
    low = watched.filter(balance_low_notified=False, user__balance__lt=F("balance_threshold")).select_related("user")
    for row in low[:1000]:
        with transaction.atomic():
            claimed = CustomerSettings.objects.filter(Q(pk=row.pk, balance_low_notified=False)).update(
                balance_low_notified=True, balance_low_round=F("balance_low_round") + 1
            )
            if not claimed:
                continue
            round_ = CustomerSettings.objects.values_list("balance_low_round", flat=True).get(pk=row.pk)
            emit(
                DomainEvent(
                    kind="balance.low",
                    key=f"balance:{row.user_id}:low:{round_}",
                    user_id=row.user_id,
                    data={
                        "balance": str(row.user.balance),
                        "threshold": str(row.balance_threshold),
                        "currency": panel_currency(),
                    },
                )
            )
            told += 1
    return told


# --- Telegram linking --------------------------------------------------------------------------

LINK_CODE_MINUTES = 15


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def telegram_link_start(*, user_id: int) -> str:
    """A one-time code for the customer to send the bot (`/start <code>`); valid 15 minutes.

    Only its hash is stored. A new code replaces the last one; a linked chat stays linked until
    the code arrives from another chat.
    """
    code = secrets.token_urlsafe(18)  # letters, digits, "-" and "_": what a t.me start link carries
    TelegramLink.objects.update_or_create(
        user_id=user_id,
        defaults={
            "code_hash": _code_hash(code),
            "code_expires_at": timezone.now() + timedelta(minutes=LINK_CODE_MINUTES),
        },
    )
    return code


def telegram_unlink(*, user_id: int) -> None:
    TelegramLink.objects.filter(user_id=user_id).delete()
    Delivery.objects.filter(user_id=user_id, channel=Delivery.Channel.TELEGRAM, state=Delivery.State.PENDING).update(
        state=Delivery.State.CANCELED, last_error="The Telegram chat was unlinked."
    )


def _chat_language(chat_id: str, sender: dict) -> str:
    """The language to answer a chat in: its customer's, when the chat is linked; else the one
    the sender's Telegram app is set to, when the panel ships it; else the panel's."""
    link = TelegramLink.objects.filter(chat_id=chat_id).select_related("user").first()
    if link is not None:
        return customer_language(link.user)
    return language_valid(str(sender.get("language_code") or "")[:16]) or settings.LANGUAGE_CODE


def _telegram_message(config: TelegramBot, message: dict) -> None:
    chat = message.get("chat") or {}
    chat_id = str(chat.get("id", ""))[:32]
    text = str(message.get("text") or "").strip()
    if not chat_id or chat.get("type") != "private" or not text.startswith("/"):
        return
    command, _, argument = text.partition(" ")
    api = telegram.BotAPI(config.token)
    sender = message.get("from") or {}
    reply = ""
    # Worked out before /stop removes the link, so the goodbye is in the customer's language too.
    language = _chat_language(chat_id, sender)
    if command.split("@")[0] == "/start" and argument.strip():
        now = timezone.now()
        # The conditional UPDATE is the claim: a code works once, even if two polls read it.
        linked = TelegramLink.objects.filter(
            code_hash=_code_hash(argument.strip()[:64]), code_expires_at__gt=now
        ).update(
            chat_id=chat_id,
            telegram_username=str(sender.get("username") or "")[:64],
            code_hash="",
            code_expires_at=None,
            linked_at=now,
        )
        if linked:
            # Now linked: the customer's own language.
            language = _chat_language(chat_id, sender)
            with translation.override(language):
                reply = gettext("Linked: %(panel)s will message you here.") % {"panel": brand().name}
        elif not TelegramLink.objects.filter(chat_id=chat_id).exists():
            # (A chat that is linked already got its answer from the poll that linked it.)
            with translation.override(language):
                reply = gettext("This code is not valid (or expired). Get a new one on the Notifications page.")
    elif command.split("@")[0] == "/stop" and TelegramLink.objects.filter(chat_id=chat_id).delete()[0]:
        with translation.override(language):
            reply = gettext("Unlinked: %(panel)s will not message you any more.") % {"panel": brand().name}
    if reply:
        try:
            api.send_message(chat_id, reply)
        except telegram.TelegramError as exc:
            logger.info("telegram: could not answer chat: %s", exc.description)


def telegram_updates_poll() -> int:
    """Beat: read the bot's new messages (getUpdates) and act on /start <code> and /stop.

    Safe to run twice at once: each code links once (its claim), and the offset only moves forward.
    Returns how many updates were read.
    """
    config = telegram.bot()
    if config is None:
        return 0
    try:
        updates = telegram.BotAPI(config.token).get_updates(config.update_offset)
    except telegram.TelegramError as exc:
        logger.warning("telegram: getUpdates failed: %s", exc.description)
        return 0
    top = config.update_offset - 1
    for update in updates:
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            continue
        top = max(top, update["update_id"])
        if isinstance(update.get("message"), dict):
            _telegram_message(config, update["message"])
    TelegramBot.objects.filter(pk=config.pk, update_offset__lt=top + 1).update(update_offset=top + 1)
    return len(updates)


def telegram_bot_save(*, token: str | None, staff_chat_id: str, enabled: bool) -> TelegramBot:
    """Store the bot's settings; a new token is checked with getMe, which also gives its name.

    Raises ValueError with Telegram's reason when the token does not work.
    """
    config = TelegramBot.objects.filter(pk=1).first() or TelegramBot(pk=1)
    if token:
        try:
            me = telegram.BotAPI(token).get_me()
        except telegram.TelegramError as exc:
            raise ValueError(exc.description) from None
        config.token = token
        config.username = str((me or {}).get("username") or "")[:64]
        config.update_offset = 0
    config.staff_chat_id = staff_chat_id.strip()[:32]
    config.enabled = enabled
    config.save()
    return config
