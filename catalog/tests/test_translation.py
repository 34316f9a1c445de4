"""Service and category names per language (catalog.translation): reads fall back to the default
language, writes go to the default language whatever language is active, today's names became
the default language's, and sync writes provider names in the default language from a worker or
a request in any language."""

import io
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import translation

from catalog.languages import DEFAULT_LANGUAGE, default_language
from catalog.models import Category, Service
from catalog.selectors import catalog_for_customer, sellable_services, text_matches, translated_text
from catalog.services import category_for_name
from catalog.sync import sync_provider
from catalog.translation import OTHER_LANGUAGES, column
from orders.models import Order

pytestmark = pytest.mark.django_db

assert DEFAULT_LANGUAGE == settings.LANGUAGE_CODE == "en"  # the suite runs with the shipped default
RU = "ru"


def stored(model, pk: int, *columns: str) -> tuple:
    """What the database holds, read past modeltranslation."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {model._meta.db_table} WHERE id = %s", [pk])
        return cursor.fetchone()


# --- Reading: the reader's language, else the default language's ---------------------------------


def test_an_untranslated_name_falls_back_to_the_default_language(make_service):
    service = make_service(description="Real followers")
    with translation.override(RU):
        assert service.name == service.name_en
        assert service.description == "Real followers"
        assert service.category.name == "Test category"
    service.name_ru, service.description_ru = "Подписчики", "Настоящие подписчики"
    service.category.name_ru = "Тестовая категория"
    service.save()
    service.category.save()
    service = Service.objects.select_related("category").get(pk=service.pk)
    with translation.override(RU):
        assert (service.name, service.description) == ("Подписчики", "Настоящие подписчики")
        assert service.category.name == "Тестовая категория"
    with translation.override("es"):  # no Spanish yet
        assert service.name == service.name_en and service.category.name == "Test category"
    assert service.name == service.name_en  # the default language reads its own


def test_an_emptied_translation_falls_back_too(make_service):
    service = make_service()
    service.name_ru = ""
    service.save()
    with translation.override(RU):
        assert Service.objects.get(pk=service.pk).name == service.name_en


def test_every_language_has_its_own_columns():
    names = {field.name for field in Service._meta.get_fields()}
    for code, _ in settings.LANGUAGES:
        assert {column("name", code), column("description", code)} <= names
    assert column("name", "pt-br") == "name_pt_br" and column("name", "id") == "name_ind"
    assert set(OTHER_LANGUAGES) == {code for code, _ in settings.LANGUAGES} - {DEFAULT_LANGUAGE}


# --- Writing: the default language, whatever language is active ----------------------------------


def test_creating_in_another_language_writes_the_default_language(make_service):
    with translation.override(RU):
        category = Category.objects.create(name="Instagram")
        service = make_service(category=category, description="Fast start")
    assert stored(Category, category.pk, "name", "name_en", "name_ru") == ("Instagram", "Instagram", None)
    name, name_en, name_ru, description_en, description_ru = stored(
        Service, service.pk, "name", "name_en", "name_ru", "description_en", "description_ru"
    )
    assert name == name_en == service.name_en and name_ru is None
    assert (description_en, description_ru) == ("Fast start", None)


def test_assigning_and_saving_in_another_language_keeps_the_translations(make_service):
    service = make_service()
    service.name_ru = "Подписчики"
    service.save()
    with translation.override(RU):
        service = Service.objects.get(pk=service.pk)
        assert service.name == "Подписчики"
        service.name = "Followers HQ"  # code writing a name writes the default language's
        service.min = 20
        service.save()
        service.full_clean()
    assert stored(Service, service.pk, "name", "name_en", "name_ru", "min") == (
        "Followers HQ",
        "Followers HQ",
        "Подписчики",
        20,
    )


def test_a_save_in_another_language_keeps_the_default_name_in_the_models_own_column(make_service):
    """The model's own column is what other apps' queries across relations read
    (`order__service__name`) and what the unique constraint on category names holds."""
    service = make_service()
    category = service.category
    category.name_ru = "Тест"
    category.save()
    service.name_ru = "Услуга"
    service.save()
    with translation.override(RU):
        Service.objects.get(pk=service.pk).save()
        Category.objects.get(pk=category.pk).save()
    assert stored(Service, service.pk, "name")[0] == service.name_en
    assert stored(Category, category.pk, "name")[0] == "Test category"


def test_category_for_name_finds_the_default_name_in_any_language():
    category = Category.objects.create(name="Telegram", name_ru="Телеграм")
    with translation.override(RU):
        assert category_for_name("Telegram") == category
        created = category_for_name(" YouTube ")
    assert stored(Category, created.pk, "name_en", "name_ru") == ("YouTube", None)
    assert Category.objects.count() == 2


# --- Today's names become the default language's (migration 0009) ---------------------------------


def _migrate(target: str) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("catalog", target)])


@pytest.mark.parametrize("default", ["en", "ru"])
def test_the_migration_copies_names_into_the_configured_default_language(settings, default):
    settings.MODELTRANSLATION_DEFAULT_LANGUAGE = default
    _migrate("0007_service_avg_time_favourites")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO catalog_category (name, position, hidden) VALUES ('Old', 0, false) RETURNING id")
        category_id = cursor.fetchone()[0]
    _migrate("0008_names_per_language")
    assert stored(Category, category_id, "name", "name_en", "name_ru") == ("Old", None, None)
    _migrate("0009_names_in_default_language")
    other = "ru" if default == "en" else "en"
    values = dict(
        zip(
            ("name", default, other),
            stored(Category, category_id, "name", f"name_{default}", f"name_{other}"),
            strict=True,
        )
    )
    assert values == {"name": "Old", default: "Old", other: None}
    # Backwards, the default language's text (edited since) goes back into the model's column.
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE catalog_category SET name_{default} = 'Edited' WHERE id = %s", [category_id])
    _migrate("0008_names_per_language")
    assert stored(Category, category_id, "name")[0] == "Edited"
    _migrate("0009_names_in_default_language")


# --- Sync writes provider names in the default language ------------------------------------------


@pytest.mark.parametrize("language", ["ru", "ar"])
def test_sync_under_another_language_imports_default_language_names(pricing, simulator, provider_for, language):
    sim = simulator(services=20)
    provider = provider_for(sim, auto_import=True)
    listed = {str(item["service"]): item for item in sim.listing()}
    # A category staff already translated, named as the provider names one of its categories.
    some = next(iter(listed.values()))
    translated = Category.objects.create(name=some["category"], name_ru="Переведённая", name_ar="مترجمة")
    with translation.override(language):
        run = sync_provider(provider_id=provider.pk)
        assert translation.get_language() == language  # the caller's language is back
    assert run.ok and run.created > 0, run.error
    services = Service.objects.filter(upstream__provider=provider).select_related("upstream", "category")
    for service in services:
        row = stored(Service, service.pk, "name", "name_en", f"name_{language}", "description_en")
        assert row[:3] == (service.upstream.name, service.upstream.name, None)
        assert row[3] == service.upstream.desc
        assert stored(Category, service.category_id, "name_en")[0] == service.category.name_en
        assert service.category.name_en == (service.upstream.category or "Other")
    assert services.filter(category=translated).exists()  # found by its default name, not re-created
    assert stored(Category, translated.pk, "name_ru", "name_ar") == ("Переведённая", "مترجمة")
    # A second run in another language finds every category again: nothing new, nothing broken.
    before = Category.objects.count()
    with translation.override("hi"):
        sim.change(
            add=[{"service": 9999, "name": "Fresh", "rate": "1", "min": 1, "max": 10, "category": some["category"]}]
        )
        again = sync_provider(provider_id=provider.pk)
    assert again.ok and again.created == 1, again.error
    assert Category.objects.count() == before
    assert Service.objects.get(upstream__upstream_id="9999").category == translated


def test_sync_keeps_staff_translations_of_imported_services(pricing, simulator, provider_for):
    sim = simulator(services=10)
    provider = provider_for(sim, auto_import=True)
    assert sync_provider(provider_id=provider.pk).ok
    service = Service.objects.filter(upstream__provider=provider).order_by("pk").first()
    service.name_ru = "Мой перевод"
    service.save()
    sim.change(update={service.upstream.upstream_id: {"name": "Renamed upstream", "rate": "9.50"}})
    with translation.override(RU):
        assert sync_provider(provider_id=provider.pk).ok
    assert stored(Service, service.pk, "name_en", "name_ru") == (service.name_en, "Мой перевод")


# --- Queries for the dashboard --------------------------------------------------------------------


def test_text_matches_the_readers_language_and_the_default(make_service):
    translated = make_service()
    translated.name_ru = "Подписчики Инстаграм"
    translated.save()
    plain = make_service()
    with translation.override(RU):
        assert set(Service.objects.filter(text_matches("подписчики"))) == {translated}
        assert set(Service.objects.filter(text_matches("service"))) == {translated, plain}  # English names
        assert set(Service.objects.filter(text_matches("test cat", "category__name"))) == {translated, plain}
    assert set(Service.objects.filter(text_matches("подписчики"))) == set()  # English readers: English only


def test_translated_text_across_a_relation(make_service, customer):
    service = make_service()
    service.name_ru = "Подписчики"
    service.save()
    other = make_service()
    for target in (service, other):
        Order.objects.create(
            user=customer,
            service=target,
            provider=target.upstream.provider,
            link="https://x.com/a",
            quantity=10,
            charge=Decimal("1"),
            cost_expected=Decimal("0"),
        )
    orders = Order.objects.filter(user=customer).order_by("service_id")
    with translation.override(RU):
        names = list(orders.values_list(translated_text("service__name"), flat=True))
    assert names == ["Подписчики", other.name_en]
    assert list(orders.values_list(translated_text("service__name"), flat=True)) == [service.name_en, other.name_en]


def test_the_catalog_reads_the_active_language_in_the_same_order(make_service, customer):
    first = Category.objects.create(name="B category", position=1, name_ru="Б категория")
    second = Category.objects.create(name="A category", position=1, name_ru="Я категория")
    one = make_service(category=first)
    two = make_service(category=second)
    one.name_ru = "Первая"
    one.save()
    english = [entry.service for entry in catalog_for_customer(customer)]
    with translation.override(RU):
        entries = catalog_for_customer(customer)
        ids = list(sellable_services().values_list("pk", flat=True))
    # Categories of one position in their default-language name's order, in every language.
    assert [entry.service for entry in entries] == english == ids == [two.pk, one.pk]
    assert [(entry.name, entry.category) for entry in entries] == [
        (two.name_en, "Я категория"),
        ("Первая", "Б категория"),
    ]


def test_lookups_by_name_use_the_default_language_in_every_language(make_service):
    service = make_service()
    service.name_ru = "Подписчики"
    service.save()
    category = service.category
    category.name_ru = "Категория"
    category.save()
    with translation.override(RU):
        assert Service.objects.get(name=service.name_en) == service
        assert not Service.objects.filter(name="Подписчики").exists()
        assert Service.objects.filter(name_ru="Подписчики").get() == service
        assert Service.objects.filter(category__name="Test category").get() == service
        assert Category.objects.get_or_create(name="Test category") == (category, False)
        assert Category.objects.filter(pk=category.pk).update(name="Renamed") == 1
        with default_language():
            assert translation.get_language() == DEFAULT_LANGUAGE
        assert translation.get_language() == RU
    assert stored(Category, category.pk, "name", "name_en", "name_ru") == ("Renamed", "Renamed", "Категория")


def test_update_and_bulk_update_by_name_keep_both_default_columns(make_service):
    one, two = make_service(), make_service()
    one.name_ru = "Первая"
    one.save()
    with translation.override(RU):
        assert Service.objects.filter(pk=one.pk).update(name="Updated", min=5) == 1
        one, two = Service.objects.filter(pk__in=[one.pk, two.pk]).order_by("pk")
        one.name, two.name = "Bulk one", "Bulk two"
        Service.objects.bulk_update([one, two], ["name"])
    assert stored(Service, one.pk, "name", "name_en", "name_ru", "min") == ("Bulk one", "Bulk one", "Первая", 5)
    assert stored(Service, two.pk, "name", "name_en", "name_ru") == ("Bulk two", "Bulk two", None)
    Service.objects.filter(pk=two.pk).update(name_ru="Вторая")
    assert stored(Service, two.pk, "name", "name_ru") == ("Bulk two", "Вторая")


def test_fill_default_language_gives_every_empty_default_text_the_models_own(make_service):
    from django.core.management import call_command

    service = make_service(description="Real")
    kept = make_service()
    with connection.cursor() as cursor:  # as after PANEL_LANGUAGE changed: the new default's columns empty
        cursor.execute("UPDATE catalog_service SET name_en = NULL, description_en = '' WHERE id = %s", [service.pk])
        cursor.execute("UPDATE catalog_category SET name_en = NULL")
    with translation.override(RU):
        call_command("fill_default_language", stdout=io.StringIO())
        call_command("fill_default_language", stdout=io.StringIO())  # again: nothing changes
    assert stored(Service, service.pk, "name_en", "description_en") == stored(
        Service, service.pk, "name", "description"
    )
    assert stored(Service, service.pk, "description_en") == ("Real",)
    assert stored(Service, kept.pk, "name_en") == (kept.name_en,)
    assert stored(Category, service.category_id, "name_en") == ("Test category",)
