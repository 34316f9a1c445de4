"""The API's language: names in the panel's default language unless `services` is given a `lang`
of a shipped language; junk in `lang` answers in the default language; the caller's
Accept-Language, language cookie or signed-in account never change an answer."""

import pytest
from django.conf import settings
from django.urls import reverse

from api.apis import answer_language
from catalog.translation import column

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(make_service):
    """Three services: one translated into Russian, Portuguese and Indonesian with its category,
    one translated into Russian only, one not translated."""
    full = make_service("Default")
    full.name_ru, full.name_pt_br, full.name_ind = "Подписчики", "Seguidores", "Pengikut"
    full.save()
    category = full.category
    category.name_ru = "Категория"
    category.save()
    some = make_service("Package")
    some.name_ru = "Пакет"
    some.save()
    plain = make_service("Custom Comments")
    return full, some, plain


def names(answer) -> dict[int, tuple[str, str]]:
    return {entry["service"]: (entry["name"], entry["category"]) for entry in answer.json}


def test_names_are_in_the_default_language_without_lang(call, key, catalog):
    answer = call(key, "services")
    assert names(answer) == {s.pk: (s.name_en, s.category.name_en) for s in catalog}
    assert answer.response["Content-Language"] == settings.LANGUAGE_CODE


def test_lang_ru_answers_russian_names_with_the_default_for_the_untranslated(call, key, catalog):
    full, some, plain = catalog
    default = call(key, "services").json
    answer = call(key, "services", lang="ru")
    assert names(answer) == {
        full.pk: ("Подписчики", "Категория"),
        some.pk: ("Пакет", some.category.name_en if some.category_id != full.category_id else "Категория"),
        plain.pk: (plain.name_en, plain.category.name_en if plain.category_id != full.category_id else "Категория"),
    }
    assert answer.response["Content-Language"] == "ru"
    # Only the names differ: same services, order, prices and flags, byte for byte otherwise.
    strip = [{k: v for k, v in entry.items() if k not in ("name", "category")} for entry in answer.json]
    assert strip == [{k: v for k, v in entry.items() if k not in ("name", "category")} for entry in default]
    # And the next call without `lang` is back in the default language (nothing cached by language).
    assert call(key, "services").json == default


@pytest.mark.parametrize(
    ("sent", "language"),
    [
        ("ru", "ru"),
        ("RU", "ru"),
        (" ru ", "ru"),
        ("ru_RU", "ru"),
        ("pt-br", "pt-br"),
        ("pt_BR", "pt-br"),
        ("PT", "pt-br"),
        ("id", "id"),
        ("en-US", "en"),
    ],
)
def test_lang_takes_a_shipped_language_in_the_spellings_clients_send(call, key, catalog, sent, language):
    full = catalog[0]
    answer = call(key, "services", lang=sent)
    assert answer.response["Content-Language"] == language
    assert names(answer)[full.pk][0] == (getattr(full, column("name", language)) or full.name_en)


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "xx",
        "klingon",
        "zh-hans",
        "ru;q=0.9",
        "ru,en",
        "../../etc/passwd",
        "\u0440\u0443",  # Cyrillic letters that look like "py"
        "r" * 500,
        "0",
        "null",
        "\t",
    ],
)
def test_an_unknown_lang_answers_in_the_default_language(call, key, catalog, junk):
    default = call(key, "services")
    answer = call(key, "services", lang=junk)
    assert answer.raw == default.raw
    assert answer.response["Content-Language"] == settings.LANGUAGE_CODE


def test_lang_in_the_query_string_and_in_json(call, key, catalog):
    full = catalog[0]
    assert names(call(key, "services", method="get", lang="ru"))[full.pk][0] == "Подписчики"
    assert names(call(key, "services", json_body=True, lang="pt-br"))[full.pk][0] == "Seguidores"
    assert names(call(key, "services", json_body=True, lang=["ru"]))[full.pk][0] == "Подписчики"
    assert names(call(key, "services", query={"lang": "ru"}))[full.pk][0] == "Подписчики"


@pytest.mark.parametrize("how", ["accept-language", "cookie", "account", "all"])
def test_the_callers_browser_language_changes_nothing(client, call, key, customer, catalog, how):
    default = call(key, "services").raw
    balance = call(key, "balance").raw
    headers = {}
    if how in ("accept-language", "all"):
        headers["Accept-Language"] = "ru-RU,ru;q=0.9,ar;q=0.8"
    if how in ("cookie", "all"):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ar"
    if how in ("account", "all"):
        customer.language = "hi"
        customer.save(update_fields=["language"])
        client.force_login(customer)  # a session cookie beside the key: the API reads neither
    answer = call(key, "services", headers=headers)
    assert answer.raw == default
    assert answer.response["Content-Language"] == settings.LANGUAGE_CODE
    assert call(key, "balance", headers=headers).raw == balance
    # Errors stay the protocol's English words, `lang` or not.
    assert call(key, "add", headers=headers, lang="ru", service="999999").json == {"error": "Incorrect service ID"}
    assert call(key, "add", headers=headers, service=catalog[0].pk, link="https://x.com/p", quantity="many").json == {
        "error": "Incorrect quantity"
    }
    assert call("bad-key-123456", "services", headers=headers, lang="ru").json == {"error": "Invalid API key"}
    assert call(key, "nope", headers=headers).json == {"error": "This action is invalid"}


def test_lang_is_documented(client, plain_static_storage):
    document = client.get(reverse("api:openapi")).json()
    parameters = {p["name"]: p for p in document["paths"]["/api/v2"]["get"]["parameters"]}
    assert "lang" in parameters and "default language" in parameters["lang"]["description"]
    body = document["paths"]["/api/v2"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "lang" in body["properties"]
    page = client.get(reverse("api:docs")).content.decode()
    assert "lang" in page and "pt-br" in page


def test_answer_language():
    assert answer_language("pt") == "pt-br"
    assert answer_language("Ar") == "ar"
    assert answer_language("tlh") == settings.LANGUAGE_CODE
    assert answer_language("x" * 10_000) == settings.LANGUAGE_CODE
