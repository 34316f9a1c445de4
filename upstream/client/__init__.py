"""Client for the "API v2" protocol that SMM providers speak.

Every call is a form-encoded POST of `key`, `action` and the action's parameters; every answer
is JSON. Providers differ in the details (numbers as strings or numbers, status words in any
case, extra fields), so parsing is tolerant and normalises on the way in.

Failures are sorted by what the caller may do next, which is the only thing the order engine
needs to know:

- NotSent: the request certainly never reached the provider. Sending it again is safe.
- Rejected: the provider refused the request. Nothing was done upstream.
- Unknown: the provider may or may not have acted (a lost answer, a 5xx, a page we cannot
  read, an answer that carries both an error and an order ID). Sending an `add` again could buy
  the same thing twice, so the client never retries anything by itself; the caller decides.

Refusal shapes and readable error words: `parsing`. Modules: `errors` (the outcome classes),
`results` (typed results and status words of the protocol), `statuses` (a provider's status
words normalised), `values` (tolerant numbers and IDs), `parsing` (answers), `transport` (the
HTTP session, timeouts, the URL guard; no retries), `api` (ApiV2Client and its actions).

This package must stay free of Django imports: Celery tasks and the simulator's tests use it.
The client calls `on_call(action, outcome, seconds)` once per request when given one; that is
how the panel counts calls (upstream.services), without subclassing the client.
"""

from .api import IDEMPOTENCY_HEADER, IDEMPOTENCY_HONOURED, OUTCOMES, ApiV2Client, CallHook
from .errors import NotSent, Rejected, Unknown, UpstreamError
from .results import (
    FINAL_STATUSES,
    MAX_IDS_PER_CALL,
    ORDER_STATUSES,
    REFILL_STATUSES,
    Balance,
    CancelResult,
    OrderStatus,
    RefillResult,
    RefillStatus,
    Service,
)
from .statuses import normalize_refill_status, normalize_status

__all__ = [
    "FINAL_STATUSES",
    "IDEMPOTENCY_HEADER",
    "IDEMPOTENCY_HONOURED",
    "MAX_IDS_PER_CALL",
    "ORDER_STATUSES",
    "OUTCOMES",
    "REFILL_STATUSES",
    "ApiV2Client",
    "Balance",
    "CallHook",
    "CancelResult",
    "NotSent",
    "OrderStatus",
    "RefillResult",
    "RefillStatus",
    "Rejected",
    "Service",
    "Unknown",
    "UpstreamError",
    "normalize_refill_status",
    "normalize_status",
]
