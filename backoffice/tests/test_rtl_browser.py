"""The backoffice's ticket page at 1280 px in English and in Arabic: the messages table fits the
window (a long message and the reply box no longer push the page wider), and in Arabic a message
typed in English reads left to right, its full stop at its end."""

import pytest
from django.conf import settings as django_settings

from support.services import ticket_open, ticket_reply
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot

pytestmark = BROWSER_MARKS

OVERFLOW = "document.scrollingElement.scrollWidth - innerWidth"
# Whether the text of the element's first child reads left to right: its first letter drawn
# left of its last one.
READS_LEFT_TO_RIGHT = """(element) => {
  const text = element.firstChild;
  const range = document.createRange();
  const left = (i) => {
    range.setStart(text, i);
    range.setEnd(text, i + 1);
    return range.getBoundingClientRect().left;
  };
  return left(0) < left(text.length - 1);
}"""


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_the_ticket_page_fits_1280_px_and_messages_read_in_their_own_direction(
    browser, live_server, admin_staff, customer, lang
):
    admin_staff.language = lang
    admin_staff.save(update_fields=["language"])
    ticket = ticket_open(
        user=customer,
        subject="Where is my order?",
        body="It has been a day and the counter has not moved. " * 12 + "https://example.com/" + "p" * 150,
        topic="order",
    )
    ticket_reply(ticket=ticket, author=admin_staff, body="We are looking at it.")
    page = page_logged_in_as(browser, live_server, admin_staff, viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/{django_settings.ADMIN_URL}support/ticket/{ticket.pk}/change/")
    assert page.get_attribute("html", "dir") == ("rtl" if lang == "ar" else "ltr")
    overflow = page.evaluate(OVERFLOW)
    assert overflow <= 1, f"the ticket page is {overflow}px wider than the window"
    bodies = page.locator(".inline-group td.field-body p")
    assert bodies.count() == 2
    for index in range(2):
        assert bodies.nth(index).evaluate(READS_LEFT_TO_RIGHT)
    # The reply box is there, and no narrower than a few words.
    assert page.locator("#id_messages-2-body").bounding_box()["width"] > 150
    screenshot(page, f"backoffice-ticket-{lang}")
    page.context.close()
