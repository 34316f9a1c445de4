"""Events, their deliveries, and what each customer wants to receive where.

An Event is recorded once per deterministic key (unique in the database), in the transaction of
the action that raised it. Dispatching it creates one Delivery per channel it goes to (unique per
event, channel and copy), and each Delivery is sent by a worker that first claims it with a
conditional UPDATE: a task delivered twice, or run concurrently, sends it once.
"""

import base64
import secrets
from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from encrypted_model_fields.fields import EncryptedCharField

from panel.money import MONEY


def new_public_id() -> str:
    return "evt_" + secrets.token_hex(12)


class Event(models.Model):
    key = models.CharField(_("key"), max_length=200, unique=True)
    # The ID receivers see (the webhook-id header); never reused, the same on every retry.
    public_id = models.CharField(_("public ID"), max_length=40, unique=True, default=new_public_id, editable=False)
    kind = models.CharField(_("kind"), max_length=48, db_index=True)
    # The customer it concerns; None for staff alerts.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    data = models.JSONField(_("data"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    # Set when its deliveries were created; the sweeper dispatches events whose enqueue was lost.
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(dispatched_at__isnull=True), name="event_undispatched"),
        ]

    def __str__(self) -> str:
        return self.key


class Delivery(models.Model):
    class Channel(models.TextChoices):
        WEBHOOK = "webhook", _("Webhook")
        EMAIL = "email", _("Email")
        TELEGRAM = "telegram", _("Telegram")
        STAFF_EMAIL = "staff_email", _("Staff email")
        STAFF_TELEGRAM = "staff_telegram", _("Staff Telegram")

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Canceled")

    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    # 0 for the first delivery; "send again" adds copy 1, 2, ... of the same event.
    copy = models.PositiveSmallIntegerField(_("copy"), default=0)
    # Denormalised from the event, for the customer's delivery log.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # Where it went, for people: a URL without its query, an address, a chat.
    recipient = models.CharField(_("recipient"), max_length=255, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # What went wrong last, never with a secret in it (no URL query, no token).
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    last_status = models.PositiveSmallIntegerField(_("last status"), null=True, blank=True)  # HTTP status of a webhook
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "channel", "copy"], name="delivery_once_per_channel"),
            models.CheckConstraint(
                condition=~Q(state="sent") | Q(sent_at__isnull=False), name="delivery_sent_has_time"
            ),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(state="pending"), name="delivery_due"),
            models.Index(fields=["user", "channel", "-id"], name="delivery_user_log"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.event_id} ({self.state})"


def new_webhook_secret() -> str:
    # The Standard Webhooks form: "whsec_" and the base64 of the key's bytes.
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class WebhookEndpoint(models.Model):
    """A customer's webhook URL and signing secret (encrypted at rest, shown once)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="webhook_endpoint"
    )
    url = models.URLField(_("URL"), max_length=500)
    secret = EncryptedCharField(max_length=200, default=new_webhook_secret)
    enabled = models.BooleanField(_("enabled"), default=True)
    # Kinds sent to it; empty means every webhook kind.
    kinds = models.JSONField(_("kinds"), default=list, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return f"{self.user} -> {self.url}"

    def wants(self, kind: str) -> bool:
        return self.enabled and (not self.kinds or kind in self.kinds or kind == "webhook.test")


class Preference(models.Model):
    """A customer's choice for one kind of event on one channel; without a row, the kind's default."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=48)
    channel = models.CharField(_("channel"), max_length=16, choices=Delivery.Channel.choices)
    enabled = models.BooleanField(_("enabled"))

    class Meta:
        verbose_name = _("preference")
        verbose_name_plural = _("preferences")
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "channel"], name="preference_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.channel}: {self.enabled}"


class CustomerSettings(models.Model):
    """A customer's notification settings beyond per-event choices."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+"
    )
    # "balance.low" is raised when the balance falls under this (None: never).
    balance_threshold = models.DecimalField(_("balance threshold"), null=True, blank=True, **MONEY)
    # True while the balance is under the threshold and the customer was told; re-armed when
    # the balance comes back up. low_round numbers the crossings (the event's key).
    balance_low_notified = models.BooleanField(_("balance low notified"), default=False)
    balance_low_round = models.PositiveIntegerField(_("balance low round"), default=0)
    # The language the customer last used the panel in: their emails are written in it.
    language = models.CharField(_("language"), max_length=16, blank=True)
    # The catalog updates digest: when the last one was sent (the next one lists what came since).
    updates_digest_at = models.DateTimeField(_("updates digest at"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer settings")
        verbose_name_plural = _("customer settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(balance_threshold__isnull=True) | Q(balance_threshold__gte=Decimal("0")),
                name="notify_threshold_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["user"], condition=Q(balance_threshold__isnull=False), name="notify_threshold_set"),
        ]

    def __str__(self) -> str:
        return f"Notification settings of {self.user_id}"


class TelegramBot(models.Model):
    """The panel's Telegram bot (one row, pk=1), set up by the owner in the admin."""

    token = EncryptedCharField(
        _("token"), max_length=200, blank=True, help_text=_("From @BotFather; encrypted at rest.")
    )
    # Filled from getMe when the token is saved: the name of the t.me/<name> link customers open.
    username = models.CharField(_("username"), max_length=64, blank=True)
    staff_chat_id = models.CharField(
        _("staff chat ID"),
        max_length=32,
        blank=True,
        help_text=_("The chat (or group) staff alerts go to, e.g. -1001234567890."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # The next getUpdates offset: one more than the last update read.
    update_offset = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("Telegram bot")
        verbose_name_plural = _("Telegram bots")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="telegram_bot_single_row")]

    def __str__(self) -> str:
        return f"@{self.username}" if self.username else "Telegram bot"


