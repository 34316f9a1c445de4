"""A child panel in a browser, on its own host name: its branded dashboard for its customer and
its backoffice for its owner, beside the parent's (Debian's chromium through Playwright). The live
server is started here, after the panel middleware is switched on, so that it routes by host.
Screenshots go to screenshots/ (an ignored folder) to look at."""

import re
import uuid
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django_tenants.utils import schema_context
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from accounts.ledger import ledger_credit
from accounts.models import User
from panel.tests.csp_watch import watch_csp
from site_pages.models import Branding
from site_pages.selectors import brand_forget
from testing.fixtures import BROWSER_MARKS, screenshot

pytestmark = [*BROWSER_MARKS, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def routed_server(children, settings):
    settings.STAFF_REQUIRE_2FA = False
    server = LiveServer("localhost")
    yield server
    server.stop()


def url_on(server, host: str, path: str) -> str:
    return f"http://{host}:{server.thread.port}{path}"


def page_for(browser, server, host: str, user, viewport):
    """A page on `host` signed in as `user` (a session made in the current schema)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport=viewport)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": url_on(server, host, "/")}]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def test_a_child_panels_branded_dashboard_and_its_backoffice(browser, routed_server):
    with schema_context("child_a"):
        Branding.objects.update_or_create(
            pk=1, defaults={"panel_name": "Acme Boost", "primary_colour": "#0f766e", "accent_colour": "#f59e0b"}
        )
        brand_forget()
        # Child schemas outlive each test (a transactional test empties the parent's tables only).
        name = f"acme-kid-{uuid.uuid4().hex[:6]}"
        kid = User.objects.create(username=name, email=f"{name}@acme.test")
        ledger_credit(user_id=kid.pk, amount=Decimal("42.50"), memo="test funds")
        owner = User.objects.get(username="child_a_staff")
        dashboard = page_for(browser, routed_server, "a.panels.test", kid, WIDE)
        phone = page_for(browser, routed_server, "a.panels.test", kid, PHONE)
        backoffice = page_for(browser, routed_server, "a.panels.test", owner, WIDE)
    with schema_context("child_b"):
        other = page_for(browser, routed_server, "b.panels.test", User.objects.get(username="child_b_staff"), WIDE)

    csp = watch_csp(dashboard)
    dashboard.goto(url_on(routed_server, "a.panels.test", "/"))
    expect(dashboard.locator("body")).to_contain_text("Acme Boost")
    expect(dashboard.locator("body")).to_contain_text("42.50")
    # The child's own colour drives its buttons and active menu item, not the parent's.
    assert "#0f766e" in dashboard.content()
    screenshot(dashboard, "child-panel-dashboard-1280")
    csp.assert_clean("child dashboard")

    phone.goto(url_on(routed_server, "a.panels.test", "/orders/"))
    expect(phone.locator("body")).to_contain_text("Acme Boost")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone, "child-panel-orders-390")

    backoffice.goto(url_on(routed_server, "a.panels.test", "/" + django_settings.ADMIN_URL))
    body = backoffice.locator("body")
    expect(body).to_contain_text("Providers")
    expect(backoffice.locator("#site-name, #header").first).to_contain_text("Acme Boost")
    # The install's own things are the parent's: no list of child panels, no beat schedule.
    expect(body).not_to_contain_text("Child panels")
    expect(body).not_to_contain_text("Periodic tasks")
    screenshot(backoffice, "child-panel-backoffice-1280")

    # The same staff session is nothing on the other child; its own owner sees its own panel.
    backoffice.goto(url_on(routed_server, "b.panels.test", "/" + django_settings.ADMIN_URL))
    expect(backoffice).to_have_url(re.compile(r"^http://b\.panels\.test:\d+/.*login"))
    other.goto(url_on(routed_server, "b.panels.test", "/"))
    expect(other.locator("body")).not_to_contain_text("Acme Boost")
    for page in (dashboard, phone, backoffice, other):
        page.context.close()
