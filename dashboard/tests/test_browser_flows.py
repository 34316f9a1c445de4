"""Browser tests of the customer flows beyond sign-up: a manual deposit approved by staff, an order
of each main type, refill, cancel and a support ticket answered in the backoffice.

Debian's chromium driven by Playwright against the live server (Celery runs eagerly, so placing
an order forwards it to the simulator at once); screenshots go to screenshots/flow-*.png.
"""

import re
from decimal import Decimal

import pytest
from django.conf import settings as django_settings

from accounts.models import LedgerEntry, User
from billing.models import DepositRequest, PaymentMethod
from catalog.pricing import quote
from dashboard.templatetags.panel import money, money2
from orders.models import Order, Refill, Status
from orders.placement import order_place
from orders.polling import order_recheck
from support.models import Ticket
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot

pytestmark = BROWSER_MARKS

DESKTOP = {"width": 1366, "height": 900}
# Every field a service type may show on the New order page (drip-feed runs/interval included).
TYPE_FIELD_NAMES = (
    "quantity",
    "comments",
    "usernames",
    "username",
    "answer_number",
    "keywords",
    "hashtags",
    "hashtag",
    "media",
    "groups",
    "posts",
    "dripfeed",
    "runs",
    "interval",
)


def shot(page, name: str) -> None:
    screenshot(page, f"flow-{name}")


def _page_as(browser, live_server, user):
    return page_logged_in_as(browser, live_server, user, viewport=DESKTOP, timeout_ms=10_000)


@pytest.fixture
def customer_page(browser, live_server, customer):
    page = _page_as(browser, live_server, customer)
    yield page
    page.context.close()


@pytest.fixture
def staff_page(browser, live_server, db):
    staff = User.objects.create_superuser(username="staffer", email="staff@example.com", password="pw-Long-enough-1")
    page = _page_as(browser, live_server, staff)
    yield page
    page.context.close()


def url(live_server, path: str) -> str:
    return f"{live_server.url}{path}"


def admin_url(live_server, path: str) -> str:
    return f"{live_server.url}/{django_settings.ADMIN_URL}{path}"


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def balance_of(user) -> Decimal:
    user.refresh_from_db(fields=["balance"])
    return user.balance


def wait_for_status(page, order: Order, label: str, timeout: int = 15_000) -> None:
    """Wait for the orders list's polled rows (every 7 s) to bring `label`, without a reload."""
    expect()(page.locator(f"#order-{order.pk} .badge")).to_have_text(label, timeout=timeout)


def place(customer, service, **data) -> Order:
    data = {"link": f"https://instagram.com/p/{Order.objects.count()}", "quantity": service.min * 10, **data}
    return order_place(user=customer, service_id=service.pk, data=data).order


# --- 1. Manual deposit, approved by staff ---------------------------------------------------------


