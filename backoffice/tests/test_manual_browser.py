"""Browser test of the manual queue (Debian's chromium through Playwright): take an order, set
its progress, complete it; screenshots in screenshots/backoffice-manual-*.png."""

import pytest
from django.conf import settings as django_settings

from orders.models import Order, Status
from orders.placement import order_place
from panel.tests.csp_watch import watch_csp
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot
from testing.manual import make_manual_service

pytestmark = BROWSER_MARKS
DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture
def staff_page(browser, live_server, admin_staff):
    page = page_logged_in_as(browser, live_server, admin_staff, viewport=DESKTOP)
    page.csp = watch_csp(page)
    yield page
    violations = page.csp.violations()
    page.context.close()
    assert not violations, violations


def test_take_set_progress_and_complete_a_manual_order(staff_page, live_server, customer, admin_staff):
    page = staff_page
    service = make_manual_service(name="Hand-made comments", type_="Custom Comments")
    comments = "Great post! <b>not bold</b>\n" + "\n".join(f"Nice one #{n}" for n in range(14))
    order = order_place(
        user=customer,
        service_id=service.pk,
        data={"link": "https://instagram.com/p/Cx1?a=1&b=<2>", "comments": comments},
    ).order
    other = order_place(
        user=customer, service_id=service.pk, data={"link": "https://instagram.com/p/Cx2", "comments": comments}
    ).order
    base = f"{live_server.url}/{django_settings.ADMIN_URL}"
    page.goto(base)
    page.click(".bo-topnav >> text=Manual queue")
    page.wait_for_selector("#bo-manual-orders")
    rows = page.locator("#bo-manual-orders tbody tr")
    assert rows.count() == 2 and rows.nth(0).get_attribute("data-order") == str(order.pk)  # oldest first
    first_row = rows.nth(0).inner_text()
    assert "https://instagram.com/p/Cx1?a=1&b=<2>" in first_row and "Great post! <b>not bold</b>" in first_row
    screenshot(page, "backoffice-manual-queue")

    page.click(f"#bo-manual-orders a[href$='/manual/{order.pk}/']")
    page.wait_for_selector("#bo-take")
    assert page.inner_text("#bo-typed-link") == "https://instagram.com/p/Cx1?a=1&b=<2>"
    page.click("#bo-take")
    page.wait_for_selector(".messagelist .success")
    assert admin_staff.username in page.inner_text("#bo-taken")

    page.select_option("#id_status", "In progress")
    page.fill("#id_start_count", "1200")
    page.fill("#id_remains", "9")
    screenshot(page, "backoffice-manual-progress")
    page.click("#bo-save")
    page.wait_for_selector(".messagelist .success")
    assert page.inner_text("#bo-status") == "In progress"
    assert page.inner_text("#bo-counts") == "1200 / 9"

    page.select_option("#id_status", "Completed")
    page.click("#bo-save")
    page.wait_for_selector(".messagelist .success")
    assert page.inner_text("#bo-status") == "Completed"
    screenshot(page, "backoffice-manual-completed")
    order.refresh_from_db()
    assert (order.status, order.start_count, order.remains, order.refunded) == (Status.COMPLETED, 1200, 0, 0)
    assert Order.objects.get(pk=other.pk).status == Status.PENDING

    page.goto(f"{base}backoffice/manual/")
    assert page.locator("#bo-manual-orders tbody tr").count() == 1
