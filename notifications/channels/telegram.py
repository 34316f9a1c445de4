"""Telegram through the Bot API over HTTPS (https://core.telegram.org/bots/api), with timeouts.

Requests go to `<TELEGRAM_API_URL>/bot<token>/<method>` as JSON; every answer is a JSON object
with `ok`, and either `result` or `error_code` and `description` (429 adds
`parameters.retry_after`). The token is part of the URL, so no error text we keep or log ever
includes the URL or the library's exception message, only the Bot API's own description.

Customers link their chat by sending the bot `/start <code>` (the deep link
t.me/<bot>?start=<code> does it in one tap); the panel reads that with getUpdates, polled by beat
(no public URL needed, unlike a webhook).
"""

import logging

import requests
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import ngettext

from site_pages.selectors import brand

from ..kinds import KINDS
from ..models import Delivery, Event, TelegramBot, TelegramLink
from ..selectors import preference_enabled
from . import Outcome
from .email import customer_language, email_context

logger = logging.getLogger(__name__)

MAX_TEXT = 4096  # sendMessage's limit, in characters


class TelegramError(Exception):
    def __init__(self, description: str, *, code: int | None = None, retry: bool = True) -> None:
        super().__init__(description)
        self.description = description
        self.code = code
        self.retry = retry


class BotAPI:
    def __init__(self, token: str) -> None:
        self.token = token

    def call(self, method: str, **params):
        url = f"{settings.TELEGRAM_API_URL.rstrip('/')}/bot{self.token}/{method}"
        try:
            response = requests.post(
                url,
                json=params,
                timeout=(settings.TELEGRAM_CONNECT_TIMEOUT, settings.TELEGRAM_READ_TIMEOUT),
                allow_redirects=False,
            )
        except requests.Timeout:
            raise TelegramError("Telegram did not answer in time.") from None
        except requests.RequestException as exc:
            raise TelegramError(f"Could not reach Telegram ({type(exc).__name__}).") from None
        try:
            answer = response.json()
        except ValueError:
            raise TelegramError(f"Telegram answered HTTP {response.status_code} without JSON.") from None
        if not isinstance(answer, dict):
            raise TelegramError("Telegram's answer was not a JSON object.")
        if answer.get("ok") is True:
            return answer.get("result")
        code = answer.get("error_code") if isinstance(answer.get("error_code"), int) else response.status_code
        description = str(answer.get("description") or "no description")[:200]
        # 429 (too many requests) and 5xx pass; 400 (chat not found), 403 (bot blocked) do not.
        retry = code == 429 or code >= 500 or code == 401
        raise TelegramError(f"Telegram refused: {code} {description}", code=code, retry=retry)

    def send_message(self, chat_id: str, text: str) -> dict:
        return self.call(
            "sendMessage", chat_id=chat_id, text=text[:MAX_TEXT], link_preview_options={"is_disabled": True}
        )

    def get_updates(self, offset: int) -> list[dict]:
        # Short polling: beat asks every few seconds; a long poll would hold a worker.
        return self.call("getUpdates", offset=offset, timeout=0, allowed_updates=["message"]) or []

    def get_me(self) -> dict:
        return self.call("getMe")


def bot() -> TelegramBot | None:
    """The configured bot, or None when Telegram is not set up (or turned off)."""
    config = TelegramBot.objects.filter(pk=1).first()
    if config is None or not config.enabled or not config.token:
        return None
    return config


def message_text(event: Event, user) -> str:
    """The customer's message, in their language: the email's subject line and its plain-text
    body, without the footer."""
    name = event.kind.replace(".", "_")
    with translation.override(customer_language(user)):
        context = email_context(event, user)
        subject = " ".join(render_to_string(f"email/{name}_subject.txt", context).split())
        body = render_to_string(f"email/{name}.txt", context).split("\n--\n", 1)[0].strip()
    return f"{subject}\n\n{body}"


class TelegramChannel:
    def notify(self, delivery: Delivery) -> Outcome:
        config = bot()
        if config is None:
            return Outcome(False, "Telegram is not set up.", retry=False, canceled=True)
        link = TelegramLink.objects.filter(user_id=delivery.user_id).exclude(chat_id="").first()
        if link is None:
            return Outcome(False, "The customer has no linked Telegram chat.", retry=False, canceled=True)
        if not preference_enabled(
            user_id=delivery.user_id, kind=delivery.event.kind, channel=Delivery.Channel.TELEGRAM
        ):
            return Outcome(False, "The customer turned these messages off.", retry=False, canceled=True)
        return _send(config, link.chat_id, message_text(delivery.event, delivery.user))


def _send(config: TelegramBot, chat_id: str, text: str) -> Outcome:
    try:
        BotAPI(config.token).send_message(chat_id, text)
    except TelegramError as exc:
        return Outcome(False, exc.description, retry=exc.retry, status=exc.code)
    return Outcome(True)


def staff_digest(events: list[Event]) -> Outcome:
    """One message to the staff chat with every alert since the last digest, in the panel's
    language (a chat has many readers)."""
    config = bot()
    if config is None or not config.staff_chat_id:
        return Outcome(False, "No staff chat is set up.", retry=False)
    with translation.override(settings.LANGUAGE_CODE):
        count = len(events)
        alerts = ngettext("%(n)s staff alert", "%(n)s staff alerts", count) % {"n": count}
        lines = [f"{brand().name}: {alerts}"]
        for event in events:
            kind = KINDS.get(event.kind)
            label = kind.label if kind else event.kind
            lines.append(f"• {event.created_at:%H:%M} {label}: {event.data.get('message', '')}")
    return _send(config, config.staff_chat_id, "\n".join(lines))
