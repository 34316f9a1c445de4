"""Email against a real SMTP server started by the test (aiosmtpd): customer emails in HTML and
plain text with a signed one-click unsubscribe, SMTP failures retried or given up, the staff
digest, and the low-balance watch."""

import email
import email.policy
import socket
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.test import Client
from django.urls import reverse

from accounts.ledger import ledger_debit
from notifications import tasks
from notifications.channels.email import unsubscribe_token
from notifications.kinds import EMAIL_KINDS
from notifications.models import CustomerSettings, Delivery, Event, Preference
from notifications.services import balances_check, deliveries_sweep, preferences_save
from panel.events import DomainEvent, emit


class Mailbox:
    """An SMTP server's handler: keeps each message; `refuse` scripts SMTP answers to DATA."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.refuse: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse.pop(0)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    settings.PANEL_URL = "https://panel.example.com"
    yield mailbox
    controller.stop()


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def answered(customer, ticket_id: int = 7) -> DomainEvent:
    return DomainEvent(
        kind="ticket.answered",
        key=f"ticket-message:{ticket_id}",
        user_id=customer.pk,
        data={"ticket": ticket_id, "subject": 'Order 12 "stuck"'},
    )


def bodies(message) -> tuple[str, str]:
    return (
        message.get_body(preferencelist=("plain",)).get_content(),
        message.get_body(preferencelist=("html",)).get_content(),
    )


def test_a_customer_email_has_both_parts_and_a_one_click_unsubscribe(customer, smtp, on_commit, plain_static_storage):
    with on_commit():
        emit(answered(customer))
    [message] = smtp.messages
    assert message["To"] == "buyer@example.com"
    assert message["Subject"] == 'SMM Panel: Your ticket was answered: Order 12 "stuck"'
    text, html = bodies(message)
    assert 'Support answered your ticket "Order 12 "stuck"".' in text  # plain text is not HTML-escaped
    assert "https://panel.example.com/tickets/7/" in text
    assert "&quot;stuck&quot;" in html and 'href="https://panel.example.com/tickets/7/"' in html
    unsubscribe = str(message["List-Unsubscribe"]).strip().strip("<>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe in text
    assert Delivery.objects.get().state == "sent"

    # RFC 8058: the mail client POSTs to the link, without a session or a CSRF token.
    path = urlsplit(unsubscribe).path
    browser = Client(enforce_csrf_checks=True)
    assert browser.get(path).status_code == 200  # a look (or a mail scanner) changes nothing
    assert not Preference.objects.exists()
    assert browser.post(path, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert Preference.objects.get(user=customer, kind="ticket.answered", channel="email").enabled is False

    with on_commit():
        emit(answered(customer, ticket_id=8))
    assert len(smtp.messages) == 1
    assert not Delivery.objects.filter(event__key="ticket-message:8").exists()


def test_a_forged_or_altered_unsubscribe_link_is_refused(customer):
    token = unsubscribe_token(user_id=customer.pk, kind="ticket.answered")
    client = Client()
    assert client.post(reverse("dashboard:notifications_unsubscribe", args=[token[:-2] + "xx"])).status_code == 404
    assert client.post(reverse("dashboard:notifications_unsubscribe", args=["nonsense"])).status_code == 404
    assert not Preference.objects.exists()


def test_order_emails_are_off_until_the_customer_turns_them_on(customer, smtp, on_commit):
    final = DomainEvent(
        kind="order.final",
        key="order:3:final",
        user_id=customer.pk,
        data={"order": 3, "status": "Canceled", "charge": "1.5", "refund": "1.5", "currency": "USD", "link": "x"},
    )
    with on_commit():
        emit(final)
    assert smtp.messages == []
    preferences_save(user_id=customer.pk, choices={("order.final", "email"): True}, balance_threshold=None)
    with on_commit():
        emit(DomainEvent(**{**final.__dict__, "key": "order:4:final"}))
    [message] = smtp.messages
    assert message["Subject"] == "SMM Panel: Order 3: Canceled"
    assert "Refunded to your balance: 1.5 USD" in bodies(message)[0]


def test_smtp_refusals_are_retried_when_temporary_and_dropped_when_final(customer, smtp, on_commit):
    smtp.refuse = ["451 Try again later"]
    with on_commit():
        emit(answered(customer, 1))
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.last_error) == ("pending", "The mail server answered 451.")
    Delivery.objects.update(next_attempt_at=delivery.created_at)
    deliveries_sweep()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("sent", 2) and len(smtp.messages) == 1

    smtp.refuse = ["550 No such user"]
    with on_commit():
        emit(answered(customer, 2))
    refused = Delivery.objects.exclude(pk=delivery.pk).get()
    assert (refused.state, refused.last_error) == ("failed", "The mail server answered 550.")


def test_no_mail_server_is_a_retry_not_an_error_for_the_action(customer, settings, on_commit):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", probe.getsockname()[1]  # nobody listens
    with on_commit():
        emit(answered(customer))
    delivery = Delivery.objects.get()
    assert delivery.state == "pending"
    assert delivery.last_error.startswith("Could not reach the mail server")


def test_staff_alerts_arrive_as_one_digest(db, smtp, settings, on_commit):
    settings.NOTIFY_STAFF_EMAILS = ["ops@example.com", "owner@example.com"]
    with on_commit():
        for n in range(5):
            emit(DomainEvent(kind="order.attention", key=f"order-event:{n}", data={"message": f"Order {n}: stuck"}))
        emit(DomainEvent(kind="provider.balance_low", key="provider:1:low:2026-12-01", data={"message": "sim: 3 USD"}))
    assert smtp.messages == []
    assert tasks.staff_digest() == 6
    assert tasks.staff_digest() == 0
    [digest] = smtp.messages
    assert digest["To"] == "ops@example.com, owner@example.com"
    assert digest["Subject"] == "SMM Panel: 6 staff alerts"
    text, _html = bodies(digest)
    assert all(f"Order {n}: stuck" in text for n in range(5)) and "Provider balance low: sim: 3 USD" in text
    assert set(Delivery.objects.values_list("state", flat=True)) == {"sent"}


def test_a_low_balance_is_told_once_per_fall(customer, smtp, on_commit):
    preferences_save(user_id=customer.pk, choices={}, balance_threshold=Decimal("100"))
    with on_commit():
        assert balances_check() == 0  # 1000 is above 100
        ledger_debit(user_id=customer.pk, amount=Decimal("950"), memo="spent")
        assert balances_check() == 1
        assert balances_check() == 0
    [message] = smtp.messages
    assert message["Subject"] == "SMM Panel: Your balance is low"
    assert "Your balance is 50.00000 USD, under the 100.00000 USD you set." in bodies(message)[0]
    # Back above the line re-arms it; the next fall is a new event.
    from accounts.ledger import ledger_credit

    with on_commit():
        ledger_credit(user_id=customer.pk, amount=Decimal("200"), memo="top up")
        assert balances_check() == 0
        ledger_debit(user_id=customer.pk, amount=Decimal("200"), memo="spent")
        assert balances_check() == 1
    assert list(Event.objects.filter(kind="balance.low").order_by("id").values_list("key", flat=True)) == [
        f"balance:{customer.pk}:low:1",
        f"balance:{customer.pk}:low:2",
    ]
    assert CustomerSettings.objects.get(user=customer).balance_low_notified is True


@pytest.mark.parametrize("typed", ["-5", "abc", "NaN", "Infinity", "1e400", "1" * 41])
def test_a_bad_threshold_is_a_form_error_and_saves_nothing(client, customer, plain_static_storage, typed):
    client.force_login(customer)
    page = client.post(reverse("dashboard:notifications"), {"balance_threshold": typed, "pref:order.final:email": "on"})
    assert page.status_code == 400
    assert "Enter" in page.content.decode()
    assert not Preference.objects.exists() and not CustomerSettings.objects.exists()


def test_the_preferences_page_needs_a_login(client, db):
    assert client.get(reverse("dashboard:notifications")).status_code == 302


@pytest.mark.parametrize("kind", [kind.name for kind in EMAIL_KINDS])
def test_every_emailed_event_has_its_templates(customer, kind):
    from notifications.channels.email import customer_message
    from notifications.channels.telegram import message_text

    event = Event.objects.create(key=f"sample:{kind}", kind=kind, user_id=customer.pk, data={"order": 1, "updates": []})
    message = customer_message(event, customer)
    assert message.subject.startswith("SMM Panel: ") and len(message.subject) > len("SMM Panel: ")
    assert message.body.strip() and message.alternatives[0][0].strip()
    assert message_text(event, customer).strip()