class TelegramLink(models.Model):
    """A customer's Telegram chat, linked by sending the bot a one-time code (stored hashed)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+"
    )
    chat_id = models.CharField(_("chat ID"), max_length=32, blank=True)  # empty until the code arrives
    telegram_username = models.CharField(_("Telegram username"), max_length=64, blank=True)
    code_hash = models.CharField(max_length=64, blank=True, db_index=True)
    code_expires_at = models.DateTimeField(_("code expires at"), null=True, blank=True)
    linked_at = models.DateTimeField(_("linked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("Telegram link")
        verbose_name_plural = _("Telegram links")

    def __str__(self) -> str:
        return f"{self.user_id} -> {self.chat_id or 'waiting for code'}"


# --- Updates feed ------------------------------------------------------------------------------


class ServiceState(models.Model):
    """What the catalog scan last saw of a service: the updates feed is the difference."""

    service = models.OneToOneField("catalog.Service", on_delete=models.CASCADE, related_name="+")
    rate = models.DecimalField(**MONEY)
    sellable = models.BooleanField()
    seen_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.service_id}: {self.rate} ({'sellable' if self.sellable else 'not sellable'})"


class CatalogUpdate(models.Model):
    class Kind(models.TextChoices):
        NEW = "new", _("New service")
        PRICE_UP = "price_up", _("Price up")
        PRICE_DOWN = "price_down", _("Price down")
        DISABLED = "disabled", _("Disabled")
        BACK = "back", _("Back")

    service = models.ForeignKey(
        "catalog.Service", verbose_name=_("service"), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    old_rate = models.DecimalField(_("old rate"), null=True, blank=True, **MONEY)
    new_rate = models.DecimalField(_("new rate"), null=True, blank=True, **MONEY)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    # Customers see only published updates; staff choose (automatically by kind, or one by one).
    published_at = models.DateTimeField(_("published at"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("catalog update")
        verbose_name_plural = _("catalog updates")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: service {self.service_id}"


class UpdatesSettings(models.Model):
    """Which kinds of catalog change are published as they are found (one row, pk=1); the rest
    wait for staff to publish them one by one. Its row also serialises the catalog scans."""

    publish_new = models.BooleanField(_("publish new"), default=True)
    publish_price_up = models.BooleanField(_("publish price up"), default=True)
    publish_price_down = models.BooleanField(_("publish price down"), default=True)
    publish_disabled = models.BooleanField(_("publish disabled"), default=True)
    publish_back = models.BooleanField(_("publish back"), default=True)

    class Meta:
        verbose_name = _("updates feed settings")
        verbose_name_plural = _("updates feed settings")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="updates_settings_single_row")]

    def __str__(self) -> str:
        return "Updates feed settings"

    def publishes(self, kind: str) -> bool:
        return bool(getattr(self, f"publish_{kind}", False))


# --- Announcements -----------------------------------------------------------------------------


class Announcement(models.Model):
    class Level(models.TextChoices):
        INFO = "info", _("Info")
        WARNING = "warning", _("Warning")

    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), max_length=5000, blank=True)
    level = models.CharField(_("level"), max_length=8, choices=Level.choices, default=Level.INFO)
    sticky = models.BooleanField(
        _("sticky"), default=False, help_text=_("Shown first, and customers cannot dismiss it.")
    )
    # Empty: every customer; otherwise only these.
    audience = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("audience"), blank=True, related_name="+"
    )
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True, help_text=_("Empty: at once."))
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True, help_text=_("Empty: until turned off."))
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("announcement")
        verbose_name_plural = _("announcements")
        ordering = ["-sticky", "-id"]

    def __str__(self) -> str:
        return self.title


class AnnouncementDismissal(models.Model):
    announcement = models.ForeignKey(Announcement, on_delete=models.CASCADE, related_name="dismissals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["announcement", "user"], name="dismissed_once")]

    def __str__(self) -> str:
        return f"{self.user_id} dismissed {self.announcement_id}"
