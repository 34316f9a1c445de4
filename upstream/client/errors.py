"""The failures the client raises, sorted by what the caller may do next (see the package)."""

from __future__ import annotations

import re
from typing import Any

# What a refusal is about, when its words say so (the texts real panels use are collected in
# ../shared/reference/api-v2-in-the-wild.md): the service itself (switched off or unknown at
# the provider), or our money at the provider. Any other refusal is about the request.
SERVICE = "service"
FUNDS = "funds"
_SERVICE_WORDS = re.compile(
    r"\b(incorrect|invalid|unknown|inactive|disabled) service\b"
    r"|\bservice (id )?(is )?(not found|does not exist|not exist|incorrect|invalid|inactive|disabled|not active)\b"
)
_FUNDS_WORDS = ("fund", "balance")


def refusal_reason(message: str) -> str | None:
    """SERVICE, FUNDS or None for a refusal's words. Raw translation keys count too
    ("error.incorrect_service_id", "neworder.error.not_enough_funds")."""
    words = " ".join(re.sub(r"[_.:\-]", " ", message.lower()).split())
    if any(word in words for word in _FUNDS_WORDS):
        return FUNDS
    if _SERVICE_WORDS.search(words):
        return SERVICE
    return None


class UpstreamError(Exception):
    """Base of every failure the client raises.

    `partial` holds the results of the chunks that succeeded before a multi-ID call failed
    (a list or dict shaped like the method's return value), or None. It matters for `refills`
    and `cancel`, whose earlier chunks did act upstream.
    """

    retry_safe = False

    def __init__(self, action: str, detail: str) -> None:
        super().__init__(action, detail)
        self.action = action
        self.detail = detail
        self.partial: Any = None

    def __str__(self) -> str:
        return f"{self.action}: {self.detail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(action={self.action!r}, detail={self.detail!r})"


class NotSent(UpstreamError):
    """The request certainly never reached the provider; sending it again is safe."""

    retry_safe = True


class Rejected(UpstreamError):
    """The provider refused the request; `message` is its text made readable: one line of at
    most 500 characters, without control characters, our API key replaced by "[key]" should
    the provider echo it."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(action, f"rejected: {message}")
        self.message = message
        # SERVICE, FUNDS or None: what the refusal is about (see refusal_reason).
        self.reason = refusal_reason(message)
        # Keeps pickling (Celery results, multiprocessing) faithful to the constructor.
        self.args = (action, message)


class Unknown(UpstreamError):
    """The provider may have acted on the request; do not resend an `add` blindly."""
