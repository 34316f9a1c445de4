"""Webhooks to API customers: the SSRF guard at save and at connect time, the customer's actions
(test event, send again, new secret, remove) and what the log keeps."""

import socket
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from notifications.models import Delivery, Event, WebhookEndpoint
from notifications.services import (
    delivery_resend,
    delivery_send,
    webhook_endpoint_delete,
    webhook_endpoint_save,
    webhook_secret_rotate,
    webhook_test_send,
)
from panel.events import DomainEvent, emit
from upstream.urlguard import UnsafeURL


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8000/hook", "private or reserved"),
        ("https://169.254.169.254/latest/meta-data", "private or reserved"),
        ("https://[::ffff:10.0.0.1]/hook", "private or reserved"),
        ("ftp://example.com/hook", "must start with http"),
        ("https://user:pw@example.com/hook", "user name or password"),
        ("http://93.184.216.34/hook", "must start with https://"),
    ],
)
def test_the_url_is_refused_when_saved(customer, settings, url, message):
    settings.UPSTREAM_ALLOW_PRIVATE = False
    with pytest.raises(UnsafeURL, match=message):
        webhook_endpoint_save(user_id=customer.pk, url=url, kinds=[])
    assert not WebhookEndpoint.objects.exists()


def test_a_name_that_resolves_elsewhere_at_connect_time_is_refused(customer, receiver, settings, monkeypatch):
    """DNS rebinding: the name resolves to a public address when checked, then to loopback."""
    settings.UPSTREAM_ALLOW_PRIVATE = False
    port = urlsplit(receiver.url).port
    answers = iter(["93.184.216.34"] + ["127.0.0.1"] * 10)
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host == "hooks.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    _endpoint, _ = webhook_endpoint_save(user_id=customer.pk, url=f"https://hooks.example.test:{port}/in", kinds=[])
    emit(DomainEvent(kind="balance.low", key="balance:1:low:1", user_id=customer.pk, data={}))
    event = Event.objects.get()
    delivery = Delivery.objects.create(event=event, channel="webhook", user=customer, next_attempt_at=event.created_at)
    assert delivery_send(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert "private or reserved" in delivery.last_error or "address check" in delivery.last_error
    assert receiver.requests == []


def test_the_log_keeps_no_secret_of_the_url(customer, receiver, on_commit):
    _endpoint, secret = webhook_endpoint_save(user_id=customer.pk, url=receiver.url + "?token=hunter2", kinds=[])
    receiver.secret = secret
    receiver.answers = [500]
    with on_commit():
        emit(DomainEvent(kind="balance.low", key="balance:1:low:1", user_id=customer.pk, data={}))
    delivery = Delivery.objects.get(channel="webhook")
    assert receiver.requests[0]["path"] == "/hooks/panel?token=hunter2"
    assert "hunter2" not in delivery.recipient and "hunter2" not in delivery.last_error
    assert delivery.recipient == receiver.url


def test_only_the_chosen_kinds_are_sent(customer, receiver, on_commit):
    _, receiver.secret = webhook_endpoint_save(user_id=customer.pk, url=receiver.url, kinds=["order.final"])
    with on_commit():
        emit(DomainEvent(kind="order.status", key="order-event:1", user_id=customer.pk, data={"order": 1}))
        emit(DomainEvent(kind="order.final", key="order:1:final", user_id=customer.pk, data={"order": 1}))
    assert [event["type"] for event in receiver.events] == ["order.final"]
    with pytest.raises(ValueError, match="Unknown event types"):
        webhook_endpoint_save(user_id=customer.pk, url=receiver.url, kinds=["ticket.answered"])


def test_a_turned_off_endpoint_gets_nothing(customer, endpoint, receiver, on_commit):
    WebhookEndpoint.objects.update(enabled=False)
    with on_commit():
        emit(DomainEvent(kind="order.final", key="order:1:final", user_id=customer.pk, data={}))
    assert receiver.requests == [] and not Delivery.objects.exists()


def test_test_event_send_again_and_a_new_secret(customer, endpoint, receiver, on_commit):
    with on_commit():
        event = webhook_test_send(user_id=customer.pk)
    assert [e["type"] for e in receiver.events] == ["webhook.test"]
    first = Delivery.objects.get()
    with on_commit():
        again = delivery_resend(delivery_id=first.pk, user_id=customer.pk)
    assert (again.copy, again.event_id) == (1, event.pk)
    assert len(receiver.events) == 2
    assert receiver.requests[1]["headers"]["webhook-id"] == event.public_id

    old_secret = receiver.secret
    new_secret = webhook_secret_rotate(user_id=customer.pk)
    assert new_secret != old_secret and new_secret.startswith("whsec_")
    with on_commit():
        delivery_resend(delivery_id=first.pk, user_id=customer.pk)
    assert receiver.requests[-1]["verified"] is False  # the receiver still holds the old secret
    receiver.secret = new_secret
    with on_commit():
        delivery_resend(delivery_id=first.pk, user_id=customer.pk)
    assert receiver.requests[-1]["verified"] is True
    assert sorted(Delivery.objects.values_list("copy", flat=True)) == [0, 1, 2, 3]


def test_nobody_sends_again_someone_elses_delivery(customer, endpoint, receiver, django_user_model, on_commit):
    with on_commit():
        webhook_test_send(user_id=customer.pk)
    other = django_user_model.objects.create(username="other")
    with pytest.raises(Delivery.DoesNotExist):
        delivery_resend(delivery_id=Delivery.objects.get().pk, user_id=other.pk)


def test_removing_the_endpoint_cancels_what_waits(customer, endpoint, receiver, on_commit):
    receiver.answers = [500]
    with on_commit():
        emit(DomainEvent(kind="order.final", key="order:1:final", user_id=customer.pk, data={}))
    webhook_endpoint_delete(user_id=customer.pk)
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.last_error) == ("canceled", "The endpoint was removed.")


