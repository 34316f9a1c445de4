"""The failures the client raises, sorted by what the caller may do next (see the package)."""

from __future__ import annotations

from typing import Any


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
        # Keeps pickling (Celery results, multiprocessing) faithful to the constructor.
        self.args = (action, message)


class Unknown(UpstreamError):
    """The provider may have acted on the request; do not resend an `add` blindly."""
