"""Google sign-in through allauth against a local fake of Google's OAuth 2.0 / OpenID endpoints."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialApp
from allauth.socialaccount.providers.google.views import GoogleOAuth2Adapter
from django.core.cache import cache

from accounts.models import User

from .fake_google import FakeGoogle

PERSON = {"sub": "109876543210", "email": "gina@example.com", "email_verified": True, "name": "Gina Google"}


@pytest.fixture
def google(db, monkeypatch):
    cache.clear()
    fake = FakeGoogle(client_id="panel-client.apps.example", client_secret="fake-secret", person=dict(PERSON))
    # allauth reads Google's addresses into the adapter when it is imported; point them at the fake.
    monkeypatch.setattr(GoogleOAuth2Adapter, "authorize_url", f"{fake.url}/o/oauth2/v2/auth")
    monkeypatch.setattr(GoogleOAuth2Adapter, "access_token_url", f"{fake.url}/token")
    SocialApp.objects.create(provider="google", name="Google", client_id=fake.client_id, secret=fake.client_secret)
    yield fake
    fake.close()


def _to_google(client) -> str:
    page = client.get("/accounts/google/login/?process=login")
    assert page.status_code == 200
    # The confirmation page may send its form's redirect to Google, and nowhere else.
    form_action = re.search(r"form-action ([^;]+)", page["Content-Security-Policy"]).group(1)
    assert form_action.split() == ["'self'", client.fake_origin]
    answer = client.post("/accounts/google/login/?process=login")
    assert answer.status_code == 302 and answer["Location"].startswith(client.fake_origin)
    return answer["Location"]


def test_no_google_button_until_staff_add_the_app(client, db):
    page = client.get("/accounts/login/").content.decode()
    assert "/accounts/google/login/" not in page


def test_google_sign_in_creates_a_verified_customer_and_signs_in(client, google):
    client.fake_origin = google.url
    assert "/accounts/google/login/" in client.get("/accounts/login/").content.decode()
    authorize = _to_google(client)
    query = parse_qs(urlsplit(authorize).query)
    assert query["client_id"] == [google.client_id] and query["code_challenge_method"] == ["S256"]
    back = requests.get(authorize, allow_redirects=False, timeout=5)
    assert back.status_code == 302
    callback = urlsplit(back.headers["Location"])
    assert callback.path == "/accounts/google/login/callback/"
    done = client.get(f"{callback.path}?{callback.query}")
    assert done.status_code == 302, done.content[:500]
    assert google.token_calls == 1
    assert client.get("/").status_code == 200
    user = User.objects.get(email="gina@example.com")
    assert SocialAccount.objects.get(user=user).uid == "109876543210"
    assert EmailAddress.objects.get(user=user).verified
    # The same Google account signs the same customer in again: no second user.
    client.logout()
    back = requests.get(_to_google(client), allow_redirects=False, timeout=5)
    callback = urlsplit(back.headers["Location"])
    client.get(f"{callback.path}?{callback.query}")
    assert client.get("/").status_code == 200
    assert User.objects.filter(email="gina@example.com").count() == 1


def test_a_refused_code_signs_nobody_in(client, google):
    client.fake_origin = google.url
    back = requests.get(_to_google(client), allow_redirects=False, timeout=5)
    callback = urlsplit(back.headers["Location"])
    google.codes.clear()  # the code was already used or expired: Google answers invalid_grant
    failed = client.get(f"{callback.path}?{callback.query}")
    # allauth's "Third-Party Login Failure" page (401), never a 500, and no secret on it.
    assert failed.status_code == 401 and "fake-secret" not in failed.content.decode()
    assert client.get("/").status_code == 302
    assert not User.objects.filter(email="gina@example.com").exists()


def test_a_forged_state_is_refused(client, google):
    client.fake_origin = google.url
    back = requests.get(_to_google(client), allow_redirects=False, timeout=5)
    callback = urlsplit(back.headers["Location"])
    forged = re.sub(r"state=[^&]+", "state=forged", callback.query)
    client.get(f"{callback.path}?{forged}")
    assert client.get("/").status_code == 302
    assert google.token_calls == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/accounts/google/login/", "/accounts/google/login/callback/", "/accounts/google/login/token/"]
)
def test_google_addresses_answer_404_until_google_sign_in_is_set_up(client, path):
    from allauth.socialaccount.models import SocialApp

    SocialApp.objects.filter(provider="google").delete()
    assert client.get(path).status_code == 404
    assert client.post(path).status_code == 404
