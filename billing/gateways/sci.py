"""What the merchant-form gateways (Perfect Money, Payeer) share: their shopping-cart interfaces
post signed form fields to our notify URL, and their account APIs are form-encoded POSTs that
answer text.

- ``AccountApi``: one gateway's account API, a session per call, with a timeout on every call.
  Only read-only calls go through it (balance, history, payment details), so a call that found
  the server busy (502/503/504) or never reached it is tried again; a read timeout is not
  retried, so an unresponsive gateway costs one timeout. Errors never carry the URL, the body
  or any configured secret.
- ``wire_amount``: a Decimal in major units as the fixed two-decimal string both gateways take.
- ``notification_fields``: the posted fields of a notification (parsed form, or the raw body).
- ``Sources``: the allow-list of addresses notifications may come from.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

import requests
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .base import TIMEOUT_SECONDS, BadNotification, GatewayError, Incoming
from .jsonhttp import short
from .sources import parse_sources, source_allowed

CENT = Decimal("0.01")


def scrub(text: str, secrets: Iterable[str], limit: int = 200) -> str:
    """`text` (an answer from the gateway) with every configured secret masked, on one line and cut
    to `limit` as every gateway's messages are (jsonhttp.short)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return short(text, limit)


class AccountApi:
    """Form-encoded POSTs to one gateway's account API; read-only calls only (see module doc).
    Each call has its own short-lived session: gateway objects are built per request, and a
    look-up or a connection test is one call."""

    def __init__(self, base_url: str, *, name: str, secrets: Iterable[str], timeout: float = TIMEOUT_SECONDS):
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.secrets = tuple(s for s in secrets if s)
        self.timeout = timeout

    def _session(self) -> requests.Session:
        session = requests.Session()
        retry = Retry(
            total=2,
            connect=2,
            read=False,  # a read timeout is raised as such, never retried
            status=2,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"POST"}),
            backoff_factor=0.2,
            raise_on_status=False,
            redirect=0,
        )
        session.mount("https://", HTTPAdapter(max_retries=retry))
        session.mount("http://", HTTPAdapter(max_retries=retry))
        return session

    def post(self, path: str, data: dict[str, str]) -> str:
        """The answer's text; GatewayError (naming no secret) when there is no 200 answer."""
        try:
            # POST keeps the credentials out of URLs, so out of access logs and urllib3's debug log.
            with self._session() as session:
                response = session.post(
                    f"{self.base_url}{path}", data=data, timeout=self.timeout, allow_redirects=False
                )
        except requests.Timeout:
            raise GatewayError(_("%(name)s did not answer in time.") % {"name": self.name}) from None
        except requests.RequestException as exc:
            raise GatewayError(
                _("%(name)s could not be reached (%(error)s).") % {"name": self.name, "error": type(exc).__name__}
            ) from None
        if response.status_code != 200:
            raise GatewayError(
                _("%(name)s answered HTTP %(status)s.") % {"name": self.name, "status": response.status_code}
            )
        return response.text


def wire_amount(amount: Decimal) -> str:
    """`amount` as "10.50"; GatewayError for amounts that are not positive or have more than
    two decimals (neither gateway takes fractions of a cent)."""
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise GatewayError(_("The amount must be a positive number."))
    if amount != amount.quantize(CENT):
        raise GatewayError(_("%(amount)s has more than two decimals.") % {"amount": amount})
    return f"{amount.quantize(CENT):f}"


def parse_amount(text: str) -> Decimal:
    """A posted amount as Decimal; BadNotification when it is not a positive decimal number."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise BadNotification("The amount is not a number.") from None
    if not value.is_finite() or value <= 0:
        raise BadNotification("The amount is not a positive number.")
    return value


def notification_fields(incoming: Incoming) -> dict[str, str]:
    """The notification's form fields: the parsed form, or the urlencoded body when the view
    passed none. BadNotification for a body that is not a form."""
    if incoming.form:
        return {str(k): str(v) for k, v in incoming.form.items()}
    try:
        pairs = parse_qsl(incoming.body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise BadNotification("The body is not a form.") from None
    return dict(pairs)


class Sources:
    """Addresses (or networks, CIDR) notifications may come from: a comma/space separated list
    from the method's settings, else `default` (which may be empty: anywhere); `*` is anywhere.
    Read and checked by sources.py, as every gateway's allow-list is."""

    def __init__(self, text: str, default: Iterable[str] = ()):
        try:
            self.networks = parse_sources(text, default) or None
        except ValueError:
            raise GatewayError(_("The notification IP list has an entry that is not an address.")) from None

    def check(self, remote_addr: str) -> None:
        if not source_allowed(remote_addr, self.networks):
            where = remote_addr or "no known address"
            raise BadNotification(f"The notification came from {where}, which is not on the allow-list.")


def validate_sources(text: str) -> None:
    """GatewayError when the allow-list setting cannot be read (for the settings form)."""
    Sources(text)
