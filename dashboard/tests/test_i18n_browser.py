"""The panel in Russian, Arabic (right to left) and Hindi, in Debian's chromium through Playwright.

For each language a customer whose account names it opens the new order page (a service chosen),
the orders list (with orders) and the add-funds page at desktop and phone widths: the page says
which language and direction it is in, nothing overflows sideways, the browser refuses nothing under
the Content-Security-Policy, and the heading and menu read what the catalogue says (the expected
text is computed here with gettext, so the test holds as translations land). In Arabic the layout
mirrors: the menu sits on the right, tables run right to left, the phone menu slides in from the
right. The language picker: a visitor's choice is kept in a cookie; a customer's is saved on the
account and wins over the browser's Accept-Language. Screenshots go to screenshots/i18n/ to look at.
"""

from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.utils import translation

from accounts.models import User
from backoffice.roles import ensure_roles
from billing.models import PaymentMethod
from orders.placement import order_place
from panel.tests.csp_watch import watch_csp
from testing.fixtures import BROWSER_MARKS, SHOTS, page_logged_in_as, screenshot

pytestmark = BROWSER_MARKS

LANGUAGES = ["ru", "ar", "hi"]
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

# The page's text without the menu icon (<span class="i">) in front of it.
OWN_TEXT = "(e) => [...e.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join('').trim()"
OVERFLOW = "document.scrollingElement.scrollWidth - innerWidth"
# A link reads left to right in every language: its first letter is drawn left of its last one
# (in a right-to-left line without care, "https://x/p/1/" shows its trailing slash in front).
LINK_READS_LEFT_TO_RIGHT = """() => {
  const text = document.querySelector('td.link-cell span').firstChild;
  const range = document.createRange();
  const left = (i) => {
    range.setStart(text, i);
    range.setEnd(text, i + 1);
    return range.getBoundingClientRect().left;
  };
  return left(0) < left(text.length - 1);
}"""


def shot(page, name: str) -> None:
    (SHOTS / "i18n").mkdir(parents=True, exist_ok=True)
    screenshot(page, f"i18n/{name}")


def translated(lang: str, text: str) -> str:
    with translation.override(lang):
        return translation.gettext(text)


def assert_language(page, lang: str) -> None:
    assert page.get_attribute("html", "lang") == lang
    assert page.get_attribute("html", "dir") == ("rtl" if lang == "ar" else "ltr")


def assert_no_overflow(page, where: str) -> None:
    overflow = page.evaluate(OVERFLOW)
    assert overflow <= 1, f"{where}: the page is {overflow}px wider than the window"


@pytest.fixture
def shop(customer, make_service):
    """A service, four orders of it (two links each way) and a manual payment method."""
    service = make_service("Default", dripfeed=True)
    for number in range(4):
        order_place(
            user=customer,
            service_id=service.pk,
            data={"link": f"https://instagram.com/p/i18n{number}/", "quantity": service.min * (number + 1)},
        )
    PaymentMethod.objects.create(
        name="Bank transfer", instructions="IBAN DE00 1234 5678\nReference: your username", min_amount=Decimal("5")
    )
    return service


@pytest.mark.parametrize("lang", LANGUAGES)
def test_customer_pages_in_the_customers_language(browser, live_server, customer, shop, lang):
    customer.language = lang
    customer.save(update_fields=["language"])
    rtl = lang == "ar"
    pages = [
        ("order-new", f"/order/?service={shop.pk}", "New order", "order_new"),
        ("orders", "/orders/", "Orders", "orders"),
        ("add-funds", "/funds/add/", "Add funds", "add_funds"),
    ]
    menu = ["Dashboard", "New order", "Orders", "Add funds", "Tickets", "Account"]
    for width, viewport in VIEWPORTS.items():
        page = page_logged_in_as(browser, live_server, customer, viewport=viewport)
        # Chromium asks for English: the account's language wins.
        page.context.set_extra_http_headers({"Accept-Language": "en-US,en;q=0.9"})
        watch = watch_csp(page)
        for name, path, heading, _ in pages:
            where = f"{lang} {name} {width}"
            page.goto(f"{live_server.url}{path}")
            assert_language(page, lang)
            assert page.locator(".topbar-title").inner_text().strip() == translated(lang, heading), where
            assert page.title().startswith(translated(lang, heading)), where
            active = page.locator(".sidebar .nav a.active")
            assert active.evaluate(OWN_TEXT) == translated(lang, heading), where
            items = page.locator(".sidebar .nav a").evaluate_all(f"(links) => links.map({OWN_TEXT})")
            for label in menu:
                assert translated(lang, label) in items, f"{where}: menu item {label!r} not in {items}"
            if name == "order-new":
                assert page.locator("#service-form input[name=service]").input_value() == str(shop.pk)
                assert page.locator("#service-form .service-info h3").inner_text().strip() == shop.name
                assert page.locator("#order-form button.btn[type=submit]").inner_text().strip() == translated(
                    lang, "Place order"
                )
            if name == "orders":
                assert page.locator("table.stack tbody tr[id^=order-]").count() == 4
                assert page.evaluate(LINK_READS_LEFT_TO_RIGHT), f"{where}: a link reads backwards"
            if name == "add-funds":
                assert page.locator(".method h3", has_text="Bank transfer").count() == 1
            assert_no_overflow(page, where)
            page.wait_for_load_state("networkidle")
            shot(page, f"{lang}-{name}-{width}")
            watch.assert_clean(where)
            if width == "desktop":
                assert_mirrored_desktop(page, rtl, where)
        if width == "phone":
            assert_phone_menu(page, rtl, f"{lang} phone menu")
            shot(page, f"{lang}-menu-open-phone")
            watch.assert_clean(f"{lang} phone menu")
        page.context.close()


