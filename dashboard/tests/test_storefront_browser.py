"""Browser tests of the storefront pages (Debian's chromium through Playwright), with screenshots
at desktop and phone widths: favourites, average times, orders search/filters/export,
subscriptions, ticket attachments."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from PIL import Image
from playwright.sync_api import expect

from accounts.ledger import ledger_credit
from accounts.models import User
from catalog.models import Service
from orders.models import Order, Status
from orders.placement import order_place
from panel.tests.csp_watch import watch_csp
from support.models import TicketAttachment
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot

pytestmark = BROWSER_MARKS

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 220)).save(out, format="PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def test_favourites_and_average_times(browser, live_server, customer, make_service):
    fast = make_service("Default")
    other = make_service("Package")
    Service.objects.filter(pk=fast.pk).update(avg_time=timedelta(hours=1, minutes=20), avg_time_orders=10)
    for viewport, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = page_logged_in_as(browser, live_server, customer, viewport=viewport)
        csp = watch_csp(page)
        page.goto(f"{live_server.url}/services/")
        row = page.locator(f"#service-{fast.pk}")
        expect(row.locator(".avg-time")).to_contain_text("1 h 20 min")
        expect(page.locator(f"#service-{other.pk} .avg-time")).to_contain_text("Not enough data")
        star = row.locator(f"#star-{fast.pk}")
        if label == "desktop":
            expect(star).to_have_attribute("aria-pressed", "false")
            star.click()  # htmx swaps the button: no reload
            expect(row.locator(f"#star-{fast.pk}")).to_have_attribute("aria-pressed", "true")
            expect(page.locator("#favourites-count")).to_have_text("1")
        screenshot(page, f"storefront-services-{label}")
        page.click("#favourites-tab")
        expect(page.locator(f"#service-{fast.pk}")).to_be_visible()
        expect(page.locator(f"#service-{other.pk}")).to_have_count(0)
        screenshot(page, f"storefront-favourites-{label}")

        # The new order page: the Favourites entry, the star, the average time.
        page.goto(f"{live_server.url}/order/?category=favourites")
        expect(page.locator("#id_category")).to_have_value("favourites")
        expect(page.locator("#service-avg-time")).to_have_text("1 h 20 min")
        expect(page.locator(f"#star-{fast.pk}")).to_have_attribute("aria-pressed", "true")
        screenshot(page, f"storefront-order-favourites-{label}")
        assert not csp.violations(), csp.violations()
        page.context.close()
    assert set(customer.favourite_services.values_list("service_id", flat=True)) == {fast.pk}

    # Unstar from the order page, without leaving it or submitting the order.
    page = page_logged_in_as(browser, live_server, customer, viewport=DESKTOP)
    page.goto(f"{live_server.url}/order/?service={fast.pk}")
    page.click(f"#star-{fast.pk}")
    expect(page.locator(f"#star-{fast.pk}")).to_have_attribute("aria-pressed", "false")
    assert not customer.favourite_services.exists()
    assert not Order.objects.exists()
    page.context.close()


def test_orders_search_filters_and_export(browser, live_server, customer, make_service):
    a = make_service("Default")
    b = make_service("Default", refill=True)
    orders = [
        order_place(user=customer, service_id=s.pk, data={"link": link, "quantity": s.min}).order
        for s, link in (
            (a, "https://instagram.com/p/sunrise"),
            (b, "https://instagram.com/p/sunset"),
            (a, "https://t.me/x"),
        )
    ]
    Order.objects.filter(pk=orders[2].pk).update(link="=1+1", status=Status.COMPLETED)
    stranger = User.objects.create(username="stranger")
    ledger_credit(user_id=stranger.pk, amount=Decimal("1000"), memo="test funds")
    theirs = order_place(
        user=stranger, service_id=a.pk, data={"link": "https://instagram.com/p/sunrise2", "quantity": a.min}
    ).order

    for viewport, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = page_logged_in_as(browser, live_server, customer, viewport=viewport)
        page.goto(f"{live_server.url}/orders/")
        page.fill("input[name=q]", "p/sun")
        page.select_option("select[name=service]", str(a.pk))
        page.click("button:has-text('Filter')")
        expect(page.locator(f"#order-{orders[0].pk}")).to_be_visible()
        expect(page.locator(f"#order-{orders[1].pk}")).to_have_count(0)
        expect(page.locator(f"#order-{theirs.pk}")).to_have_count(0)
        screenshot(page, f"storefront-orders-filtered-{label}")
        page.context.close()

    page = page_logged_in_as(browser, live_server, customer, viewport=DESKTOP)
    page.goto(f"{live_server.url}/orders/?service={a.pk}")
    with page.expect_download() as info:
        page.click("#orders-export")
    download = info.value
    assert re.fullmatch(r"orders-\d{8}\.csv", download.suggested_filename)
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    assert {int(r[0]) for r in rows[1:]} == {orders[0].pk, orders[2].pk}
    assert "'=1+1" in [r[4] for r in rows[1:]]
    page.context.close()


def test_subscriptions_page(browser, live_server, customer, make_service):
    service = make_service("Subscriptions")
    data = {"username": "nasa", "min": service.min, "max": service.min, "posts": 8, "delay": 0, "expiry": "31/12/2030"}
    sub = order_place(user=customer, service_id=service.pk, data=data).order
    Order.objects.filter(pk=sub.pk).update(upstream_posts=3, status=Status.IN_PROGRESS)
    done = order_place(user=customer, service_id=service.pk, data={**data, "username": "esa", "expiry": ""}).order
    Order.objects.filter(pk=done.pk).update(upstream_posts=8, status=Status.COMPLETED)
    for viewport, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = page_logged_in_as(browser, live_server, customer, viewport=viewport)
        page.goto(f"{live_server.url}/subscriptions/")
        expect(page.locator(f"#sub-{sub.pk} .posts")).to_contain_text("3 / 8")
        expect(page.locator(f"#sub-{sub.pk}")).to_contain_text("31/12/2030")
        expect(page.locator(f"#sub-{done.pk}")).to_contain_text("No expiry")
        screenshot(page, f"storefront-subscriptions-{label}")
        page.get_by_role("link", name="Active", exact=True).click()
        expect(page.locator(f"#sub-{done.pk}")).to_have_count(0)
        page.context.close()


def test_ticket_attachments_upload_and_download(browser, live_server, customer, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    for viewport, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = page_logged_in_as(browser, live_server, customer, viewport=viewport)
        page.goto(f"{live_server.url}/tickets/")
        page.fill("input[name=subject]", f"Screenshot of the problem ({label})")
        page.select_option("select[name=topic]", "other")
        page.fill("textarea[name=message]", "Here is what I see.")
        page.set_input_files(
            "input[name=attachments]",
            files=[
                {"name": "screen.png", "mimeType": "image/png", "buffer": _png()},
                {"name": "receipt.pdf", "mimeType": "application/pdf", "buffer": PDF},
            ],
        )
        screenshot(page, f"storefront-ticket-new-{label}")
        page.click("button:has-text('Open ticket')")
        page.wait_for_url(re.compile(r".*/tickets/\d+/$"))
        image = page.locator(".attachment img")
        expect(image).to_have_js_property("naturalWidth", 64)
        screenshot(page, f"storefront-ticket-attachments-{label}")
        if label == "desktop":
            with page.expect_download() as info:
                page.click(".attachment:has-text('receipt.pdf')")
            assert info.value.suggested_filename == "receipt.pdf"
            assert Path(info.value.path()).read_bytes() == PDF
            # A spoofed file is refused beside the field, nothing is stored.
            page.set_input_files(
                "input[name=attachments]",
                files=[{"name": "cat.png", "mimeType": "image/png", "buffer": b"<?php echo 'pwned'; ?>"}],
            )
            page.fill("textarea[name=message]", "one more")
            page.click("button:has-text('Send reply')")
            expect(page.locator("#field-attachments .errorlist")).to_contain_text("not an image")
            screenshot(page, "storefront-ticket-refused-desktop")
        page.context.close()
    assert TicketAttachment.objects.count() == 4

    # Another customer gets a 404 for the same address.
    attachment = TicketAttachment.objects.filter(content_type="image/png").first()
    stranger = User.objects.create(username="stranger")
    page = page_logged_in_as(browser, live_server, stranger, viewport=DESKTOP)
    response = page.goto(f"{live_server.url}/tickets/attachments/{attachment.pk}/")
    assert response.status == 404
    page.context.close()
