"""The order engine's refusals, worded as API v2 providers word them.

The downstream API answers them verbatim and the dashboard shows them, so each text lives here
once (../shared/reference/api-v2-in-the-wild.md lists the wording real panels use).
"""


class OrderError(ValueError):
    """A refusal to place an order; the message is shown to the customer verbatim."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


INCORRECT_SERVICE = "Incorrect service ID"
NOT_ENOUGH_FUNDS = "Not enough funds on balance"
DUPLICATE_LINK = "You have active order with this link. Please wait until order being completed."
INCORRECT_ORDER = "Incorrect order ID"
REFILL_DISABLED = "Refill is disabled for this service"
NOT_COMPLETED = "The order is not completed"
NOT_ELIGIBLE = "Order not eligible for refill"
REFILL_OPEN = "Refill already requested for this order"
REFILL_TOO_SOON = "Refill was requested less than 24 hours ago"
CANCEL_DISABLED = "Cancel is disabled for this service"
CANCEL_NOT_POSSIBLE = "Order can not be canceled"
CANCEL_OPEN = "Cancel already requested for this order"
