"""Browser tests: Debian's chromium driven by Playwright against the live server, writing
screenshots of the backoffice's main pages to screenshots/backoffice-*.png."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from accounts.models import LedgerEntry
from catalog.models import Service, UpstreamService
from orders.forwarding import order_forward
from orders.models import ForwardState, Order, ReconciliationReport, Status
from panel.tests.csp_watch import csp_header, wait_until, watch_csp
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot

DESKTOP = {"width": 1440, "height": 900}

pytestmark = BROWSER_MARKS


@pytest.fixture
def staff_page(browser, live_server, admin_staff):
    page = page_logged_in_as(browser, live_server, admin_staff, viewport=DESKTOP)
    # Every backoffice page these tests open runs under the Content-Security-Policy.
    page.csp = watch_csp(page)
    yield page
    violations = page.csp.violations()
    page.context.close()
    assert not violations, violations


def shot(page, name: str) -> None:
    screenshot(page, f"backoffice-{name}")


def bo(live_server, path: str) -> str:
    return f"{live_server.url}/{django_settings.ADMIN_URL}{path}"


def test_import_screen_creates_services(staff_page, live_server, provider):
    page = staff_page
    page.goto(bo(live_server, f"upstream/provider/{provider.pk}/change/"))
    shot(page, "provider")
    page.click("text=Sync services now")
    page.wait_for_selector(".messagelist .success")
    page.click("text=Import services…")
    page.wait_for_selector("#bo-import-rows")
    page.select_option("#bo-cat", label="Instagram Followers")
    page.click("input[value=Filter]")
    page.wait_for_url(re.compile(r".*category=Instagram.*"))
    boxes = page.locator("#bo-import-rows tbody input[type=checkbox]")
    count = min(boxes.count(), 4)
    for index in range(count):
        boxes.nth(index).check()
    page.fill("input[name=new_category]", "Instagram · Followers")
    page.fill("input[name=markup_percent]", "40")
    assert page.inner_text("#bo-count") == f"{count} selected"
    shot(page, "import")
    page.click("#bo-import-submit")
    page.wait_for_selector(".messagelist .success")
    assert f"{count} services imported" in page.inner_text(".messagelist")
    shot(page, "services")
    assert Service.objects.filter(category__name="Instagram · Followers", markup_percent=Decimal("40")).count() == count


def test_resend_then_partial_refund_flow(staff_page, live_server, place, sim, customer):
    page = staff_page
    # The live server commits, so placing forwards at once (Celery runs eagerly in tests).
    sim.faults(drop_after_accept_rate=1.0)
    order = place()
    order_forward(order_id=order.pk)
    sim.faults(drop_after_accept_rate=0.0)
    order.refresh_from_db()
    assert order.forward_state == ForwardState.UNKNOWN
    for _ in range(3):
        order_forward(order_id=place().pk)
    ReconciliationReport.objects.create(ok=True, summary="0 balance(s) drift, 0 refund(s) applied, 0 cost mismatch(es)")

    page.goto(bo(live_server, ""))
    shot(page, "home")
    page.csp.assert_clean("home")
    page.click(f"text=#{order.pk}")
    page.wait_for_selector(".bo-actionbar")
    assert "Needs attention" in page.inner_text(".bo-actionbar")
    shot(page, "order-needs-attention")

    page.click("a[data-action=resend]")
    assert "may duplicate" in page.inner_text("#bo-action-form")
    page.check("input[name=confirm]")
    shot(page, "order-resend")
    page.click("input[name=confirm_action]")
    page.wait_for_selector(".messagelist .success")
    order.refresh_from_db()
    assert order.forward_state == ForwardState.SENT

    page.click("a[data-action=partial]")
    remains = order.units // 4
    page.fill("input[name=remains]", str(remains))
    page.click("input[name=preview]")
    expected = (order.charge * remains / order.units).quantize(Decimal("0.00001"), rounding="ROUND_DOWN")
    assert page.inner_text("#bo-preview") == str(expected)
    page.fill("input[name=reason]", "provider delivered 75%")
    shot(page, "order-partial")
    page.click("input[name=confirm_action]")
    page.wait_for_selector(".messagelist .success")
    shot(page, "order-after-partial")
    order.refresh_from_db()
    assert order.status == Status.PARTIAL and order.refunded == expected
    assert LedgerEntry.objects.filter(order_id=order.pk, kind="refund").count() == 1
    timeline = page.inner_text("#timeline")
    for text in ("Placed via", "Resent by staff", "Marked Partial", f"Refunded {expected}"):
        assert text in timeline, text

    # Confirming the same refund again (a second tab, an impatient click) refunds nothing more.
    page.goto(bo(live_server, f"backoffice/orders/{order.pk}/partial/"))
    page.fill("input[name=remains]", str(remains))
    page.click("input[name=preview]")
    page.click("input[name=confirm_action]")
    page.wait_for_selector(".messagelist .info")
    assert "already Partial" in page.inner_text(".messagelist")
    assert LedgerEntry.objects.filter(order_id=order.pk, kind="refund").count() == 1

    page.goto(bo(live_server, f"accounts/user/{customer.pk}/change/"))
    shot(page, "customer")
    # Ban asks first (a data-confirm read by backoffice.js, no inline handler): dismissed, nothing.
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.click("button[form=bo-ban]")
    page.wait_for_timeout(500)
    assert questions and questions[0].startswith(f"Ban {customer.username}?")
    customer.refresh_from_db()
    assert customer.is_active
    page.goto(bo(live_server, "orders/order/"))
    shot(page, "orders")
    page.goto(bo(live_server, "accounts/auditlog/"))
    shot(page, "audit-log")


def test_reports_page_draws_the_chart(staff_page, live_server, make_service, provider, customer):
    service = make_service("Default")
    now = timezone.now()
    for days in range(14):
        for n in range(days % 4 + 1):
            o = Order.objects.create(
                user=customer,
                service=service,
                provider=provider,
                upstream_service_id="1",
                quantity=1000,
                charge=Decimal(10 + n * 3 + days),
                refunded=Decimal(0),
                status=Status.COMPLETED,
                cost_expected=Decimal(6 + n + days / 2),
                forward_state=ForwardState.SENT,
            )
            Order.objects.filter(pk=o.pk).update(created_at=now - timedelta(days=days))
    page = staff_page
    response = page.goto(bo(live_server, "backoffice/reports/"))
    assert "script-src 'self'" in csp_header(response)
    wait_until(page, "!!(window.Chart && Chart.getChart('bo-chart'))")
    # Chart.js drew on the canvas: some pixels are not blank.
    assert page.evaluate(
        "(() => { const c = document.getElementById('bo-chart');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " return d.some((v, i) => i % 4 === 3 && v > 0); })()"
    )
    page.csp.assert_clean("reports")
    rows = page.locator("#bo-report-table tbody tr").count()
    assert rows == 14
    assert page.evaluate("Chart.getChart('bo-chart').data.datasets.length") == 3
    shot(page, "reports")
    page.select_option("select[name=by]", "customer")
    page.click("input[value=Show]")
    page.wait_for_selector("#bo-report-table")
    with page.expect_download() as download:
        page.click("#bo-csv")
    assert download.value.suggested_filename.startswith("report-customer-")
    assert UpstreamService.objects.exists()
