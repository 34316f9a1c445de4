"""Browser tests (Debian's chromium through Playwright) of the notification pages: preferences
with the low-balance line, and webhook settings with the delivery log, test event and send again.
Screenshots go to screenshots/notify-*.png. The browser must refuse nothing under the CSP."""

import re

import pytest

from notifications.models import CustomerSettings, Delivery, Preference, WebhookEndpoint
from panel.tests.csp_watch import watch_csp
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot

pytestmark = BROWSER_MARKS

DESKTOP = {"width": 1366, "height": 900}


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


@pytest.fixture
def page(browser, live_server, customer, plain_static_storage):
    page = page_logged_in_as(browser, live_server, customer, viewport=DESKTOP, timeout_ms=10_000)
    watch = watch_csp(page)
    yield page
    # Every page and htmx swap of these tests ran under the Content-Security-Policy untouched.
    violations = watch.violations()
    page.context.close()
    assert not violations, violations


def test_preferences_and_the_low_balance_threshold(page, live_server, customer):
    page.goto(f"{live_server.url}/notifications/")
    row = page.locator("#pref-ticketanswered input[name='pref:ticket.answered:email']")
    expect()(row).to_be_checked()  # support answers are emailed by default
    order_final = page.locator("#pref-orderfinal input[type=checkbox]")
    expect()(order_final).not_to_be_checked()  # order traffic is off by default
    order_final.check()
    row.uncheck()
    page.fill("#balance_threshold", "abc")
    page.click("#preferences-form button[type=submit]")
    expect()(page.locator("#field-balance_threshold .errorlist")).to_contain_text("Enter the threshold as a number")
    screenshot(page, "notify-preferences-error")
    page.fill("#balance_threshold", "25.50")
    page.click("#preferences-form button[type=submit]")
    expect()(page.locator(".messages, .toast, [role=status]").first).to_contain_text("Notification settings saved")
    expect()(page.locator("#pref-orderfinal input[type=checkbox]")).to_be_checked()
    expect()(page.locator("#pref-ticketanswered input[type=checkbox]")).not_to_be_checked()
    expect()(page.locator("#balance_threshold")).to_have_value("25.5")
    screenshot(page, "notify-preferences")
    assert Preference.objects.get(user=customer, kind="order.final", channel="email").enabled is True
    assert Preference.objects.get(user=customer, kind="ticket.answered", channel="email").enabled is False
    assert str(CustomerSettings.objects.get(user=customer).balance_threshold) == "25.50000"


def test_webhook_settings_with_the_delivery_log(page, live_server, customer, receiver):
    page.goto(f"{live_server.url}/webhooks/")
    expect()(page.locator("#deliveries")).to_contain_text("Nothing sent yet")
    page.fill("#id_url", receiver.url)
    page.locator("#endpoint button[type=submit]").click()
    secret = page.locator("#webhook-secret")
    expect()(secret).to_have_value(WebhookEndpoint.objects.get(user=customer).secret)
    receiver.secret = secret.input_value()
    screenshot(page, "notify-webhooks-secret")

    page.click("#send-test")
    first = page.locator("#deliveries tbody tr").first
    expect()(first).to_contain_text("webhook.test")
    expect()(first.locator(".badge")).to_have_text("Sent")
    expect()(first).to_contain_text("HTTP 200")
    assert [event["type"] for event in receiver.events] == ["webhook.test"]
    expect()(page.locator("#webhook-secret")).to_have_count(0)  # shown once only

    receiver.answers = [503]
    first.get_by_role("button", name="Send again").click()
    again = page.locator("#deliveries tbody tr").first
    expect()(again).to_contain_text("sent again")
    expect()(again.locator(".badge")).to_have_text("Pending")
    expect()(again).to_contain_text("The receiver answered HTTP 503.")
    expect()(page.locator("#deliveries tbody tr")).to_have_count(2)
    page.locator("#contract").scroll_into_view_if_needed()
    expect()(page.locator("#snippet-php")).to_contain_text("hash_hmac('sha256'")
    screenshot(page, "notify-webhooks")
    assert list(Delivery.objects.order_by("id").values_list("copy", "state")) == [(0, "sent"), (1, "pending")]
    assert len({request["headers"]["webhook-id"] for request in receiver.requests}) == 1


def test_linking_telegram_with_a_one_time_code(page, live_server, customer, telegram_bot, bot_api):
    from notifications.services import telegram_updates_poll

    page.goto(f"{live_server.url}/notifications/")
    expect()(page.locator("#telegram-status")).to_contain_text("Not linked")
    expect()(page.locator("#preferences thead")).to_contain_text("Telegram")
    page.click("#telegram-link")
    code = page.locator("#telegram-code")
    expect()(code).to_have_value(re.compile(r"^/start [A-Za-z0-9_-]{20,}$"))
    expect()(page.locator("#telegram-open")).to_have_attribute(
        "href", f"https://t.me/panel_test_bot?start={code.input_value().split()[1]}"
    )
    expect()(page.locator("#telegram-status")).to_contain_text("Waiting for your code")
    screenshot(page, "notify-telegram-code")

    bot_api.user_sends(4242, code.input_value(), username="alice_smm")
    telegram_updates_poll()
    # The card asks every 3 s while a code waits: it turns to "Linked" without a reload.
    expect()(page.locator("#telegram-status")).to_contain_text("Linked @alice_smm", timeout=8_000)
    assert bot_api.messages_to(4242) == ["Linked: SMM Panel will message you here."]

    page.reload()
    order_final = page.locator("#pref-orderfinal input[name='pref:order.final:telegram']")
    expect()(order_final).not_to_be_checked()
    order_final.check()
    page.click("#preferences-form button[type=submit]")
    expect()(page.locator("#pref-orderfinal input[name='pref:order.final:telegram']")).to_be_checked()
    screenshot(page, "notify-telegram-linked")
    assert Preference.objects.get(user=customer, kind="order.final", channel="telegram").enabled is True


def test_updates_page_and_announcements_on_the_dashboard(page, live_server, customer, make_service):
    from catalog.models import Service
    from notifications.models import Announcement
    from notifications.updates import catalog_scan

    cheap = make_service("Default")
    catalog_scan()
    Service.objects.filter(pk=cheap.pk).update(rate=cheap.rate / 2)
    make_service("Custom Comments")
    catalog_scan()
    Announcement.objects.create(title="Maintenance tonight", body="The panel pauses from 02:00 to 02:15 UTC.")
    Announcement.objects.create(title="New: crypto deposits", sticky=True, level="warning")

    page.goto(f"{live_server.url}/")
    notes = page.locator("#announcements .announcement")
    expect()(notes).to_have_count(2)
    expect()(notes.first).to_contain_text("New: crypto deposits")  # sticky first, no dismiss button
    expect()(notes.first.locator("button")).to_have_count(0)
    screenshot(page, "notify-announcements")
    page.locator("#announcements .announcement", has_text="Maintenance tonight").get_by_role(
        "button", name="Dismiss"
    ).click()
    expect()(notes).to_have_count(1)  # removed in place (htmx), no reload
    page.reload()
    expect()(page.locator("#announcements .announcement")).to_have_count(1)

    page.get_by_role("link", name="Updates").click()
    rows = page.locator("#updates tbody tr")
    expect()(rows).to_have_count(2)
    expect()(rows.first).to_contain_text("New service")
    expect()(page.locator("#updates")).to_contain_text("Price down")
    screenshot(page, "notify-updates")
    page.locator("#update-kinds").get_by_role("link", name="Price down").click()
    expect()(page.locator("#updates tbody tr")).to_have_count(1)
