"""The dashboard in the customer's language: refusals the order engine words in the protocol's
English are shown translated on pages and stay English in the API; status words stored as the
protocol's are shown through their labels; form help built once is read in each request's language."""

import json

import pytest
from django.urls import reverse
from django.utils import translation

from accounts.services import api_key_rotate
from dashboard.templatetags.labels import status_label
from dashboard.tests.catalogues import install_catalogue
from orders.errors import OrderError
from orders.models import Order
from orders.placement import order_place
from upstream.lines import LineError, split_lines

RUSSIAN = {
    "Quantity more than maximum %(limit_value)s": "Количество больше максимального %(limit_value)s",
    "Incorrect service ID": "Неверный ID услуги",
    "Comments": "Комментарии",
    "%(label)s contains a control character on line %(line)s (U+%(code)s)": (
        "%(label)s: управляющий символ в строке %(line)s (U+%(code)s)"
    ),
    "In progress": "Выполняется",
    "Images (PNG, JPEG, GIF, WebP) or PDF, up to %(n)s files of %(mb)s MB each.": (
        "Изображения или PDF, до %(n)s файлов по %(mb)s МБ."
    ),
}


@pytest.fixture
def russian(settings, tmp_path, customer):
    install_catalogue(settings, tmp_path, "ru", RUSSIAN)
    customer.language = "ru"
    customer.save(update_fields=["language"])
    return customer


def test_a_refusal_is_english_for_the_api_and_translated_for_a_page(russian):
    error = OrderError("Quantity more than maximum %(limit_value)s", "quantity", {"limit_value": 500})
    with translation.override("ru"):
        assert error.message == str(error) == "Quantity more than maximum 500"
        assert error.translated() == "Количество больше максимального 500"
    assert error.translated() == "Quantity more than maximum 500"


def test_a_line_refusal_translates_the_field_it_names(russian):
    with pytest.raises(LineError) as caught:
        split_lines("ok\nbad\x07line", label="Comments")
    assert caught.value.message == "Comments contains a control character on line 2 (U+0007)"
    with translation.override("ru"):
        assert caught.value.translated() == "Комментарии: управляющий символ в строке 2 (U+0007)"


def test_the_order_page_shows_the_refusal_in_russian_and_the_api_answers_english(
    client, russian, make_service, settings
):
    service = make_service("Default")
    client.force_login(russian)
    data = {
        "service": service.pk,
        "idempotency_key": "k-ru",
        "link": "https://example.com/p",
        "quantity": service.max + 1,
    }
    page = client.post(reverse("dashboard:order_new"), data).content.decode()
    assert f"Количество больше максимального {service.max}" in page
    assert '<html lang="ru"' in page
    # The same refusal through the API, asked in Russian by a Russian customer: the protocol's English.
    key = api_key_rotate(user=russian)
    answer = client.post(
        "/api/v2",
        {
            "key": key,
            "action": "add",
            "service": service.pk,
            "link": "https://example.com/p",
            "quantity": service.max + 1,
        },
        HTTP_ACCEPT_LANGUAGE="ru",
    )
    assert json.loads(answer.content) == {"error": f"Quantity more than maximum {service.max}"}
    assert not Order.objects.exists()


def test_a_mass_order_line_refused_is_shown_in_russian(client, russian):
    client.force_login(russian)
    page = client.post(
        reverse("dashboard:order_mass"), {"idempotency_key": "m-ru", "orders": "999999 | https://x.example/p | 100"}
    )
    assert "Неверный ID услуги" in page.content.decode()


def test_the_orders_list_shows_the_status_label_and_keeps_the_stored_word(client, russian, make_service):
    service = make_service("Default")
    order = order_place(
        user=russian, service_id=service.pk, data={"link": "https://example.com/q", "quantity": service.min}
    ).order
    Order.objects.filter(pk=order.pk).update(status="In progress")
    client.force_login(russian)
    page = client.get(reverse("dashboard:orders")).content.decode()
    assert 'data-status="In progress">Выполняется<' in page
    # The tab of that status reads the same label.
    assert ">Выполняется</a>" in page
    assert Order.objects.get(pk=order.pk).status == "In progress"


def test_status_label_passes_unknown_words_through(russian):
    with translation.override("ru"):
        assert status_label("In progress") == "Выполняется"
        assert status_label("Something else") == "Something else"
        assert status_label(None) == ""


def test_the_ticket_forms_attachment_help_follows_the_request_language(client, russian):
    client.force_login(russian)
    assert "Изображения или PDF, до 3 файлов по 5 МБ." in client.get(reverse("dashboard:tickets")).content.decode()
    russian.language = "en"
    russian.save(update_fields=["language"])
    assert "Images (PNG, JPEG, GIF, WebP) or PDF" in client.get(reverse("dashboard:tickets")).content.decode()


def test_the_orders_export_titles_are_translated_and_the_cells_stay_data(client, russian, settings, tmp_path):
    install_catalogue(settings, tmp_path / "more", "ru", {**RUSSIAN, "Status": "Статус"})
    client.force_login(russian)
    response = client.get(reverse("dashboard:orders_export"))
    header = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()[0]
    assert header.endswith(",Статус")
