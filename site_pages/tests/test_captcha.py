"""The optional captcha on sign-up and login (django-simple-captcha, drawn by the panel: no network)."""

import re

import pytest
from captcha.models import CaptchaStore
from django.core.cache import cache
from django.urls import reverse

from accounts.models import User

PASSWORD = "a-Long-pass-123"


@pytest.fixture(autouse=True)
def _fresh():
    cache.clear()


def _challenge(client, url):
    page = client.get(url).content.decode()
    key = re.search(r'name="captcha_0" value="([0-9a-f]+)"', page).group(1)
    return page, key, CaptchaStore.objects.get(hashkey=key).response


def _signup(name, **extra):
    return {"email": f"{name}@example.com", "username": name, "password1": PASSWORD, "password2": PASSWORD} | extra


def test_off_by_default_no_captcha_field(client):
    page = client.get(reverse("account_signup")).content.decode()
    assert "captcha" not in page
    assert client.post(reverse("account_signup"), _signup("plain")).status_code == 302
    assert User.objects.filter(username="plain").exists()


def test_on_sign_up_needs_the_right_answer_once(client, settings):
    settings.PANEL_CAPTCHA = True
    page, key, answer = _challenge(client, reverse("account_signup"))
    image = re.search(r'<img src="([^"]+)" alt="captcha"', page).group(1)
    drawn = client.get(image)
    assert drawn.status_code == 200 and drawn["Content-Type"] == "image/png"

    wrong = client.post(reverse("account_signup"), _signup("bot", captcha_0=key, captcha_1="nope"))
    assert wrong.status_code == 200 and "do not match the picture" in wrong.content.decode()
    assert not User.objects.filter(username="bot").exists()

    page, key, answer = _challenge(client, reverse("account_signup"))
    ok = client.post(reverse("account_signup"), _signup("human", captcha_0=key, captcha_1=answer))
    assert ok.status_code == 302 and User.objects.filter(username="human").exists()
    # The same challenge cannot be replayed for a second account.
    client.logout()
    replay = client.post(reverse("account_signup"), _signup("replay", captcha_0=key, captcha_1=answer))
    assert replay.status_code == 200 and not User.objects.filter(username="replay").exists()


def test_on_login_needs_the_answer_too(client, settings):
    User.objects.create_user(username="buyer", email="buyer@example.com", password=PASSWORD)
    settings.PANEL_CAPTCHA = True
    _, key, answer = _challenge(client, reverse("account_login"))
    refused = client.post(
        reverse("account_login"), {"login": "buyer", "password": PASSWORD, "captcha_0": key, "captcha_1": "x"}
    )
    assert refused.status_code == 200 and "_auth_user_id" not in client.session
    _, key, answer = _challenge(client, reverse("account_login"))
    accepted = client.post(
        reverse("account_login"), {"login": "buyer", "password": PASSWORD, "captcha_0": key, "captcha_1": answer}
    )
    assert accepted.status_code == 302 and client.get("/").status_code == 200
