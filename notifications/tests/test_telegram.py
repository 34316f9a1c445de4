"""Telegram against a local fake Bot API: the owner's bot (token checked and encrypted), customers
linking their chat with a one-time code, their events and the staff digest, and failures that
never reach the action that raised the event."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from notifications import tasks
from notifications.models import Delivery, TelegramBot, TelegramLink
from notifications.services import (
    preferences_save,
    telegram_bot_save,
    telegram_link_start,
    telegram_unlink,
    telegram_updates_poll,
)
from panel.events import DomainEvent, emit
from testing.concurrency import run_together


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def link(customer, bot_api, chat_id: int = 555) -> None:
    code = telegram_link_start(user_id=customer.pk)
    bot_api.user_sends(chat_id, f"/start {code}")
    telegram_updates_poll()


def answered(customer, n: int = 1) -> DomainEvent:
    return DomainEvent(
        kind="ticket.answered", key=f"ticket-message:{n}", user_id=customer.pk, data={"ticket": n, "subject": "Help"}
    )


def test_the_token_is_checked_named_and_encrypted(db, bot_api):
    with pytest.raises(ValueError, match="401 Unauthorized"):
        telegram_bot_save(token="999:wrong", staff_chat_id="", enabled=True)
    config = telegram_bot_save(token=bot_api.token, staff_chat_id=" -1009 ", enabled=True)
    assert (config.username, config.staff_chat_id) == ("panel_test_bot", "-1009")
    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM notifications_telegrambot")
        stored = cursor.fetchone()[0]
    assert bot_api.token not in stored
    assert TelegramBot.objects.get().token == bot_api.token
    # Saving without a token keeps the one stored.
    telegram_bot_save(token="", staff_chat_id="-1010", enabled=True)
    assert TelegramBot.objects.get().token == bot_api.token


def test_a_customer_links_their_chat_with_a_one_time_code(customer, telegram_bot, bot_api):
    code = telegram_link_start(user_id=customer.pk)
    assert TelegramLink.objects.get().code_hash != code  # only its hash is kept
    bot_api.user_sends(555, "hello")  # not a command: ignored
    bot_api.user_sends(555, f"/start {code}", username="alice_smm")
    assert telegram_updates_poll() == 2
    row = TelegramLink.objects.get(user=customer)
    assert (row.chat_id, row.telegram_username, row.code_hash) == ("555", "alice_smm", "")
    assert bot_api.messages_to(555) == ["Linked: SMM Panel will message you here."]
    # The updates were confirmed: polling again reads nothing.
    assert telegram_updates_poll() == 0

    # The code worked once: someone else sending it gets nothing linked.
    bot_api.user_sends(777, f"/start {code}")
    telegram_updates_poll()
    assert TelegramLink.objects.get(user=customer).chat_id == "555"
    assert bot_api.messages_to(777) == ["This code is not valid (or expired). Get a new one on the Notifications page."]


def test_an_expired_code_links_nothing(customer, telegram_bot, bot_api):
    code = telegram_link_start(user_id=customer.pk)
    TelegramLink.objects.update(code_expires_at=timezone.now() - timedelta(seconds=1))
    bot_api.user_sends(555, f"/start {code}")
    telegram_updates_poll()
    assert TelegramLink.objects.get().chat_id == ""


@pytest.mark.django_db(transaction=True)
def test_polling_twice_at_once_links_once_and_answers_once(bot_api, settings):
    from accounts.models import User

    customer = User.objects.create(username="twice")
    telegram_bot_save(token=bot_api.token, staff_chat_id="", enabled=True)
    code = telegram_link_start(user_id=customer.pk)
    bot_api.user_sends(555, f"/start {code}")
    run_together(4, lambda index: telegram_updates_poll())
    assert TelegramLink.objects.get().chat_id == "555"
    assert bot_api.messages_to(555) == ["Linked: SMM Panel will message you here."]


def test_linked_customers_get_their_events_and_may_turn_them_off(customer, telegram_bot, bot_api, on_commit):
    link(customer, bot_api)
    with on_commit():
        emit(answered(customer, 1))
    [text] = bot_api.messages_to(555)[1:]
    assert text.startswith("Your ticket was answered: Help\n\nSupport answered your ticket")
    assert "/tickets/1/" in text and "Unsubscribe" not in text
    delivery = Delivery.objects.get(channel="telegram")
    assert (delivery.state, delivery.recipient) == ("sent", "alice")

    preferences_save(user_id=customer.pk, choices={("ticket.answered", "telegram"): False}, balance_threshold=None)
    with on_commit():
        emit(answered(customer, 2))
    assert len(bot_api.messages_to(555)) == 2
    assert not Delivery.objects.filter(channel="telegram", event__key="ticket-message:2").exists()


def test_send_failures_are_retried_or_dropped_by_telegrams_answer(customer, telegram_bot, bot_api, on_commit):
    link(customer, bot_api)
    bot_api.fail = [(429, "Too Many Requests: retry after 3")]
    with on_commit():
        emit(answered(customer, 1))
    delivery = Delivery.objects.get(channel="telegram")
    assert (delivery.state, delivery.last_status) == ("pending", 429)
    assert delivery.last_error == "Telegram refused: 429 Too Many Requests: retry after 3"

    bot_api.fail = [(403, "Forbidden: bot was blocked by the user")]
    with on_commit():
        emit(answered(customer, 2))
    blocked = Delivery.objects.get(channel="telegram", event__key="ticket-message:2")
    assert (blocked.state, blocked.last_status) == ("failed", 403)


def test_telegram_down_keeps_the_token_out_of_errors_and_the_action_unharmed(
    customer, telegram_bot, bot_api, settings, on_commit, django_user_model
):
    from support.services import ticket_open, ticket_reply

    link(customer, bot_api)
    settings.TELEGRAM_API_URL = "http://127.0.0.1:9"  # nothing listens
    staff = django_user_model.objects.create(username="agent", is_staff=True)
    ticket = ticket_open(user=customer, subject="Help", body="?", topic="other")
    with on_commit():
        message = ticket_reply(ticket=ticket, author=staff, body="Done.")
    assert message.pk is not None
    delivery = Delivery.objects.get(channel="telegram")
    assert delivery.state == "pending"
    assert delivery.last_error == "Could not reach Telegram (ConnectionError)."
    assert bot_api.token not in delivery.last_error


def test_staff_alerts_reach_the_staff_chat_as_one_message(telegram_bot, bot_api, on_commit):
    with on_commit():
        emit(DomainEvent(kind="sync.failed", key="sync-run:1", data={"message": "Sync of sim failed: timed out"}))
        emit(DomainEvent(kind="ticket.new", key="ticket:4:new", data={"message": "Ticket 4 from buyer: Help"}))
    assert bot_api.messages_to(-1009) == []
    assert tasks.staff_digest() == 2
    [text] = bot_api.messages_to(-1009)
    assert text.startswith("SMM Panel: 2 staff alerts\n")
    assert "Catalog sync failed: Sync of sim failed: timed out" in text and "Ticket 4 from buyer: Help" in text


def test_stop_and_unlink(customer, telegram_bot, bot_api):
    link(customer, bot_api)
    bot_api.user_sends(555, "/stop")
    telegram_updates_poll()
    assert not TelegramLink.objects.exists()
    assert bot_api.messages_to(555)[-1] == "Unlinked: SMM Panel will not message you any more."
    link(customer, bot_api)
    telegram_unlink(user_id=customer.pk)
    assert not TelegramLink.objects.exists()


def test_the_owner_sets_up_the_bot_in_the_admin(client, django_user_model, bot_api, settings, plain_static_storage):
    owner = django_user_model.objects.create_superuser(username="owner", email="o@example.com", password="x")
    client.force_login(owner)
    add = f"/{settings.ADMIN_URL}notifications/telegrambot/add/"
    refused = client.post(add, {"new_token": "999:wrong", "staff_chat_id": "-1009", "enabled": "on"})
    assert (
        refused.status_code == 200
        and "Telegram refused the token: Telegram refused: 401 Unauthorized" in refused.content.decode()
    )
    assert not TelegramBot.objects.exists()
    assert client.post(add, {"new_token": bot_api.token, "staff_chat_id": "-1009", "enabled": "on"}).status_code == 302
    config = TelegramBot.objects.get()
    assert (config.pk, config.username, config.token) == (1, "panel_test_bot", bot_api.token)
    page = client.get(f"/{settings.ADMIN_URL}notifications/telegrambot/1/change/").content.decode()
    assert bot_api.token not in page
