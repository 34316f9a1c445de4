"""A small JSON-over-HTTP client for gateway modules that speak a plain REST API (no official SDK).

Every call has a timeout. Retries are the caller's choice per call: ``safe=True`` for a request the
gateway de-duplicates or that changes nothing (lookups, balances, an invoice keyed by our order
ID), which is then sent again after a connection failure, a timeout or a 502/503/504; otherwise
only a request that never left (the connection could not be opened) is tried again.

Failures become ``base.GatewayError`` whose message names the gateway and what went wrong (timeout,
refused, HTTP status and the gateway's own short error message), never a header, a key or the
request body: the messages are shown to staff and logged.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError
from urllib3.util.retry import Retry

from .base import TIMEOUT_SECONDS, GatewayError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5
USER_AGENT = "smm-panel-payments/1.0"


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any  # the parsed JSON, or None when the body was not JSON


def _session(base_url: str, *, safe: bool) -> requests.Session:
    session = requests.Session()
    if safe:
        retry = Retry(
            total=2,
            connect=2,
            read=1,  # a gateway that does not answer in time is asked once more, not twice
            status=2,
            backoff_factor=0.2,
            status_forcelist=(502, 503, 504),
            allowed_methods=None,  # the caller said this request may be sent again
            raise_on_status=False,
        )
    else:
        # Only a connection that could not be opened is tried again: nothing reached the gateway.
        retry = Retry(total=2, connect=2, read=0, status=0, other=0, allowed_methods=None, raise_on_status=False)
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    session.trust_env = False
    return session


class JsonClient:
    """Calls to one gateway's API root. ``name`` is the gateway's name for error messages."""

    def __init__(self, name: str, base_url: str, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def call(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        safe: bool = False,
    ) -> Answer:
        """One request; the answer whatever its status (the caller reads the gateway's errors).
        Raises GatewayError when no answer came back."""
        url = f"{self.base_url}{path}"
        sent_headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
        if body is not None:
            sent_headers.setdefault("Content-Type", "application/json")
        timeout = (min(CONNECT_TIMEOUT_SECONDS, self.timeout), self.timeout)
        with _session(self.base_url, safe=safe) as session:
            try:
                response = session.request(
                    method, url, data=body, headers=sent_headers, timeout=timeout, allow_redirects=False
                )
            except requests.RequestException as error:
                if timed_out(error):
                    logger.warning("%s %s %s: timeout", self.name, method, path)
                    raise GatewayError(f"{self.name} did not answer in time.") from None
                logger.warning("%s %s %s: %s", self.name, method, path, type(error).__name__)
                raise GatewayError(f"{self.name} could not be reached ({type(error).__name__}).") from None
            try:
                data = response.json()
            except ValueError:
                data = None
            return Answer(status=response.status_code, data=data)


def timed_out(error: BaseException) -> bool:
    """Whether a timeout is behind ``error``: requests reports retries that all timed out as a
    ConnectionError wrapping urllib3's MaxRetryError, which wraps the timeout."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [error]
    while todo and len(seen) < 20:
        current = todo.pop()
        if any(current is known for known in seen):
            continue
        seen.append(current)
        if isinstance(current, NewConnectionError):
            return False  # urllib3 derives it from ConnectTimeoutError: the connection was refused
        if isinstance(current, requests.Timeout | TimeoutError | ReadTimeoutError | ConnectTimeoutError):
            return True
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        todo.extend(item for item in linked if isinstance(item, BaseException))
    return False


def short(text: Any, limit: int = 200) -> str:
    """A gateway's error message, cut short and on one line, for GatewayError."""
    if not isinstance(text, str):
        text = json.dumps(text, ensure_ascii=False, default=str) if text is not None else ""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