# --- The pages ---------------------------------------------------------------------------------


@pytest.fixture
def client_in(client, customer, plain_static_storage):
    client.force_login(customer)
    return client


def test_saving_an_endpoint_shows_the_secret_once(client_in, customer, receiver):
    page = client_in.post(reverse("dashboard:webhooks_save"), {"url": receiver.url, "enabled": "on"})
    assert page.status_code == 200
    secret = WebhookEndpoint.objects.get().secret
    assert secret in page.content.decode() and page["Cache-Control"] == "no-store"
    assert secret not in client_in.get(reverse("dashboard:webhooks")).content.decode()
    # Saving again keeps the secret and does not show it.
    again = client_in.post(reverse("dashboard:webhooks_save"), {"url": receiver.url, "enabled": "on"})
    assert again.status_code == 302 and WebhookEndpoint.objects.get().secret == secret


def test_a_refused_url_is_a_form_error(client_in, settings):
    settings.UPSTREAM_ALLOW_PRIVATE = False
    page = client_in.post(reverse("dashboard:webhooks_save"), {"url": "https://10.0.0.5/hook", "enabled": "on"})
    assert page.status_code == 400
    assert "private or reserved" in page.content.decode()
    assert not WebhookEndpoint.objects.exists()
    page = client_in.post(reverse("dashboard:webhooks_save"), {"url": "", "kinds": ["nope"]})
    assert page.status_code == 400


def test_send_again_of_an_unknown_delivery_is_404(client_in):
    assert client_in.post(reverse("dashboard:webhooks_resend", args=[99999])).status_code == 404


def test_the_page_documents_the_contract(client_in):
    text = client_in.get(reverse("dashboard:webhooks")).content.decode()
    for words in ("webhook-id", "webhook-timestamp", "webhook-signature", "hash_hmac", "hmac.compare_digest"):
        assert words in text


def test_sends_from_the_page_are_a_few_seconds_apart(client_in, customer, endpoint, receiver):
    assert client_in.post(reverse("dashboard:webhooks_test")).status_code == 302
    page = client_in.post(reverse("dashboard:webhooks_test"), follow=True)
    assert "wait a few seconds between sends" in page.content.decode()
    assert Event.objects.filter(kind="webhook.test").count() == 1


def test_staff_try_failed_deliveries_again_but_never_sent_ones(customer, endpoint, receiver, on_commit):
    from notifications.services import deliveries_retry

    receiver.answers = [404]
    with on_commit():
        emit(DomainEvent(kind="order.final", key="order:1:final", user_id=customer.pk, data={}))
        emit(DomainEvent(kind="order.final", key="order:2:final", user_id=customer.pk, data={}))
    failed, sent = Delivery.objects.order_by("id")
    Delivery.objects.filter(pk=failed.pk).update(state="failed")
    with on_commit():
        assert deliveries_retry(delivery_ids=[failed.pk, sent.pk]) == 1
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == ("sent", 2)
    assert len(receiver.requests) == 3
