"""The backoffice's scripts in the staff member's language: the reports chart's legend and the import
page's "N selected" (its plural forms written by the page)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from orders.models import ForwardState, Order, Status
from testing.fixtures import BROWSER_MARKS, page_logged_in_as

pytestmark = BROWSER_MARKS


@pytest.fixture
def russian_page(browser, live_server, admin_staff):
    admin_staff.language = "ru"
    admin_staff.save(update_fields=["language"])
    page = page_logged_in_as(browser, live_server, admin_staff, viewport={"width": 1440, "height": 900})
    yield page
    page.context.close()


def bo(live_server, path: str) -> str:
    return f"{live_server.url}/{django_settings.ADMIN_URL}{path}"


def test_the_chart_legend_reads_the_series_names_in_russian(
    russian_page, live_server, make_service, provider, customer
):
    service = make_service("Default")
    for days in range(3):
        order = Order.objects.create(
            user=customer,
            service=service,
            provider=provider,
            upstream_service_id="1",
            quantity=1000,
            charge=Decimal("12"),
            refunded=Decimal("0"),
            status=Status.COMPLETED,
            cost_expected=Decimal("7"),
            forward_state=ForwardState.SENT,
        )
        Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=days))
    page = russian_page
    page.goto(bo(live_server, "backoffice/reports/"))
    page.wait_for_function("!!(window.Chart && Chart.getChart('bo-chart'))")
    labels = page.evaluate("Chart.getChart('bo-chart').data.datasets.map((d) => d.label)")
    with translation.override("ru"):
        assert labels == [gettext("Revenue"), gettext("Upstream cost"), gettext("Profit")]
    assert labels[0] == "Выручка"


def test_the_import_page_counts_the_ticked_rows_in_russian(russian_page, live_server, provider):
    from catalog.sync import sync_provider

    assert sync_provider(provider_id=provider.pk).ok
    page = russian_page
    page.goto(bo(live_server, f"backoffice/import/{provider.pk}/"))
    page.wait_for_selector("#bo-import-rows")
    boxes = page.locator("#bo-import-rows tbody input[type=checkbox]")
    with translation.override("ru"):
        said = {n: ngettext("%(count)s selected", "%(count)s selected", n) % {"count": n} for n in range(6)}
    assert page.inner_text("#bo-count") == said[0]
    for n in range(1, 6):
        boxes.nth(n - 1).check()
        assert page.inner_text("#bo-count") == said[n]
    page.check("#bo-all")
    total = boxes.count()
    with translation.override("ru"):
        every = ngettext("%(count)s selected", "%(count)s selected", total) % {"count": total}
    assert page.inner_text("#bo-count") == every
