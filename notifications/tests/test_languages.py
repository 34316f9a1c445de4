"""Every email and Telegram message is written in its reader's language: a customer's (the one on
their account, else the one they saved their settings in, else the panel's), a staff member's for
the staff digest, the panel's for the staff chat.

The catalogues are filled in by translators, so these tests check the mechanism (which language
is active while a message is rendered, the html lang attribute), not particular words."""

import pytest
from django.core import mail
from django.utils import translation

from accounts.models import User
from notifications.channels import email as email_channel
from notifications.channels import telegram as telegram_channel
from notifications.models import CustomerSettings, Event
from notifications.services import telegram_link_start, telegram_updates_poll


@pytest.fixture
def rendered_in(monkeypatch):
    """The language active at each render_to_string of the email channel (both channels use it)."""
    languages: list[str] = []
    real = email_channel.render_to_string

    def recording(*args, **kwargs):
        languages.append(translation.get_language())
        return real(*args, **kwargs)

    monkeypatch.setattr(email_channel, "render_to_string", recording)
    monkeypatch.setattr(telegram_channel, "render_to_string", recording)
    return languages


def final_event(customer) -> Event:
    data = {"order": 42, "status": "In progress", "link": "https://x.example/p", "charge": "1.00000", "currency": "USD"}
    return Event.objects.create(key="order:42:final", kind="order.final", user_id=customer.pk, data=data)


def test_a_russian_customer_gets_the_email_subject_and_body_through_the_russian_catalogue(customer, rendered_in):
    customer.language = "ru"
    customer.save(update_fields=["language"])
    message = email_channel.customer_message(final_event(customer), customer)
    # Subject, plain text and HTML: all three rendered in Russian.
    assert rendered_in == ["ru", "ru", "ru"]
    html = message.alternatives[0][0]
    assert '<html lang="ru" dir="ltr">' in html
    # The status word is data: the email shows its label, the event keeps the protocol's word.
    with translation.override("ru"):
        assert translation.gettext("In progress") in html
    assert Event.objects.get(key="order:42:final").data["status"] == "In progress"
    # Rendering in Russian leaves the worker's own language as it was.
    assert translation.get_language() != "ru"


def test_with_a_russian_catalogue_the_subject_reads_in_russian(customer, settings, tmp_path):
    from dashboard.tests.catalogues import install_catalogue

    install_catalogue(
        settings, tmp_path, "ru", {"Order %(order)s: %(status)s": "Заказ %(order)s: %(status)s", "Partial": "Частично"}
    )
    customer.language = "ru"
    customer.save(update_fields=["language"])
    event = final_event(customer)
    event.data["status"] = "Partial"
    assert email_channel.customer_message(event, customer).subject == "SMM Panel: Заказ 42: Частично"


def test_arabic_emails_are_right_to_left(customer):
    customer.language = "ar"
    customer.save(update_fields=["language"])
    html = email_channel.customer_message(final_event(customer), customer).alternatives[0][0]
    assert '<html lang="ar" dir="rtl">' in html


def test_without_a_chosen_language_the_settings_language_then_the_panels(customer, rendered_in, settings):
    assert customer.language == ""
    event = final_event(customer)
    email_channel.customer_message(event, customer)
    assert set(rendered_in) == {settings.LANGUAGE_CODE}
    CustomerSettings.objects.create(user=customer, language="es")
    rendered_in.clear()
    email_channel.customer_message(event, customer)
    assert set(rendered_in) == {"es"}
    # The account's own choice wins over the settings page's; a language not shipped is ignored.
    customer.language = "pt-br"
    assert email_channel.customer_language(customer) == "pt-br"
    customer.language = "xx"
    assert email_channel.customer_language(customer) == "es"


def test_the_telegram_message_is_in_the_customers_language(customer, rendered_in):
    customer.language = "hi"
    customer.save(update_fields=["language"])
    assert telegram_channel.message_text(final_event(customer), customer).strip()
    assert rendered_in == ["hi", "hi"]


def test_the_staff_digest_goes_to_each_address_in_its_staff_members_language(db, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.NOTIFY_STAFF_EMAILS = ["ops@example.com", "Owner@Example.com", "list@example.com"]
    User.objects.create(username="ops", email="ops@example.com", is_staff=True, language="ru")
    User.objects.create(username="owner", email="owner@example.com", is_staff=True, language="tr")
    # A customer who happens to share the list's address does not choose its language.
    User.objects.create(username="someone", email="list@example.com", language="ar")
    events = [Event.objects.create(key=f"alert:{n}", kind="order.attention", data={"message": f"#{n}"}) for n in (1, 2)]
    assert email_channel.staff_digest(events).ok
    by_language = {}
    for message in mail.outbox:
        html = message.alternatives[0][0]
        language = html.split('lang="', 1)[1].split('"', 1)[0]
        by_language[language] = message.to
        assert "#1" in message.body and "#2" in message.body
    assert by_language == {
        "ru": ["ops@example.com"],
        "tr": ["Owner@Example.com"],
        settings.LANGUAGE_CODE: ["list@example.com"],
    }
    with translation.override("tr"):
        expected = translation.ngettext("%(n)s staff alert", "%(n)s staff alerts", 2) % {"n": 2}
    [turkish] = [m for m in mail.outbox if m.to == ["Owner@Example.com"]]
    assert turkish.subject.endswith(expected)


def test_the_bot_answers_in_the_linked_customers_language(customer, telegram_bot, bot_api, monkeypatch):
    from notifications import services

    answered_in: list[str] = []
    real = services.gettext

    def recording(text):
        answered_in.append(translation.get_language())
        return real(text)

    monkeypatch.setattr(services, "gettext", recording)
    customer.language = "id"
    customer.save(update_fields=["language"])
    code = telegram_link_start(user_id=customer.pk)
    bot_api.user_sends(555, f"/start {code}")
    telegram_updates_poll()
    bot_api.user_sends(555, "/stop")
    telegram_updates_poll()
    assert answered_in == ["id", "id"]
    assert len(bot_api.messages_to(555)) == 2


def test_a_stranger_is_answered_in_the_language_of_their_telegram_app(telegram_bot, bot_api, monkeypatch):
    from notifications import services

    answered_in: list[str] = []
    real = services.gettext
    monkeypatch.setattr(services, "gettext", lambda text: answered_in.append(translation.get_language()) or real(text))
    bot_api.user_sends(777, "/start not-a-code")
    bot_api.updates[-1]["message"]["from"]["language_code"] = "es"
    bot_api.user_sends(778, "/start not-a-code")
    bot_api.updates[-1]["message"]["from"]["language_code"] = "de"  # not shipped: the panel's
    telegram_updates_poll()
    assert answered_in == ["es", "en"]
