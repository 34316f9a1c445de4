"""One small class per channel, each with one `notify(delivery)` method that returns an Outcome
and never raises for a failure of the other side (healthchecks' transports are the model)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str = ""
    # False: trying again cannot help (no address, unsubscribed, endpoint removed).
    retry: bool = True
    status: int | None = None  # the HTTP status a webhook receiver answered
    # Nothing went wrong, there is just nobody to send it to any more (unsubscribed, unlinked,
    # endpoint removed): the delivery ends "canceled", not "failed".
    canceled: bool = False
