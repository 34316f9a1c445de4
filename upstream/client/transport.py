"""Transport: one provider's URL on a pooled HTTP session, with timeouts and the URL guard.

The transport never retries (the adapter has max_retries=0 and redirects are not followed):
whether a request may be sent again is the caller's decision, from the failure's class. Every
failure to exchange a request and an answer becomes NotSent or Unknown here (`classify`).
"""

from __future__ import annotations

import http.client
import os
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from upstream.lines import join_lines

from .errors import NotSent, Unknown, UpstreamError


def form_value(value: Any) -> str:
    # Comments, usernames and keywords go one per line (upstream.lines); a list is accepted.
    if isinstance(value, (list, tuple)):
        return join_lines([str(item) for item in value])
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


# --- Exception classification ---------------------------------------------------------------


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """exc and everything it wraps: requests puts urllib3's error in args, MaxRetryError keeps
    the real one in .reason, ProtocolError carries the socket error in its args."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 20:
        current = todo.pop()
        if any(current is known for known in seen):
            continue
        seen.append(current)
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked.extend(current.args)
        todo.extend(item for item in linked if isinstance(item, BaseException))
    return seen


def classify(exc: requests.RequestException) -> tuple[type[UpstreamError], str]:
    chain = _exception_chain(exc)

    def has(*types: type[BaseException]) -> bool:
        return any(isinstance(item, types) for item in chain)

    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return NotSent, "invalid provider URL"
    if isinstance(exc, requests.exceptions.InvalidSchema):
        return NotSent, "unsupported URL scheme"
    # Read-side failures first: once bytes went out, nothing else matters.
    if isinstance(exc, requests.ReadTimeout) or has(ReadTimeoutError):
        return Unknown, "read timeout"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return Unknown, "connection broken while reading the answer"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return Unknown, "answer could not be decoded"
    if has(ProtocolError, http.client.HTTPException, ConnectionResetError, BrokenPipeError):
        return Unknown, "connection closed or reset after the request was sent"
    # Connect-side failures: urllib3 wraps every error of opening the socket (DNS, refused,
    # unreachable, timeout) in NewConnectionError or ConnectTimeoutError inside MaxRetryError.
    if has(NameResolutionError):
        return NotSent, "DNS resolution failed"
    if has(ConnectionRefusedError):
        return NotSent, "connection refused"
    if isinstance(exc, requests.ConnectTimeout) or (has(ConnectTimeoutError) and not has(NewConnectionError)):
        return NotSent, "connect timeout"
    if has(NewConnectionError):
        return NotSent, "could not connect"
    # A refused certificate fails the TLS handshake, before the request is written.
    if has(ssl.SSLCertVerificationError):
        return NotSent, "TLS certificate verification failed"
    if isinstance(exc, requests.exceptions.SSLError):
        return Unknown, "TLS error"
    if has(MaxRetryError):
        return Unknown, "connection error"
    return Unknown, f"request failed ({type(exc).__name__})"


def default_session(url: str, pool_size: int) -> requests.Session:
    """A session of its own for a client given none."""
    session = requests.Session()
    # max_retries=0: the client never resends anything; retrying is the caller's call.
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # requests re-reads the proxy and CA variables from the environment on every call,
    # which costs more than parsing a 100-ID answer. Read them once here instead.
    session.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False
    return session


class Transport:
    """POSTs forms to one URL and hands back the raw answer. Thread-safe."""

    def __init__(
        self,
        url: str,
        *,
        session: requests.Session,
        connect_timeout: float,
        read_timeout: float,
        user_agent: str,
        url_guard: Callable[[str], None] | None,
    ) -> None:
        self.url = url
        self.session = session
        self._timeout = (connect_timeout, read_timeout)
        self._url_guard = url_guard
        self._headers = {
            "User-Agent": user_agent,
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }

    def post(
        self, action: str, form: dict[str, str], headers: dict[str, str] | None = None
    ) -> tuple[requests.Response, bytes]:
        """(response, body) of one form POST, or NotSent / Unknown when there is no answer."""
        failure: UpstreamError | None = None
        try:
            if self._url_guard is not None:
                self._url_guard(self.url)
            # Encoded here rather than by requests, whose generic form encoding costs more.
            response = self.session.post(
                self.url,
                data=urlencode(form).encode(),
                headers={**self._headers, **headers} if headers else self._headers,
                timeout=self._timeout,
                allow_redirects=False,
            )
            return response, response.content
        except UpstreamError as exc:  # from url_guard
            failure = exc
        except requests.RequestException as exc:
            failure_type, detail = classify(exc)
            failure = failure_type(action, detail)
        # Raised outside the except blocks on purpose: no __context__ chain, so the requests
        # exception (which holds the request and its form body with the key) is not kept.
        raise failure

    def close(self) -> None:
        self.session.close()