def test_manual_deposit_approved_in_backoffice(customer_page, staff_page, live_server, customer):
    method = PaymentMethod.objects.create(
        name="Bank transfer", instructions="IBAN DE00 1234 5678\nReference: your username", min_amount=Decimal("5")
    )
    before = balance_of(customer)
    amount = Decimal("125.50")
    page = customer_page
    page.goto(url(live_server, "/"))
    expect()(page.locator("#balance")).to_have_text(money2(before))
    page.click("a.balance")  # the top bar's balance leads to Add funds
    page.wait_for_url(re.compile(r".*/funds/add/$"))
    expect()(page.locator(".method h3", has_text="Bank transfer")).to_be_visible()
    assert "IBAN DE00 1234 5678" in page.inner_text(".method .instructions")
    page.select_option("select[name=method]", str(method.pk))
    page.fill("input[name=amount]", str(amount))
    page.fill("input[name=reference]", "TX-4711")
    shot(page, "deposit-form")
    page.click("button:has-text('Send deposit request')")
    page.wait_for_selector(".flash-success")
    deposit = DepositRequest.objects.get(user=customer)
    assert (deposit.amount, deposit.reference, deposit.status) == (amount, "TX-4711", DepositRequest.Status.PENDING)
    assert f"Deposit request {deposit.pk} received" in page.inner_text(".flash-success")
    expect()(page.locator(".list-plain li", has_text=f"#{deposit.pk}").locator(".badge")).to_have_text("Pending")
    # Nothing is credited before staff approve.
    expect()(page.locator("#balance")).to_have_text(money2(before))
    shot(page, "deposit-requested")

    staff = staff_page
    staff.goto(admin_url(live_server, "dashboard/depositrequest/?status__exact=pending"))
    row = staff.locator("#result_list tbody tr", has_text="TX-4711")
    expect()(row).to_have_count(1)
    row.locator("input.action-select").check()
    staff.select_option("select[name=action]", "approve")
    shot(staff, "deposit-backoffice")
    staff.click("button[name=index]")
    expect()(staff.locator(".messagelist .success")).to_contain_text("1 deposit approved and credited")
    deposit.refresh_from_db()
    assert deposit.status == DepositRequest.Status.APPROVED

    page.goto(url(live_server, "/funds/"))
    expect()(page.locator("#balance")).to_have_text(money2(before + amount))
    entry = page.locator("table tbody tr", has_text=f"Deposit {deposit.pk} via Bank transfer")
    expect()(entry).to_have_count(1)
    expect()(entry.locator("td.plus")).to_have_text(f"+{money(amount)}")
    expect()(entry.locator(".badge")).to_have_text("Deposit")
    assert LedgerEntry.objects.filter(user=customer, kind="deposit", amount=amount).count() == 1
    shot(page, "deposit-funds-history")
    page.goto(url(live_server, "/funds/add/"))
    expect()(page.locator(".list-plain li", has_text=f"#{deposit.pk}").locator(".badge")).to_have_text("Approved")


# --- 2. An order of each main type through the New order page ------------------------------------


def _pick(page, service) -> None:
    """Find the service by its ID in the search box and pick it: its form replaces the last one."""
    page.fill("#id_q", str(service.pk))
    page.wait_for_selector(f"#id_service_pick option[value='{service.pk}']", state="attached")
    with page.expect_response(re.compile(r"/order/form/")):
        page.select_option("#id_service_pick", str(service.pk))
    expect()(page.locator("#service-form input[name=service]")).to_have_value(str(service.pk))
    expect()(page.locator("#service-form .service-info h3")).to_have_text(service.name)


def _shows_only(page, visible: set[str]) -> None:
    for name in TYPE_FIELD_NAMES:
        field = page.locator(f"#service-form [name={name}]")
        if name in visible:
            expect()(field).to_be_visible()
        else:
            expect()(field).to_be_hidden()


def _charge_is(page, service, user, *, quantity: int, runs: int | None = None) -> Decimal:
    expected = quote(service, user, quantity=quantity, runs=runs).charge
    expect()(page.locator("#charge")).to_have_text(money(expected))
    return expected


def _place(page, customer, service, name: str, charge: Decimal) -> Order:
    shot(page, f"order-{name}")
    page.click("button:has-text('Place order')")
    page.wait_for_selector("#placed")
    order = Order.objects.filter(user=customer, service=service).latest("id")
    assert f"Order #{order.pk} placed" in page.inner_text("#placed")
    assert order.charge == charge, (name, order.charge, charge)
    return order


