"""allauth's emails in the language of the account they are about: a visitor who signs up in
Russian keeps Russian on the account and gets the verification in it; a password reset asked for
from an English page reaches a Turkish customer in Turkish. (allauth ships these catalogues.)"""

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from django.utils import translation

from accounts.models import User

PASSWORD = "a-Long-pass-123"


@pytest.fixture(autouse=True)
def _no_rate_limits_left_over():
    cache.clear()


def _in(language: str, english: str) -> str:
    with translation.override(language):
        return translation.gettext(english)


def test_a_visitor_signing_up_in_russian_keeps_it_and_is_written_to_in_it(client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    client.post(
        reverse("account_signup"),
        {"email": "ivan@example.com", "username": "ivan", "password1": PASSWORD, "password2": PASSWORD},
        HTTP_ACCEPT_LANGUAGE="ru",
    )
    assert User.objects.get(username="ivan").language == "ru"
    [message] = mail.outbox
    russian = _in("ru", "Please Confirm Your Email Address")
    assert russian != "Please Confirm Your Email Address"
    assert message.subject.endswith(russian)


def test_a_password_reset_reaches_the_customer_in_their_language_whatever_the_page(client, db):
    User.objects.create_user(username="ayse", email="ayse@example.com", password=PASSWORD, language="tr")
    client.post(reverse("account_reset_password"), {"email": "ayse@example.com"}, HTTP_ACCEPT_LANGUAGE="en")
    [message] = mail.outbox
    turkish = _in("tr", "Password Reset Email")
    assert turkish != "Password Reset Email"
    assert message.subject.endswith(turkish)
    # Nothing leaks into the page's own language.
    assert translation.get_language() != "tr"


def test_without_a_language_on_the_account_the_page_language_is_used(client, db):
    User.objects.create_user(username="pat", email="pat@example.com", password=PASSWORD)
    client.post(reverse("account_reset_password"), {"email": "pat@example.com"}, HTTP_ACCEPT_LANGUAGE="es")
    [message] = mail.outbox
    assert message.subject.endswith(_in("es", "Password Reset Email"))
