"""The service page's fallbacks and fulfilment figures in a real browser (Debian's chromium
driven by Playwright), with screenshots in screenshots/backoffice-service-*.png."""

import pytest
from django.conf import settings as django_settings

from catalog.models import ServiceFallback
from orders.failover import FAILOVER_EVENT
from orders.models import Order, OrderEvent
from orders.placement import order_place
from panel.tests.csp_watch import watch_csp
from testing.failover import disable_upstream, second_provider, second_simulator, upstream_like
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot

DESKTOP = {"width": 1440, "height": 1000}

pytestmark = BROWSER_MARKS


@pytest.fixture
def sim2(sim):
    with second_simulator(sim) as second:
        yield second


@pytest.fixture
def staff_page(browser, live_server, admin_staff):
    page = page_logged_in_as(browser, live_server, admin_staff, viewport=DESKTOP)
    page.csp = watch_csp(page)
    yield page
    violations = page.csp.violations()
    page.context.close()
    assert not violations, violations


def service_url(live_server, service) -> str:
    return f"{live_server.url}/{django_settings.ADMIN_URL}catalog/service/{service.pk}/change/"


def pick_upstream(page, row: int, search: str, option: str) -> None:
    """Choose the upstream service of the fallback row `row` in its autocomplete box."""
    page.locator(f"#id_fallbacks-{row}-upstream + .select2 .select2-selection").click()
    page.fill(".select2-container--open .select2-search__field", search)
    page.locator(".select2-results__option", has_text=option).first.click()


def test_staff_add_fallbacks_and_see_who_fulfilled_the_orders(
    staff_page, live_server, make_service, sim, sim2, provider, customer
):
    page = staff_page
    provider2 = second_provider(sim2)
    service = make_service("Default", dripfeed=False)
    fallback = upstream_like(service, provider2)
    wrong_type = upstream_like(service, provider2, upstream_id="99001", name="Starter pack", type="Package")

    page.goto(service_url(live_server, service))
    page.wait_for_selector("#fallbacks-group")
    assert "No orders in this period." in page.inner_text("#bo-fulfilment")

    # A fallback of another type is refused with the reason.
    page.click("#fallbacks-group .add-row a")
    page.fill("#id_fallbacks-0-position", "1")
    pick_upstream(page, 0, "Starter", "Starter pack")
    page.click("input[name=_continue]")
    page.wait_for_selector("#fallbacks-group .errorlist")
    assert "It sells Package; this service is Default." in page.inner_text("#fallbacks-group")
    screenshot(page, "backoffice-service-fallback-refused")
    assert not ServiceFallback.objects.exists()

    # The same row with the second provider's equivalent service is saved.
    # Both providers list it under the same ID: staff pick the second provider's.
    pick_upstream(page, 0, fallback.upstream_id, f"second #{fallback.upstream_id} ")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    [saved] = ServiceFallback.objects.all()
    assert (saved.service_id, saved.upstream_id, saved.position) == (service.pk, fallback.pk, 1)
    row = page.inner_text("#fallbacks-group tbody tr.has_original")
    assert "second" in row and service.type in row
    assert wrong_type.pk != saved.upstream_id

    # One order goes to the service's own provider; then it switches the service off and the
    # next three fail over to the second provider (the live server commits: they are sent at once).
    def place(link):
        data = {"link": link, "quantity": service.min}
        return order_place(user=customer, service_id=service.pk, data=data).order

    place("https://x.com/own")
    disable_upstream(sim, service.upstream.upstream_id)
    moved = [place(f"https://x.com/moved{i}") for i in range(3)]
    assert set(Order.objects.filter(pk__in=[o.pk for o in moved]).values_list("provider_id", flat=True)) == {
        provider2.pk
    }
    assert OrderEvent.objects.filter(kind=FAILOVER_EVENT).count() == 3

    page.goto(service_url(live_server, service))
    page.wait_for_selector("#bo-fulfilled-by")
    fulfilled = page.inner_text("#bo-fulfilled-by")
    assert "second\t3\t75%" in fulfilled and "sim\t1\t25%" in fulfilled
    failovers = page.inner_text("#bo-failovers")
    assert "sim\tservice disabled or unknown upstream\tsecond\t3" in failovers
    assert "3 failovers in this period." in page.inner_text("#bo-fulfilment")
    page.locator("#bo-fulfilment").scroll_into_view_if_needed()
    screenshot(page, "backoffice-service-fulfilment")
    page.csp.assert_clean("service page")

    # Its orders at the second provider, through the order list's filters.
    page.locator("#bo-fulfilled-by tbody a").first.click()
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 3

    # A moved order's timeline says who refused it, why, and where it went.
    page.goto(f"{live_server.url}/{django_settings.ADMIN_URL}orders/order/{moved[0].pk}/change/")
    page.wait_for_selector(".bo-timeline")
    timeline = page.inner_text(".bo-timeline")
    assert "sim refused (service disabled or unknown upstream: Service not found or inactive)" in timeline
    assert f"moved to second service {fallback.upstream_id}" in timeline and "Sent to second" in timeline
    page.locator(".bo-timeline").scroll_into_view_if_needed()
    screenshot(page, "backoffice-order-failover")

    # Another period.
    page.goto(service_url(live_server, service) + "?days=7")
    page.wait_for_selector("#bo-fulfilled-by")
    assert "Orders placed in the last 7 days" in page.inner_text("#bo-fulfilment")

    # Each provider's page: the orders it refused and where they went, the orders it took.
    provider_url = f"{live_server.url}/{django_settings.ADMIN_URL}upstream/provider/"
    page.goto(f"{provider_url}{provider.pk}/change/")
    page.wait_for_selector("#bo-failovers-away")
    assert "service disabled or unknown upstream\tsecond\t3" in page.inner_text("#bo-failovers-away")
    assert "None in this period." in page.inner_text("#bo-provider-failovers")
    page.goto(f"{provider_url}{provider2.pk}/change/")
    page.wait_for_selector("#bo-failovers-taken")
    assert "\tsim\tservice disabled or unknown upstream\t3" in page.inner_text("#bo-failovers-taken")
    page.locator("#bo-provider-failovers").scroll_into_view_if_needed()
    screenshot(page, "backoffice-provider-failovers")
    page.csp.assert_clean("provider page")
