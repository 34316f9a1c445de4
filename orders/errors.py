"""The order engine's refusals, worded as API v2 providers word them.

The downstream API answers them verbatim, in English, and the dashboard shows them in the
customer's language, so each text lives here once, marked with gettext_noop: `make messages`
gathers it, nothing translates it where it is defined, and a page translates it where it shows
it (`OrderError.translated()`, or gettext() on one of these constants).
../shared/reference/api-v2-in-the-wild.md lists the wording real panels use.
"""

from django.utils.translation import gettext_noop

from upstream.refusals import Refusal


class OrderError(Refusal):
    """A refusal to place an order: `message` is the protocol's English text (the API answers it
    verbatim), `translated()` the same in the active language (pages); `field` is the parameter
    it is about, if one; `params` the values put into the text."""

    def __init__(self, message: str, field: str | None = None, params: dict | None = None):
        super().__init__(message, params)
        self.field = field


INCORRECT_SERVICE = gettext_noop("Incorrect service ID")
NOT_ENOUGH_FUNDS = gettext_noop("Not enough funds on balance")
DUPLICATE_LINK = gettext_noop("You have active order with this link. Please wait until order being completed.")
INCORRECT_ORDER = gettext_noop("Incorrect order ID")
REFILL_DISABLED = gettext_noop("Refill is disabled for this service")
NOT_COMPLETED = gettext_noop("The order is not completed")
NOT_ELIGIBLE = gettext_noop("Order not eligible for refill")
REFILL_OPEN = gettext_noop("Refill already requested for this order")
REFILL_TOO_SOON = gettext_noop("Refill was requested less than 24 hours ago")
CANCEL_DISABLED = gettext_noop("Cancel is disabled for this service")
CANCEL_NOT_POSSIBLE = gettext_noop("Order can not be canceled")
CANCEL_OPEN = gettext_noop("Cancel already requested for this order")
