"""Account: sign-up with email verification (allauth), active sessions and signing out elsewhere."""

import re

import pytest
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import User

PASSWORD = "a-Long-pass-123"


@pytest.fixture(autouse=True)
def _no_rate_limits_left_over():
    cache.clear()


def _sign_up(client, name="newbie"):
    return client.post(
        reverse("account_signup"),
        {"email": f"{name}@example.com", "username": name, "password1": PASSWORD, "password2": PASSWORD},
    )


def _link(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+/)", message.body).group(1)


def test_mandatory_verification_blocks_sign_in_until_the_link_is_followed(client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    response = _sign_up(client)
    assert response.status_code == 302 and response["Location"] == reverse("account_email_verification_sent")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["newbie@example.com"]
    assert not EmailAddress.objects.get(email="newbie@example.com").verified
    assert client.get("/").status_code == 302  # not signed in

    # Signing in before verifying sends the visitor back to the "check your email" page.
    again = Client()
    response = again.post(reverse("account_login"), {"login": "newbie", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in again.session

    link = _link(mail.outbox[0])
    assert client.get(link).status_code == 200
    confirmed = client.post(link)
    assert confirmed.status_code == 302
    assert EmailAddress.objects.get(email="newbie@example.com").verified

    later = Client()
    response = later.post(reverse("account_login"), {"login": "newbie", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert later.get("/").status_code == 200


def test_the_verification_email_carries_the_branding(client, settings):
    from site_pages.models import Branding
    from site_pages.services import branding_save

    branding_save(actor_id=None, row=Branding(panel_name="BoostHub"))
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    _sign_up(client, "branded")
    message = mail.outbox[0]
    assert message.subject.startswith("[BoostHub] ")
    assert "Hello from BoostHub!" in message.body and "/accounts/confirm-email/" in message.body


def test_optional_verification_signs_in_and_still_sends_the_link(client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    assert _sign_up(client, "quick").status_code == 302
    assert client.get("/").status_code == 200
    assert len(mail.outbox) == 1
    client.post(_link(mail.outbox[0]))
    assert EmailAddress.objects.get(email="quick@example.com").verified


def test_a_wrong_or_reused_key_verifies_nothing(client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    _sign_up(client)
    assert client.post("/accounts/confirm-email/not-a-key/").status_code in (200, 404)
    assert not EmailAddress.objects.get(email="newbie@example.com").verified


def test_sessions_page_lists_each_sign_in_and_signs_out_the_others(db):
    User.objects.create_user(username="multi", email="multi@example.com", password=PASSWORD)
    laptop, phone = Client(HTTP_USER_AGENT="Laptop browser"), Client(HTTP_USER_AGENT="Phone browser")
    for device in (laptop, phone):
        assert device.post(reverse("account_login"), {"login": "multi", "password": PASSWORD}).status_code == 302
        assert device.get("/").status_code == 200
    assert UserSession.objects.filter(user__username="multi").count() == 2
    page = laptop.get(reverse("usersessions_list")).content.decode()
    assert "Laptop browser" in page and "Phone browser" in page

    assert laptop.post(reverse("usersessions_list")).status_code == 302
    assert laptop.get("/").status_code == 200  # this session stays
    assert phone.get("/").status_code == 302  # the other one is signed out
    assert UserSession.objects.filter(user__username="multi").count() == 1
