"""Browser tests: Debian's chromium driven by Playwright against the live server.

They also write screenshots of every main page, at desktop and phone widths, to screenshots/.
"""

import re
from decimal import Decimal

from playwright.sync_api import expect

from accounts.ledger import ledger_credit
from accounts.models import User
from billing.models import PaymentMethod
from orders.models import Order
from orders.polling import order_recheck
from testing.fixtures import BROWSER_MARKS, screenshot

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}

pytestmark = BROWSER_MARKS


shot = screenshot


def test_sign_up_order_watch_status_mass_order(browser, live_server, make_service, sim):
    service = make_service("Default", dripfeed=True)
    make_service("Default", refill=True)
    make_service("Package")
    PaymentMethod.objects.create(name="Bank transfer", instructions="IBAN DE00 1234 5678\nReference: your username")
    page = browser.new_page(viewport=DESKTOP)
    page.set_default_timeout(10_000)

    page.goto(f"{live_server.url}/accounts/signup/")
    shot(page, "signup-desktop")
    page.fill("input[name=email]", "alice@example.com")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password1]", "a-Long-pass-123")
    page.fill("input[name=password2]", "a-Long-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))
    user = User.objects.get(username="alice")
    ledger_credit(user_id=user.pk, amount=Decimal("250"), memo="Bank transfer", idempotency_key="test:alice")

    page.goto(f"{live_server.url}/order/?service={service.pk}")
    page.fill("input[name=link]", "https://instagram.com/p/browser")
    page.fill("input[name=quantity]", str(service.min * 10))
    # Locator assertions, not wait_for_function: a string predicate is evaluated with eval(),
    # which the panel's Content-Security-Policy (script-src 'self') refuses.
    expect(page.locator("#charge")).not_to_have_text("—")
    page.wait_for_timeout(600)
    charge_text = page.text_content("#charge").strip()
    shot(page, "order-new-desktop")
    page.click("button:has-text('Place order')")
    page.wait_for_selector("#placed")
    order = Order.objects.get(user=user)
    assert f"#{order.pk}" in page.text_content("#placed")
    assert charge_text.lstrip("$").replace(",", "") == f"{order.charge:.5f}".rstrip("0").rstrip(".") or order.charge

    page.goto(f"{live_server.url}/orders/")
    badge = page.locator(f"#order-{order.pk} .badge")
    first_status = badge.text_content()
    sim.clock.advance(10**6)
    order_recheck(order_id=order.pk)
    order.refresh_from_db()
    assert order.status != first_status
    # No reload: the polled rows bring the new status.
    expect(page.locator(f"#order-{order.pk} .badge")).to_have_text(order.get_status_display(), timeout=15_000)
    shot(page, "orders-desktop")

    page.goto(f"{live_server.url}/order/mass/")
    page.fill(
        "textarea[name=orders]",
        f"{service.pk} | https://instagram.com/p/mass1 | {service.min}\n"
        f"{service.pk} | https://instagram.com/p/mass2 | 1\n"
        f"999999 | https://instagram.com/p/x | 100",
    )
    page.click("button:has-text('Place orders')")
    page.wait_for_selector("#mass-results")
    assert page.locator("#mass-results .badge.ok").count() == 1
    assert page.locator("#mass-results .badge.bad").count() == 2
    shot(page, "mass-order-desktop")

    pages = {
        "home": "/",
        "order-new": f"/order/?service={service.pk}",
        "orders": "/orders/",
        "services": "/services/",
        "funds": "/funds/",
        "add-funds": "/funds/add/",
        "refills": "/refills/",
        "tickets": "/tickets/",
        "affiliates": "/affiliates/",
        "account": "/account/",
        "mfa": "/accounts/2fa/",
    }
    phone = browser.new_context(
        viewport=PHONE, device_scale_factor=2, storage_state=page.context.storage_state()
    ).new_page()
    for name, path in pages.items():
        page.goto(live_server.url + path)
        shot(page, f"{name}-desktop")
        phone.goto(live_server.url + path)
        shot(phone, f"{name}-phone")
    phone.click("label.menu-btn")
    phone.wait_for_timeout(300)
    shot(phone, "menu-open-phone")

    guest = browser.new_page(viewport=PHONE)
    guest.goto(f"{live_server.url}/accounts/login/")
    shot(guest, "login-phone")
    guest.goto(f"{live_server.url}/accounts/password/reset/")
    shot(guest, "password-reset-phone")
