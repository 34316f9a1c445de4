"""Browser tests of the staff tools (Debian's chromium through Playwright), with screenshots at
desktop and phone widths: maintenance mode, signing in as a customer, bulk service edit."""

import json
import re

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from accounts.models import AuditLog
from backoffice.site_mode import maintenance_clear_cache, maintenance_forget
from catalog.models import Category, Service
from panel.tests.csp_watch import watch_csp
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot

pytestmark = BROWSER_MARKS

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def _fresh_state():
    maintenance_clear_cache()
    yield
    maintenance_clear_cache()


def bo(live_server, path: str) -> str:
    return f"{live_server.url}/{django_settings.ADMIN_URL}{path}"


def test_maintenance_mode_for_customers_staff_and_the_api(browser, live_server, admin_staff, customer):
    staff = page_logged_in_as(browser, live_server, admin_staff, viewport=DESKTOP)
    csp = watch_csp(staff)
    staff.goto(bo(live_server, "backoffice/maintenance/"))
    staff.check("input[name=enabled]")
    staff.fill("textarea[name=message]", "Planned upgrade: back at 14:00 UTC.\nOrders keep running.")
    staff.click("input[type=submit]")
    expect(staff.locator(".messagelist")).to_contain_text("Maintenance mode is ON")
    screenshot(staff, "backoffice-maintenance-on")
    maintenance_forget()  # the live server's process shares this module's cache: read it again

    # Staff keep working, with a banner saying customers see the message.
    staff.goto(f"{live_server.url}/orders/")
    expect(staff.locator("#maintenance-banner")).to_be_visible()
    screenshot(staff, "storefront-maintenance-staff-desktop")
    assert not csp.violations(), csp.violations()
    staff.context.close()

    for viewport, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = page_logged_in_as(browser, live_server, customer, viewport=viewport)
        response = page.goto(f"{live_server.url}/order/")
        assert response.status == 503
        expect(page.locator("#maintenance-message")).to_contain_text("Planned upgrade: back at 14:00 UTC.")
        screenshot(page, f"storefront-maintenance-customer-{label}")
        page.context.close()

    visitor = browser.new_page(viewport=PHONE)
    response = visitor.goto(f"{live_server.url}/")
    assert response.status == 503
    expect(visitor.locator("#maintenance-message")).to_be_visible()
    screenshot(visitor, "storefront-maintenance-visitor-phone")
    api = visitor.request.post(f"{live_server.url}/api/v2", form={"key": "x", "action": "balance"})
    assert api.status == 503
    assert json.loads(api.text()) == {"error": "Planned upgrade: back at 14:00 UTC.\nOrders keep running."}
    visitor.close()
    assert AuditLog.objects.filter(action="maintenance.on", actor=admin_staff).count() == 1


def test_sign_in_as_a_customer_and_back(browser, live_server, admin_staff, customer):
    for viewport, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = page_logged_in_as(browser, live_server, admin_staff, viewport=viewport)
        csp = watch_csp(page)
        page.on("dialog", lambda dialog: dialog.accept())  # the "Sign in as ...?" confirmation
        page.goto(bo(live_server, f"accounts/user/{customer.pk}/change/"))
        screenshot(page, f"backoffice-customer-sign-in-as-{label}")
        page.click("#bo-sign-in-as-button")
        page.wait_for_url(f"{live_server.url}/")
        banner = page.locator("#sign-in-as-banner")
        expect(banner).to_contain_text("you are signed in as buyer")
        screenshot(page, f"storefront-signed-in-as-{label}")
        page.goto(f"{live_server.url}/orders/")
        expect(page.locator("#sign-in-as-banner")).to_be_visible()
        page.click("#sign-in-as-banner button")
        page.wait_for_url(re.compile(rf".*/accounts/user/{customer.pk}/change/$"))
        expect(page.locator("#sign-in-as-banner")).to_have_count(0)
        assert not csp.violations(), csp.violations()
        page.context.close()
    assert AuditLog.objects.filter(action="customer.sign_in_as", actor=admin_staff).count() == 2
    assert AuditLog.objects.filter(action="customer.sign_in_as_end", actor=admin_staff).count() == 2


def test_support_staff_see_no_sign_in_as_button(browser, live_server, support_staff, customer):
    page = page_logged_in_as(browser, live_server, support_staff, viewport=DESKTOP)
    page.goto(bo(live_server, f"accounts/user/{customer.pk}/change/"))
    expect(page.locator("#bo-sign-in-as-button")).to_have_count(0)
    page.context.close()


def test_bulk_edit_services(browser, live_server, admin_staff, make_service):
    services = [make_service("Default"), make_service("Default", refill=True), make_service("Package")]
    promoted = Category.objects.create(name="Promoted")
    page = page_logged_in_as(browser, live_server, admin_staff, viewport=DESKTOP)
    csp = watch_csp(page)
    page.goto(bo(live_server, "catalog/service/"))
    for service in services:
        page.check(f"input[name=_selected_action][value='{service.pk}']")
    page.select_option("select[name=action]", "bulk_edit")
    page.click("button[name=index]")
    page.wait_for_url(re.compile(r".*/backoffice/services/bulk-edit/\?ids=.*"))
    page.select_option("select[name=category]", str(promoted.pk))
    page.select_option("select[name=price]", "markup")
    page.fill("input[name=markup_percent]", "120")
    page.fill("input[name=reason]", "Spring promotion")
    screenshot(page, "backoffice-bulk-edit")
    page.click("input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("3 of 3 services changed")
    assert set(Service.objects.filter(pk__in=[s.pk for s in services]).values_list("category_id", flat=True)) == {
        promoted.pk
    }
    assert AuditLog.objects.filter(action="service.bulk_edit", reason="Spring promotion").count() == 3
    assert not csp.violations(), csp.violations()
    page.context.close()