def assert_mirrored_desktop(page, rtl: bool, where: str) -> None:
    """The menu sits on the reading side (right in Arabic), the content beside it, and a table's
    first column is on that side too."""
    box = page.evaluate(
        """() => {
          const side = document.querySelector('.sidebar').getBoundingClientRect();
          const shell = document.querySelector('.shell').getBoundingClientRect();
          const heads = [...document.querySelectorAll('table.table thead th')]
            .map((th) => th.getBoundingClientRect().left);
          return {side: [side.left, side.right], shell: [shell.left, shell.right], heads, width: innerWidth};
        }"""
    )
    if rtl:
        assert abs(box["side"][1] - box["width"]) <= 1, f"{where}: {box}"
        assert box["shell"][1] <= box["side"][0] + 1, f"{where}: {box}"
    else:
        assert box["side"][0] == 0, f"{where}: {box}"
        assert box["shell"][0] >= box["side"][1] - 1, f"{where}: {box}"
    heads = box["heads"]
    if len(heads) > 1:
        assert (heads[0] > heads[1]) == rtl, f"{where}: table columns {heads}"


def assert_phone_menu(page, rtl: bool, where: str) -> None:
    """Hidden off the reading side, the menu slides in on it, fully inside the window."""
    side = page.locator(".sidebar")
    closed = side.bounding_box()
    assert (closed["x"] >= 390 - 1) if rtl else (closed["x"] + closed["width"] <= 1), f"{where}: {closed}"
    page.click("label.menu-btn")
    page.wait_for_timeout(400)  # the slide's transition
    opened = side.bounding_box()
    assert opened["x"] >= -1 and opened["x"] + opened["width"] <= 391, f"{where}: {opened}"
    assert (abs(opened["x"] + opened["width"] - 390) <= 1) if rtl else (abs(opened["x"]) <= 1), f"{where}: {opened}"
    assert_no_overflow(page, where)


def test_a_visitor_picks_a_language_on_the_login_page(browser, live_server, db):
    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    watch = watch_csp(page)
    page.goto(f"{live_server.url}/accounts/login/")
    assert_language(page, "en")
    assert page.locator("main h1").inner_text().strip() == translated("en", "Sign In")
    for lang in ("ar", "ru", "hi"):
        # The picker sends itself on change (panel.js); the page comes back in that language.
        with page.expect_navigation():
            page.locator(".guest-lang select[name=language]").select_option(lang)
        assert_language(page, lang)
        assert page.url.endswith("/accounts/login/")
        assert page.locator("main h1").inner_text().strip() == translated(lang, "Sign In")
        assert page.locator(".guest-foot a").first.inner_text().strip() == translated(lang, "Home")
        cookies = {c["name"]: c["value"] for c in context.cookies()}
        assert cookies[django_settings.LANGUAGE_COOKIE_NAME] == lang
        assert_no_overflow(page, f"login {lang}")
        shot(page, f"login-{lang}-phone")
    # Remembered: a later visit (still asking for English) gets the cookie's language.
    page.goto(f"{live_server.url}/accounts/signup/")
    assert_language(page, "hi")
    watch.assert_clean("login page picker")
    context.close()


def test_a_customers_choice_is_saved_and_wins_over_the_browser(browser, live_server, customer, shop):
    assert customer.language == ""
    page = page_logged_in_as(browser, live_server, customer, viewport=VIEWPORTS["desktop"])
    page.context.set_extra_http_headers({"Accept-Language": "ru-RU,ru;q=0.9"})
    watch = watch_csp(page)
    page.goto(f"{live_server.url}/orders/")
    assert_language(page, "ru")  # nothing chosen yet: the browser's language
    with page.expect_navigation():
        page.locator(".topbar select[name=language]").select_option("ar")
    assert page.url.endswith("/orders/")
    assert_language(page, "ar")
    assert page.locator(".topbar-title").inner_text().strip() == translated("ar", "Orders")
    customer.refresh_from_db()
    assert customer.language == "ar"
    watch.assert_clean("topbar picker")
    page.context.close()

    # Another device, a browser asking for Russian, no language cookie: the account's Arabic.
    other = page_logged_in_as(browser, live_server, customer, viewport=VIEWPORTS["desktop"])
    other.context.set_extra_http_headers({"Accept-Language": "ru-RU,ru;q=0.9"})
    other.goto(f"{live_server.url}/order/?service={shop.pk}")
    assert django_settings.LANGUAGE_COOKIE_NAME not in {c["name"] for c in other.context.cookies()}
    assert_language(other, "ar")
    assert other.locator(".topbar-title").inner_text().strip() == translated("ar", "New order")
    other.context.close()


@pytest.fixture
def arabic_staff(db, settings):
    settings.STAFF_REQUIRE_2FA = False
    ensure_roles()
    staff = User.objects.create_user(username="boss", password="pw-Long-enough-1", is_staff=True, language="ar")
    staff.groups.add(Group.objects.get(name="Admin"))
    return User.objects.get(pk=staff.pk)


def test_backoffice_in_arabic(browser, live_server, arabic_staff, shop):
    page = page_logged_in_as(browser, live_server, arabic_staff, viewport=VIEWPORTS["desktop"])
    watch = watch_csp(page)
    for name, path in (("home", ""), ("orders", "orders/order/")):
        page.goto(f"{live_server.url}/{django_settings.ADMIN_URL}{path}")
        assert_language(page, "ar")
        assert_no_overflow(page, f"backoffice {name}")
        shot(page, f"ar-backoffice-{name}-desktop")
        watch.assert_clean(f"backoffice {name}")
    assert page.locator("#result_list tbody tr").count() == 4
    page.context.close()
