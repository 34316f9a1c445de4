"""Browser test of the Admin API token pages (chromium): issue a token (its key shown once),
rotate and revoke it with the list's buttons (static JS under the CSP); screenshots
screenshots/adminapi-tokens-*.png."""

import pytest
from django.conf import settings as django_settings

from adminapi.models import StaffToken
from adminapi.services import token_lookup
from panel.tests.csp_watch import watch_csp
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot

from .conftest import staff_with_token

pytestmark = BROWSER_MARKS


@pytest.fixture(autouse=True)
def _setup(plain_static_storage, settings):
    settings.STAFF_REQUIRE_2FA = False


def test_issue_rotate_and_revoke_a_token(browser, live_server, db):
    user, _ = staff_with_token("boss", "Admin")
    page = page_logged_in_as(browser, live_server, user, viewport={"width": 1280, "height": 800})
    csp = watch_csp(page)
    base = f"{live_server.url}/{django_settings.ADMIN_URL}adminapi/stafftoken/"
    page.goto(base + "add/")
    page.fill("#id_name", "fulfilment worker")
    page.click("#bo-token-form input[type=submit]")
    key = page.inner_text("#bo-new-key")
    token = StaffToken.objects.get(name="fulfilment worker")
    assert token_lookup(key) == token
    screenshot(page, "adminapi-tokens-issued")

    page.goto(base)
    row = page.locator("tr", has_text="fulfilment worker")
    assert key not in page.content() and key[:8] in row.inner_text()
    screenshot(page, "adminapi-tokens-list")
    row.locator("button", has_text="Rotate").click()
    page.wait_for_selector("#bo-new-key")
    new_key = page.inner_text("#bo-new-key")
    assert new_key != key and token_lookup(key) is None and token_lookup(new_key) == token

    page.goto(base)
    page.locator("tr", has_text="fulfilment worker").locator("button", has_text="Revoke").click()
    page.wait_for_selector(".messagelist .success")
    assert token_lookup(new_key) is None
    violations = csp.violations()
    page.context.close()
    assert not violations, violations
