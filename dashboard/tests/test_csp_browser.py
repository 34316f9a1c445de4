"""The customer and public pages work under the Content-Security-Policy: the browser refuses
nothing (no inline script, handler or style element, no eval by htmx) while a customer browses,
places an order through the htmx live quote, and opens the pages with client-side behaviour.

Debian's chromium through Playwright, as the other browser tests; screenshots go to
screenshots/csp-*.png.
"""

import re
from decimal import Decimal

import pytest

from billing.models import PaymentMethod
from catalog.pricing import quote
from dashboard.templatetags.panel import money
from orders.models import Order
from panel.tests.csp_watch import csp_header, wait_until, watch_csp
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot

pytestmark = BROWSER_MARKS

DESKTOP = {"width": 1366, "height": 900}


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


@pytest.fixture
def customer_page(browser, live_server, customer):
    page = page_logged_in_as(browser, live_server, customer, viewport=DESKTOP, timeout_ms=10_000)
    yield page
    page.context.close()


def test_the_policy_is_enforced_and_a_violation_would_be_seen(customer_page, live_server):
    page = customer_page
    watch = watch_csp(page)
    response = page.goto(f"{live_server.url}/")
    policy = csp_header(response)
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    watch.assert_clean("home")
    # htmx took its configuration from base.html's meta tag: no eval, no injected style element.
    wait_until(page, "!!window.htmx")
    assert page.evaluate("[htmx.config.allowEval, htmx.config.includeIndicatorStyles]") == [False, False]
    # An injected inline handler (what an HTML injection would try) does not run, and is reported.
    page.evaluate("""document.body.insertAdjacentHTML("beforeend", '<img src="/nope.png" onerror="window.ran = 1">')""")
    page.wait_for_timeout(500)
    assert page.evaluate("window.ran") is None
    assert watch.violations(), "the watcher must see the refused handler"


def test_customer_pages_run_without_violations(customer_page, live_server, customer, make_service):
    service = make_service("Default", dripfeed=False)
    PaymentMethod.objects.create(name="Bank transfer", instructions="IBAN DE00", min_amount=Decimal("5"))
    page = customer_page
    watch = watch_csp(page)

    # New order: search, pick (htmx swaps the form in), type a quantity (htmx live quote), place.
    page.goto(f"{live_server.url}/order/")
    page.fill("#id_q", str(service.pk))
    page.wait_for_selector(f"#id_service_pick option[value='{service.pk}']", state="attached")
    with page.expect_response(re.compile(r"/order/form/")):
        page.select_option("#id_service_pick", str(service.pk))
    expect()(page.locator("#service-form input[name=service]")).to_have_value(str(service.pk))
    expect()(page.locator("#service-form .service-info h3")).to_have_text(service.name)
    page.wait_for_load_state("networkidle")  # the search's own swaps are done: the form stays
    page.fill("#service-form input[name=link]", "https://instagram.com/p/csp")
    with page.expect_response(re.compile(r"/order/quote/")):
        page.fill("#service-form input[name=quantity]", str(service.min * 2))
    expect()(page.locator("#charge")).to_have_text(money(quote(service, customer, quantity=service.min * 2).charge))
    screenshot(page, "csp-order-new")
    page.click("button:has-text('Place order')")
    page.wait_for_selector("#placed")
    watch.assert_clean("new order")
    order = Order.objects.get(user=customer)

    # Orders: the list polls its rows with htmx; cancel asks through hx-confirm.
    page.goto(f"{live_server.url}/orders/")
    expect()(page.locator(f"#order-{order.pk}")).to_be_visible()
    page.wait_for_timeout(7500)  # one poll of the rows (every 7 s)
    screenshot(page, "csp-orders")
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    watch.assert_clean("orders")

    # Add funds: the deposit form.
    page.goto(f"{live_server.url}/funds/add/")
    expect()(page.locator(".method h3", has_text="Bank transfer")).to_be_visible()
    screenshot(page, "csp-add-funds")
    watch.assert_clean("add funds")

    # Account: a new API key is selected by a click (was an inline onclick), rotation asks first
    # (was an inline onsubmit).
    page.goto(f"{live_server.url}/account/")
    page.click("button:has-text('Create key')")
    page.wait_for_selector("#new-key")
    page.click("#new-key")
    assert page.evaluate("document.activeElement.selectionEnd - document.activeElement.selectionStart") == 48
    key = page.input_value("#new-key")
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.click("button:has-text('Rotate key')")
    page.wait_for_timeout(500)
    assert questions == ["The current key stops working at once. Continue?"]
    assert page.input_value("#new-key") == key  # dismissed: nothing was sent
    customer.refresh_from_db()
    assert key.startswith(customer.api_key_prefix)
    screenshot(page, "csp-account")
    for path in ("/", "/services/", "/funds/", "/refills/", "/affiliates/", "/tickets/", "/order/mass/", "/api/"):
        page.goto(f"{live_server.url}{path}")
        watch.assert_clean(path)


def test_public_pages_run_without_violations(browser, live_server, db):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watch = watch_csp(page)
    try:
        for path in ("/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/", "/api/"):
            response = page.goto(f"{live_server.url}{path}")
            assert csp_header(response), path
            watch.assert_clean(path)
        page.goto(f"{live_server.url}/accounts/signup/")
        screenshot(page, "csp-signup")
        page.fill("input[name=email]", "new@example.com")
        page.fill("input[name=username]", "newcomer")
        page.fill("input[name=password1]", "A-long-enough-pw-42")
        page.fill("input[name=password2]", "A-long-enough-pw-42")
        page.click("button[type=submit]")
        page.wait_for_url(lambda address: "/accounts/signup/" not in address)
        watch.assert_clean("after sign-up")
    finally:
        context.close()
