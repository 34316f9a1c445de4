"""The updates feed (catalog scans, publishing, the webhook event, the email digest) and
announcements (audience, sticky, dismissed, dates)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from catalog.models import Service
from notifications.announcements import announcement_dismiss, announcements_for
from notifications.models import Announcement, CatalogUpdate, Event, UpdatesSettings
from notifications.services import preferences_save
from notifications.updates import catalog_scan, updates_digest_send, updates_publish
from testing.concurrency import run_together


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def changes() -> list[tuple]:
    return list(CatalogUpdate.objects.order_by("id").values_list("service_id", "kind", "old_rate", "new_rate"))


def test_the_scan_finds_new_price_disabled_and_back_once_each(make_service):
    first = make_service("Default")
    assert catalog_scan() == []  # the first scan records the catalog as it is
    second = make_service("Custom Comments")
    Service.objects.filter(pk=first.pk).update(rate=first.rate + 1)
    catalog_scan()
    assert catalog_scan() == []  # nothing changed since
    Service.objects.filter(pk=first.pk).update(rate=first.rate - 1)
    Service.objects.filter(pk=second.pk).update(enabled=False)
    catalog_scan()
    Service.objects.filter(pk=second.pk).update(enabled=True)
    catalog_scan()
    assert changes() == [
        (first.pk, "price_up", first.rate, first.rate + 1),
        (second.pk, "new", None, second.rate),
        (first.pk, "price_down", first.rate + 1, first.rate - 1),
        (second.pk, "disabled", second.rate, None),
        (second.pk, "back", second.rate, second.rate),
    ]
    assert CatalogUpdate.objects.filter(published_at__isnull=True).count() == 0


@pytest.mark.django_db(transaction=True)
def test_scans_running_at_once_record_each_change_once(make_service):
    service = make_service("Default")
    catalog_scan()
    Service.objects.filter(pk=service.pk).update(rate=service.rate * 2)
    run_together(4, lambda index: catalog_scan())
    assert changes() == [(service.pk, "price_up", service.rate, service.rate * 2)]


def test_staff_choose_what_is_published_and_publishing_tells_webhooks(
    make_service, customer, endpoint, receiver, on_commit
):
    service = make_service("Default")
    catalog_scan()
    UpdatesSettings.objects.filter(pk=1).update(publish_price_up=False)
    Service.objects.filter(pk=service.pk).update(rate=service.rate + Decimal("0.5"))
    with on_commit():
        [update] = catalog_scan()
    assert update.published_at is None and receiver.requests == []
    with on_commit():
        assert updates_publish(update_ids=[update.pk]) == 1
        assert updates_publish(update_ids=[update.pk]) == 0
    [event] = receiver.events
    assert event["type"] == "catalog.update"
    assert event["data"] == {
        "update": update.pk,
        "service": service.pk,
        "name": service.name,
        "change": "price_up",
        "old_rate": f"{service.rate:.5f}",
        "new_rate": f"{service.rate + Decimal('0.5'):.5f}",
        "currency": "USD",
    }


def test_the_updates_page_lists_what_was_published(client, customer, make_service, plain_static_storage):
    service = make_service("Default")
    catalog_scan()
    UpdatesSettings.objects.filter(pk=1).update(publish_disabled=False)
    Service.objects.filter(pk=service.pk).update(rate=service.rate + 1)
    catalog_scan()
    Service.objects.filter(pk=service.pk).update(enabled=False)
    catalog_scan()
    client.force_login(customer)
    text = client.get(reverse("dashboard:updates")).content.decode()
    assert "Price up" in text and service.name in text
    assert 'class="badge bad"' not in text  # the disabled one is not published
    assert "No updates yet." in client.get(reverse("dashboard:updates") + "?kind=new").content.decode()
    assert client.get(reverse("dashboard:updates") + "?kind=<script>&page=x").status_code == 200


def test_the_daily_digest_lists_the_published_updates(customer, make_service, on_commit):
    service = make_service("Default")
    catalog_scan()
    Service.objects.filter(pk=service.pk).update(rate=service.rate + 1)
    catalog_scan()
    with on_commit():
        assert updates_digest_send() == 0  # nobody asked for it (off by default)
    preferences_save(user_id=customer.pk, choices={("catalog.digest", "email"): True}, balance_threshold=None)
    with on_commit():
        assert updates_digest_send() == 1
        assert updates_digest_send() == 0  # nothing new since
    [message] = mail.outbox
    assert message.subject == "SMM Panel: 1 catalog update"
    assert f"Price up: {service.name} (#{service.pk})" in message.body
    assert Event.objects.get(kind="catalog.digest").user_id == customer.pk


# --- Announcements -----------------------------------------------------------------------------


def test_announcements_by_audience_dates_sticky_and_dismissed(customer, django_user_model):
    other = django_user_model.objects.create(username="other")
    everyone = Announcement.objects.create(title="Maintenance tonight")
    pinned = Announcement.objects.create(title="New payment method", sticky=True)
    targeted = Announcement.objects.create(title="Your discount")
    targeted.audience.add(customer)
    Announcement.objects.create(title="Over", ends_at=timezone.now() - timedelta(minutes=1))
    Announcement.objects.create(title="Later", starts_at=timezone.now() + timedelta(hours=1))
    Announcement.objects.create(title="Off", active=False)

    assert [a.title for a in announcements_for(user_id=customer.pk)] == [
        "New payment method",
        "Your discount",
        "Maintenance tonight",
    ]
    assert [a.title for a in announcements_for(user_id=other.pk)] == ["New payment method", "Maintenance tonight"]
    assert announcement_dismiss(user_id=customer.pk, announcement_id=everyone.pk) is True
    assert announcement_dismiss(user_id=customer.pk, announcement_id=everyone.pk) is False
    assert announcement_dismiss(user_id=customer.pk, announcement_id=pinned.pk) is False  # sticky
    assert announcement_dismiss(user_id=other.pk, announcement_id=targeted.pk) is False  # not theirs
    assert [a.title for a in announcements_for(user_id=customer.pk)] == ["New payment method", "Your discount"]
    assert [a.title for a in announcements_for(user_id=other.pk)] == ["New payment method", "Maintenance tonight"]


def test_the_dashboard_shows_them_and_dismisses_by_post(client, customer, plain_static_storage):
    note = Announcement.objects.create(title="Maintenance tonight", body="From 02:00 UTC.")
    client.force_login(customer)
    home = client.get(reverse("dashboard:home")).content.decode()
    assert "Maintenance tonight" in home and "From 02:00 UTC." in home
    assert client.post(reverse("dashboard:announcement_dismiss", args=[note.pk])).status_code == 302
    assert "Maintenance tonight" not in client.get(reverse("dashboard:home")).content.decode()
    assert client.post(reverse("dashboard:announcement_dismiss", args=[99999])).status_code == 302
