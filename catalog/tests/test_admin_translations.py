"""Staff translate service and category names in the backoffice: the model's own fields stay the
default language's text, one folded section per other language holds its texts."""

import re

import pytest
from django.urls import reverse

from accounts.models import AuditLog, User
from catalog.models import Category, Service
from catalog.translation import OTHER_LANGUAGES, column

from .test_admin import form_data
from .test_translation import stored

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def admin_settings(settings):
    settings.STAFF_REQUIRE_2FA = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def staff(client, language: str = "") -> User:
    user = User.objects.create_superuser(f"boss-{language or 'en'}", f"boss-{language}@example.com", "pw-boss-123")
    if language:
        user.language = language
        user.save(update_fields=["language"])
    client.force_login(user)
    return user


def service_post(service: Service, **changes) -> dict:
    data = form_data(service, refill=service.refill, cancel=service.cancel, **changes)
    for inline in ("changes", "fallbacks"):
        data.update({f"{inline}-{k}": 0 for k in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS")})
    return data


def input_value(html: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    if match is None:
        return None
    value = re.search(r'value="([^"]*)"', match.group(0))
    return value.group(1) if value else ""


def test_the_service_page_has_a_folded_section_per_other_language(client, make_service):
    staff(client)
    service = make_service(description="Real ones")
    html = client.get(reverse("admin:catalog_service_change", args=[service.pk])).content.decode()
    assert input_value(html, "name") == service.name_en
    assert "Name [en]" in html and "Real ones</textarea>" in html
    assert 'name="name_en"' not in html  # the model's own field is the default language's
    for code in OTHER_LANGUAGES:
        assert f'name="{column("name", code)}"' in html and f'name="{column("description", code)}"' in html
        assert f"Name [{code}]" in html
    assert html.count("<details>") >= len(OTHER_LANGUAGES)
    assert "Русский (ru)" in html and "Bahasa Indonesia (id)" in html
    arabic = re.search(r'<input[^>]*name="name_ar"[^>]*>', html).group(0)
    assert 'lang="ar"' in arabic and 'dir="rtl"' in arabic
    assert 'dir="ltr"' in re.search(r'<input[^>]*name="name"[^>]*>', html).group(0)


def test_staff_translate_a_service_and_the_edit_is_audited(client, make_service):
    user = staff(client)
    service = make_service()
    url = reverse("admin:catalog_service_change", args=[service.pk])
    data = service_post(service, name="Instagram followers", name_ru="Подписчики Instagram", description_ru="Быстро")
    data[column("name", "pt-br")] = "Seguidores"
    response = client.post(url, data)
    assert response.status_code == 302, response.content[:3000]
    assert stored(Service, service.pk, "name", "name_en", "name_ru", "description_ru", "name_pt_br", "name_es") == (
        "Instagram followers",
        "Instagram followers",
        "Подписчики Instagram",
        "Быстро",
        "Seguidores",
        None,
    )
    row = AuditLog.objects.get(action="service.edit", object_id=str(service.pk))
    assert row.actor_id == user.pk
    assert row.before["name"] == service.name_en and row.after["name"] == "Instagram followers"
    assert row.before["name_ru"] is None and row.after["name_ru"] == "Подписчики Instagram"
    # The staff member's own language does not change what the form edits.
    client.logout()
    staff(client, "ru")
    html = client.get(url).content.decode()
    assert '<html lang="ru"' in html
    assert input_value(html, "name") == "Instagram followers"
    assert input_value(html, "name_ru") == "Подписчики Instagram"


def test_staff_in_russian_edit_the_default_name_and_clear_the_russian_one(client, make_service):
    service = make_service()
    service.name_ru = "Старое"
    service.save()
    staff(client, "ru")
    url = reverse("admin:catalog_service_change", args=[service.pk])
    response = client.post(url, service_post(service, name="New English", name_ru=""))
    assert response.status_code == 302, response.content[:3000]
    assert stored(Service, service.pk, "name", "name_en", "name_ru") == ("New English", "New English", None)


def test_an_error_in_a_translation_opens_its_section(client, make_service):
    staff(client)
    service = make_service()
    url = reverse("admin:catalog_service_change", args=[service.pk])
    response = client.post(url, service_post(service, name_tr="x" * 501))
    assert response.status_code == 200
    html = response.content.decode()
    section = html[html.index("Türkçe (tr)") - 400 : html.index('name="name_tr"')]
    assert "<details>" not in section and "errorlist" in html
    assert stored(Service, service.pk, "name_tr") == (None,)


def test_staff_translate_a_category(client):
    staff(client, "ru")
    category = Category.objects.create(name="Likes")
    other = Category.objects.create(name="Views")
    url = reverse("admin:catalog_category_change", args=[category.pk])
    html = client.get(url).content.decode()
    assert input_value(html, "name") == "Likes" and 'name="name_ru"' in html and 'name="name_en"' not in html
    response = client.post(url, {"name": "Likes", "name_ru": "Лайки", "name_es": "Me gusta", "position": 2})
    assert response.status_code == 302, response.content[:3000]
    assert stored(Category, category.pk, "name", "name_en", "name_ru", "name_es", "position") == (
        "Likes",
        "Likes",
        "Лайки",
        "Me gusta",
        2,
    )
    # A default name another category has is refused on the form (in any staff language).
    response = client.post(reverse("admin:catalog_category_change", args=[other.pk]), {"name": "Likes", "position": 0})
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert stored(Category, other.pk, "name_en") == ("Views",)
    # The same Russian name twice too.
    response = client.post(
        reverse("admin:catalog_category_change", args=[other.pk]), {"name": "Views", "name_ru": "Лайки", "position": 0}
    )
    assert response.status_code == 200 and "errorlist" in response.content.decode()


def test_staff_find_services_and_categories_by_any_languages_name(client, make_service):
    staff(client)
    service = make_service()
    service.name_ru = "Просмотры Reels"
    service.save()
    other = make_service()
    category = service.category
    category.name_hi = "परीक्षण"
    category.save()
    listing = client.get(reverse("admin:catalog_service_changelist"), {"q": "просмотры"}).content.decode()
    assert f"/{service.pk}/change/" in listing and f"/{other.pk}/change/" not in listing
    listing = client.get(reverse("admin:catalog_service_changelist"), {"q": other.name_en}).content.decode()
    assert f"/{other.pk}/change/" in listing
    listing = client.get(reverse("admin:catalog_category_changelist"), {"q": "परीक्षण"}).content.decode()
    assert f"/{category.pk}/change/" in listing


def test_adding_a_service_and_a_category_in_the_backoffice(client, make_service):
    staff(client, "ar")
    template = make_service()
    response = client.post(
        reverse("admin:catalog_category_add"), {"name": "Telegram", "name_ar": "تيليجرام", "position": 0}
    )
    assert response.status_code == 302, response.content[:3000]
    category = Category.objects.get(name_en="Telegram")
    assert stored(Category, category.pk, "name", "name_ar") == ("Telegram", "تيليجرام")
    data = service_post(template, category=category.pk, upstream=template.upstream_id, name="Members", name_ar="أعضاء")
    data.pop("upstream")
    data["manual"] = "on"
    response = client.post(reverse("admin:catalog_service_add"), data)
    assert response.status_code == 302, response.content[:3000]
    created = Service.objects.get(category=category)
    assert stored(Service, created.pk, "name", "name_en", "name_ar", "name_ru") == ("Members", "Members", "أعضاء", None)