def test_order_of_each_main_type(customer_page, live_server, customer, make_service):
    dripfeed = make_service("Default", dripfeed=True)
    comments = make_service("Custom Comments")
    package = make_service("Package")
    poll = make_service("Poll")
    mentions = make_service("Mentions User Followers")
    page = customer_page
    page.goto(url(live_server, "/order/"))

    # Default with drip-feed: runs and interval appear only once drip-feed is ticked.
    _pick(page, dripfeed)
    _shows_only(page, {"quantity", "dripfeed"})
    page.fill("#service-form input[name=link]", "https://instagram.com/p/drip")
    quantity = dripfeed.min * 3
    page.fill("#service-form input[name=quantity]", str(quantity))
    _charge_is(page, dripfeed, customer, quantity=quantity)
    page.check("#service-form input[name=dripfeed]")
    _shows_only(page, {"quantity", "dripfeed", "runs", "interval"})
    page.fill("#service-form input[name=runs]", "4")
    page.fill("#service-form input[name=interval]", "15")
    charge = _charge_is(page, dripfeed, customer, quantity=quantity, runs=4)
    expect()(page.locator("#quote")).to_contain_text(f"{quantity} \u00d7 4 runs")  # multiplication sign
    order = _place(page, customer, dripfeed, "dripfeed", charge)
    assert (order.quantity, order.runs, order.interval) == (quantity, 4, 15)

    # Custom Comments: a textarea, no quantity; the charge follows the number of lines.
    _pick(page, comments)
    _shows_only(page, {"comments"})
    page.fill("#service-form input[name=link]", "https://instagram.com/p/comments")
    lines = [f"Great post {n}!" for n in range(comments.min)]
    page.fill("#service-form textarea[name=comments]", "\n".join(lines))
    _charge_is(page, comments, customer, quantity=len(lines))
    lines += ["Love it", "", "So good"]  # the blank line does not count
    page.fill("#service-form textarea[name=comments]", "\n".join(lines))
    charge = _charge_is(page, comments, customer, quantity=comments.min + 2)
    order = _place(page, customer, comments, "custom-comments", charge)
    assert order.quantity == comments.min + 2

    # Package: no quantity at all, one flat price.
    _pick(page, package)
    _shows_only(page, set())
    expect()(page.locator("#service-form input[name=link]")).to_be_visible()
    expect()(page.locator("#service-form .facts dt").first).to_have_text("Price")
    page.fill("#service-form input[name=link]", "https://instagram.com/p/package")
    charge = _charge_is(page, package, customer, quantity=1)
    assert charge == quote(package, customer, quantity=1).rate
    _place(page, customer, package, "package", charge)

    # Poll: quantity and the answer number.
    _pick(page, poll)
    _shows_only(page, {"quantity", "answer_number"})
    page.fill("#service-form input[name=link]", "https://t.me/channel/12")
    page.fill("#service-form input[name=quantity]", str(poll.min * 2))
    page.fill("#service-form input[name=answer_number]", "2")
    charge = _charge_is(page, poll, customer, quantity=poll.min * 2)
    order = _place(page, customer, poll, "poll", charge)
    assert order.params.get("answer_number") in (2, "2"), order.params

    # Mentions User Followers: quantity and the username whose followers are mentioned.
    _pick(page, mentions)
    _shows_only(page, {"quantity", "username"})
    page.fill("#service-form input[name=link]", "https://instagram.com/p/mentions")
    page.fill("#service-form input[name=quantity]", str(mentions.min))
    page.fill("#service-form input[name=username]", "famous_account")
    charge = _charge_is(page, mentions, customer, quantity=mentions.min)
    order = _place(page, customer, mentions, "mentions-user-followers", charge)
    assert order.params.get("username") == "famous_account", order.params

    assert Order.objects.filter(user=customer).count() == 5
    page.goto(url(live_server, "/orders/"))
    expect()(page.locator("#order-rows tr")).to_have_count(5)
    shot(page, "orders-each-type")


# --- 3. Refill ------------------------------------------------------------------------------------


def test_refill_a_completed_order(customer_page, live_server, customer, make_service, sim):
    service = make_service("Default", refill=True)
    order = place(customer, service)
    page = customer_page
    page.goto(url(live_server, "/orders/"))
    row = page.locator(f"#order-{order.pk}")
    expect()(row.locator(".badge")).to_have_text("Pending")
    expect()(row.locator("button", has_text="Refill")).to_have_count(0)

    sim.clock.advance(10**6)
    order = order_recheck(order_id=order.pk)
    assert order.status == Status.COMPLETED, order.status  # the simulator's seeded outcome
    # The polled rows bring the new status and, with it, the Refill button.
    wait_for_status(page, order, "Completed")
    expect()(row.locator("button", has_text="Refill")).to_be_visible()
    shot(page, "refill-button")
    row.locator("button", has_text="Refill").click()
    expect()(page.locator("#toasts .toast.success")).to_contain_text(f"Refill requested for order {order.pk}")
    expect()(row.locator("button", has_text="Refill")).to_have_count(0)  # one refill at a time
    refill = Refill.objects.get(order=order)

    page.click("nav a:has-text('Refills')")
    page.wait_for_url(re.compile(r".*/refills/$"))
    listed = page.locator("table tbody tr", has_text=str(order.link))
    expect()(listed).to_have_count(1)
    expect()(listed.locator("td").first).to_have_text(str(refill.pk))
    expect()(listed.locator("td a.mono")).to_have_text(str(order.pk))
    shot(page, "refills")


