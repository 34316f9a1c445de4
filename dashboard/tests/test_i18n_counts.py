# ruff: noqa: RUF001 (the Russian texts a translator would write)
"""Customer pages that say a count or a word with two meanings: the live quote's runs and the
webhooks page's retry hours have plural forms, the services page's "Order" button has its own
context (a verb, not the column heading's noun). Texts the catalogues do not have yet are added
for the test, as a translator would write them."""

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, ngettext, pgettext

from backoffice.tests.catalogue import translations_added

RUNS_RU = {
    "%(n)s × %(runs)s run": [
        "%(n)s × %(runs)s запуск",
        "%(n)s × %(runs)s запуска",
        "%(n)s × %(runs)s запусков",
        "%(n)s × %(runs)s запуска",
    ]
}
RETRY = (
    "Answer with any 2xx status within 10 seconds. "
    "Anything else is tried again with growing pauses for %(retry_hours)s hour."
)
RETRY_PLURAL = RETRY.replace("hour.", "hours.")
RETRY_RU = {
    RETRY: [
        f"Ответьте любым статусом 2xx за 10 секунд. Иначе повторим с растущими паузами в течение {form}."
        for form in ("%(retry_hours)s часа", "%(retry_hours)s часов", "%(retry_hours)s часов", "%(retry_hours)s часа")
    ]
}


@pytest.fixture
def russian(customer):
    customer.language = "ru"
    customer.save(update_fields=["language"])
    return customer


def test_the_quote_says_runs_with_plural_forms(client, russian, make_service):
    client.force_login(russian)
    drip = make_service("Default", dripfeed=True)
    url = reverse("dashboard:order_quote")
    with translations_added("ru", RUNS_RU):
        for runs, expected in ((2, "запуска"), (5, "запусков"), (21, "запуск")):
            body = client.get(url, {"service": drip.pk, "quantity": drip.min, "dripfeed": "on", "runs": runs})
            with translation.override("ru"):
                said = ngettext("%(n)s × %(runs)s run", "%(n)s × %(runs)s runs", runs) % {"n": drip.min, "runs": runs}
            assert said == f"{drip.min} × {runs} {expected}"
            assert f"<span>{said}</span>" in body.content.decode()


def test_the_quote_in_english_says_runs(client, customer, make_service):
    client.force_login(customer)
    drip = make_service("Default", dripfeed=True)
    body = client.get(
        reverse("dashboard:order_quote"), {"service": drip.pk, "quantity": drip.min, "dripfeed": "on", "runs": 3}
    )
    assert f"<span>{drip.min} × 3 runs</span>" in body.content.decode()


def test_the_webhooks_page_says_its_retry_hours_with_plural_forms(client, russian, settings):
    client.force_login(russian)
    for hours in (1, 5, 24):
        settings.NOTIFY_RETRY_HOURS = hours
        with translations_added("ru", RETRY_RU):
            body = client.get(reverse("dashboard:webhooks")).content.decode()
            with translation.override("ru"):
                said = ngettext(RETRY, RETRY_PLURAL, hours) % {"retry_hours": hours}
        assert said.startswith("Ответьте") and said in body


def test_the_webhooks_page_in_english_says_one_hour_or_hours(client, customer, settings):
    client.force_login(customer)
    for hours, text in ((1, "for 1 hour."), (24, "for 24 hours.")):
        settings.NOTIFY_RETRY_HOURS = hours
        assert text in client.get(reverse("dashboard:webhooks")).content.decode()


def test_the_services_pages_order_button_is_a_verb_with_its_own_context(client, russian, make_service):
    make_service("Default")
    client.force_login(russian)
    entries = {("button: place an order", "Order"): "Заказать"}
    with translations_added("ru", entries):
        body = client.get(reverse("dashboard:services")).content.decode()
        with translation.override("ru"):
            assert pgettext("button: place an order", "Order") == "Заказать"
            noun = gettext("Order")
    assert ">Заказать</a>" in body
    # The noun keeps its own translation elsewhere.
    assert noun == "Заказ"
