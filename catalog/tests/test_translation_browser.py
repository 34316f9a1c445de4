"""Staff translate a service in a real browser (Debian's chromium driven by Playwright) under our
Content-Security-Policy, and a customer reading Russian sees the translation; screenshots in
screenshots/backoffice-service-translations*.png and dashboard-services-ru.png.

Why folded sections and not modeltranslation's tabs: its tabbed admin loads jQuery UI from
ajax.googleapis.com (modeltranslation's JQUERY_UI_URL), which `script-src 'self'` refuses, and
neither Django nor modeltranslation ships a copy to serve ourselves; the sections are <details>
elements, which need no script at all."""

import pytest
from django.conf import settings as django_settings
from django.contrib.staticfiles import finders
from modeltranslation import settings as mt_settings

from accounts.models import User
from catalog.models import Category
from panel.tests.csp_watch import watch_csp
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot

from .test_translation import stored

DESKTOP = {"width": 1440, "height": 1000}


@pytest.fixture
def staff_settings(settings, plain_static_storage):
    settings.STAFF_REQUIRE_2FA = False


def test_the_tabbed_admin_would_need_a_script_from_another_site():
    assert mt_settings.JQUERY_UI_URL.startswith("//ajax.googleapis.com/")
    assert "'self'" in django_settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["script-src"]
    assert len(django_settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["script-src"]) == 1
    assert finders.find("admin/js/vendor/jquery/jquery.js") is not None  # Django ships jQuery...
    assert not any(finders.find(name) for name in ("jquery-ui.min.js", "jquery-ui.js", "js/jquery-ui.min.js"))


@pytest.mark.usefixtures("staff_settings")
@BROWSER_MARKS[0]
@BROWSER_MARKS[1]
def test_staff_translate_a_service_and_a_russian_customer_reads_it(browser, live_server, make_service, customer):
    staff = User.objects.create_superuser("boss", "boss@example.com", "pw-boss-123")
    service = make_service(category=Category.objects.create(name="Instagram"), description="Real followers")
    page = page_logged_in_as(browser, live_server, staff, viewport=DESKTOP)
    csp = watch_csp(page)
    try:
        page.goto(f"{live_server.url}/{django_settings.ADMIN_URL}catalog/service/{service.pk}/change/")
        section = page.locator("details", has_text="Русский (ru)")
        assert not page.is_visible("#id_name_ru")  # folded until opened
        section.locator("summary").click()
        page.fill("#id_name_ru", "Подписчики Instagram")
        page.fill("#id_description_ru", "Живые подписчики")
        screenshot(page, "backoffice-service-translations")
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")
        assert stored(type(service), service.pk, "name_en", "name_ru", "description_ru") == (
            service.name_en,
            "Подписчики Instagram",
            "Живые подписчики",
        )
        # A name too long for its column: the form comes back with that language's section open.
        page.locator("details", has_text="Türkçe (tr)").locator("summary").click()
        page.evaluate("document.querySelector('#id_name_tr').removeAttribute('maxlength')")  # as a script could
        page.fill("#id_name_tr", "x" * 501)
        page.click("input[name=_continue]")
        page.wait_for_selector(".errorlist")
        assert page.is_visible("#id_name_tr")
        screenshot(page, "backoffice-service-translations-error")
        csp.assert_clean("backoffice")
    finally:
        page.context.close()

    customer.language = "ru"
    customer.save(update_fields=["language"])
    page = page_logged_in_as(browser, live_server, customer, viewport=DESKTOP)
    csp = watch_csp(page)
    try:
        page.goto(f"{live_server.url}/services/")
        text = page.inner_text("body")
        assert "Подписчики Instagram" in text and service.name_en not in text
        screenshot(page, "dashboard-services-ru")
        csp.assert_clean("dashboard")
    finally:
        page.context.close()