# --- 4. Cancel ------------------------------------------------------------------------------------


def test_cancel_an_active_order(customer_page, live_server, customer, make_service):
    service = make_service("Default", cancel=True)
    start = balance_of(customer)
    order = place(customer, service)
    assert order.charge > 0
    page = customer_page
    page.goto(url(live_server, "/orders/"))
    expect()(page.locator("#balance")).to_have_text(money2(start - order.charge))
    row = page.locator(f"#order-{order.pk}")
    cancel = row.locator("button", has_text="Cancel")
    expect()(cancel).to_be_visible()
    shot(page, "cancel-button")
    page.once("dialog", lambda dialog: dialog.accept())  # hx-confirm asks first
    cancel.click()
    expect()(page.locator("#toasts .toast.success")).to_contain_text(f"Cancel requested for order {order.pk}")
    expect()(row.locator("button", has_text="Cancel")).to_have_count(0)  # no second request

    # The provider confirmed the cancel; its next status answer settles the order.
    order = order_recheck(order_id=order.pk)
    assert order.status == Status.CANCELED, order.status
    wait_for_status(page, order, "Canceled")  # live, without a reload
    shot(page, "cancelled")
    assert balance_of(customer) == start
    page.reload()
    expect()(page.locator("#balance")).to_have_text(money2(start))
    page.goto(url(live_server, f"/orders/{order.pk}/"))
    expect()(page.locator(".list-plain li", has_text="Refunded")).to_contain_text(money(order.charge))


# --- 5. A ticket answered by staff ----------------------------------------------------------------


def test_ticket_about_an_order_answered_by_staff(customer_page, staff_page, live_server, customer, make_service):
    order = place(customer, make_service("Default"))
    page = customer_page
    page.goto(url(live_server, f"/orders/{order.pk}/"))
    page.click("a:has-text('Ask support')")
    page.wait_for_url(re.compile(rf".*/tickets/\?order={order.pk}$"))
    expect()(page.locator("select[name=topic]")).to_have_value(Ticket.Topic.ORDER)
    expect()(page.locator("input[name=order_id]")).to_have_value(str(order.pk))
    page.fill("input[name=subject]", "Order not started")
    page.fill("textarea[name=message]", "My order has not started yet, can you check?")
    page.click("button:has-text('Open ticket')")
    page.wait_for_url(re.compile(r".*/tickets/\d+/$"))
    ticket = Ticket.objects.get(user=customer)
    assert ticket.order_id == order.pk
    expect()(page.locator(".thread .msg.mine .body")).to_have_text("My order has not started yet, can you check?")
    expect()(page.locator(".page-head")).to_contain_text(f"Order {order.pk}")
    expect()(page.locator(".page-head .badge")).to_have_text("Open")
    shot(page, "ticket-opened")

    staff = staff_page
    staff.goto(admin_url(live_server, "dashboard/ticket/"))
    staff.click(f"#result_list a:has-text('{ticket.pk}')")
    staff.wait_for_url(re.compile(rf".*/ticket/{ticket.pk}/change/.*"))
    assert "My order has not started yet" in staff.inner_text("body")
    staff.locator("textarea[name$='-body']:not([name*='__prefix__'])").fill("It starts within the hour, sorry!")
    shot(staff, "ticket-backoffice")
    staff.click("input[name=_save]")
    expect()(staff.locator(".messagelist .success")).to_be_visible()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.ANSWERED

    page.reload()
    expect()(page.locator(".thread .msg")).to_have_count(2)
    expect()(page.locator(".thread .msg.staff .body")).to_have_text("It starts within the hour, sorry!")
    expect()(page.locator(".thread .msg.staff .meta")).to_contain_text("Support")
    expect()(page.locator(".page-head .badge")).to_have_text("Answered")
    page.click("a:has-text('All tickets')")
    expect()(page.locator("table tbody tr", has_text="Order not started").locator(".badge")).to_have_text("Answered")
    shot(page, "ticket-answered")
