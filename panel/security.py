"""Who the client is (its IP behind proxies) and the login lockout (django-axes)."""

import csv
import ipaddress

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next_url(request: HttpRequest, candidate: str | None, fallback: str) -> str:
    """`candidate` if it is a URL on this very host (a relative path such as "/orders/?page=2"),
    else `fallback`.

    For every redirect whose target comes from the client: a `next` parameter, a posted field,
    the Referer header. Other hosts, scheme-relative "//evil.example", "https:evil.example",
    backslash tricks and (on an HTTPS request) plain-http URLs are all refused, so a link to
    our login page cannot send someone on to a look-alike site after they sign in.
    """
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.9:51234"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d; judge it as the IPv4 address.
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def forwarded_client(peer: str, forwarded_for: str, proxies) -> str:
    """The client's address: `peer` (the direct connection) unless it is one of our `proxies`;
    then X-Forwarded-For is read from the right, each entry written by the hop before it, and
    the first address that is not itself one of our proxies is the client. Entries left of
    that one were written by the client and prove nothing. A malformed entry stops the walk at
    the last address we could trust to have seen it (the proxy that appended it)."""
    current = _address(peer)
    if current is None or not proxies:
        return peer
    hops = [part for part in forwarded_for.split(",") if part.strip()]
    while any(current in network for network in proxies) and hops:
        candidate = _address(hops.pop())
        if candidate is None:
            break
        current = candidate
    return str(current)


class ClientIPMiddleware:
    """Put the client's real address in REMOTE_ADDR when the panel runs behind proxies.

    X-Forwarded-For is believed only when the direct peer is inside TRUSTED_PROXIES (our own
    reverse proxies), and then only as far as the proxies we know: see forwarded_client. From
    anyone else the header is ignored, so a client cannot pick its own address. Everything that
    counts by IP reads REMOTE_ADDR after this middleware (the API's per-IP limit, allauth's
    rate limits, the axes lockout, the /metrics address check), so they all agree on one IP.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.proxies = tuple(settings.TRUSTED_PROXIES)

    def __call__(self, request: HttpRequest):
        if self.proxies:
            peer = request.META.get("REMOTE_ADDR", "")
            client = forwarded_client(peer, request.META.get("HTTP_X_FORWARDED_FOR", ""), self.proxies)
            if client != peer:
                request.META["REMOTE_ADDR"] = client
        return self.get_response(request)


def client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def login_name(request: HttpRequest, credentials: dict | None) -> str | None:
    """The name a login attempt was made for: allauth passes `username` or `email`, the
    backoffice's form `username`; case-folded so that "Demo" and "demo" share one counter."""
    credentials = credentials or {}
    name = credentials.get("username") or credentials.get("email")
    if not name and request is not None:
        data = getattr(request, "POST", {})
        name = data.get("login") or data.get("username") or data.get("email")
    return name.strip().lower() if isinstance(name, str) else name


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' check, for logins made through a request.

    Logins without a request (the test client's `login()`, a management command) are not web
    logins: nobody can guess passwords through them, so there is nothing to lock.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


# --- Files that leave the panel ------------------------------------------------------------------

# A spreadsheet treats a cell that starts with one of these as a formula (or, for tab and CR,
# as a cell it re-parses): =HYPERLINK(...), +cmd|..., -2+3, @SUM(...).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """A CSV cell that a spreadsheet shows as written: text starting with a formula trigger gets
    a leading single quote (OWASP's advice). Only text is touched: numbers we write ourselves
    (Decimal, int, float, such as a negative amount -5.00) stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


class SpreadsheetSafeWriter:
    """csv.writer whose every cell goes through spreadsheet_safe: the one way the panel writes
    CSV, so no export can hand a customer-chosen name to a spreadsheet as a formula."""

    def __init__(self, stream, **options):
        self._writer = csv.writer(stream, **options)

    def writerow(self, row):
        return self._writer.writerow([spreadsheet_safe(cell) for cell in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)
