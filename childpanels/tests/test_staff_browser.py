"""The parent's staff in a browser (Debian's chromium through Playwright): the list of child panels
and a panel's page with its actions, at 1280 px. Screenshots go to screenshots/ (an ignored folder) to look at."""

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from backoffice.tests.conftest import _staff
from childpanels.tests.test_staff import owned  # noqa: F401  (the fixture, used by name below)
from panel.tests.csp_watch import watch_csp
from tenants.models import Panel
from tenants.tests.conftest import CHILDREN
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot

pytestmark = [*BROWSER_MARKS, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1280, "height": 900}


@pytest.fixture(autouse=True)
def _staff_without_2fa(settings, plain_static_storage):
    settings.STAFF_REQUIRE_2FA = False


def test_the_list_and_a_panels_page(browser, live_server, request, children):
    book = request.getfixturevalue("owned")
    boss = _staff("boss", "Admin")
    Panel.objects.filter(pk=children["child_b"].pk).update(status="suspended", suspended_reason="unpaid")
    page = page_logged_in_as(browser, live_server, boss, viewport=WIDE)
    csp = watch_csp(page)
    base = f"{live_server.url}/{django_settings.ADMIN_URL}tenants/panel/"
    page.goto(base)
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    row_a = rows.filter(has_text=CHILDREN["child_a"])
    expect(row_a.locator("td.field-orders")).to_have_text(str(book["child_a"][1]))
    expect(row_a.locator("td.field-revenue")).to_have_text("13.25000")
    expect(row_a.locator("td.field-fees")).to_have_text("50.00000")
    expect(rows.filter(has_text=CHILDREN["child_b"]).locator("td.field-status_label")).to_contain_text("not paid")
    screenshot(page, "childpanels-list-1280")

    page.fill("#searchbar", "owner-child_b")
    page.keyboard.press("Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)

    page.goto(base)
    row_a.locator("th a").click()
    expect(page.locator("#cp-summary")).to_contain_text("13.25000")
    expect(page.locator("#cp-actions")).to_contain_text("Suspend")
    screenshot(page, "childpanels-detail-1280")

    page.click("#cp-actions >> text=Suspend…")
    page.fill("input[name=reason]", "chargeback on the last fee")
    screenshot(page, "childpanels-suspend-confirm-1280")
    page.click("#cp-action-form input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("suspended")
    expect(page.locator("#cp-actions")).to_contain_text("Delete")
    screenshot(page, "childpanels-detail-suspended-1280")

    page.click("#cp-actions >> text=Delete…")
    expect(page.locator("#cp-needs-export")).to_be_visible()
    page.fill("input[name=confirm_domain]", CHILDREN["child_a"])
    page.click("#cp-action-form input[type=submit]")
    expect(page.locator(".errornote, .messagelist")).to_contain_text("Export the panel first")
    screenshot(page, "childpanels-delete-refused-1280")
    assert not csp.violations(), csp.violations()
    page.context.close()
    Panel.objects.filter(schema_name__in=["child_a", "child_b"]).update(
        status="active", suspended_reason="", suspended_at=None
    )
