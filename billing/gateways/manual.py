"""The manual "gateway": the customer pays outside the panel (bank transfer, cash, anything staff
describe in the method's instructions) and tells us; the report is a staff member's approval in
the backoffice (billing.services.deposit_approve), never a notification.

It implements the same interface as the others so that the pages and the backoffice treat every
method alike: ``start`` has nowhere to send the customer (the page shows the instructions and the
"I have paid" form), ``verify`` refuses every notification, ``lookup`` has nothing to ask.
"""

from __future__ import annotations

from .base import BadNotification, Checkout, Incoming, LookupRequest, Reply, Report, StartRequest


class ManualGateway:
    code = "manual"
    label = "Manual"
    fields = ()
    currencies: tuple[str, ...] = ()
    can_lookup = False
    can_test = False

    def __init__(self, config: dict[str, str], *, base_url: str | None = None) -> None:
        self.config = config

    def start(self, request: StartRequest) -> Checkout:
        return Checkout()

    def verify(self, incoming: Incoming) -> list[Report]:
        raise BadNotification("Manual methods take no notifications: staff approve their deposits.")

    def reply(self, reports: list[Report] | None, error: BadNotification | None = None) -> Reply:
        return Reply(status=404 if error else 200, body="not found\n" if error else "ok\n")

    def lookup(self, request: LookupRequest) -> Report | None:
        return None

    def test_connection(self) -> str:
        return "Manual methods connect to nothing."
