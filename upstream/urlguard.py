"""Which provider URLs the panel may call, and at which addresses it may connect.

A provider URL is typed in by staff; without a check it could point the panel at internal
services (SSRF). Outside development, only globally routable addresses may be called: private,
loopback, link-local (cloud metadata at 169.254.169.254), shared (100.64.0.0/10, where some
clouds put theirs), reserved, multicast and unspecified addresses are refused, also when they
hide inside an IPv6 address (IPv4-mapped, 6to4, NAT64).

Three layers:

- `check_url` when a provider is saved and again before every request (clear messages for staff);
- `resolve_allowed`, called by the upstream connection itself when it opens a socket
  (upstream/services.py): it resolves the name once, refuses the connection if any address is
  forbidden, and connects only to the addresses it checked. A DNS answer that changes between
  the check and the connection (DNS rebinding) therefore cannot slip through;
- redirects are never followed (the client sends with allow_redirects=False).
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext_noop

from .refusals import Refusal

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeURL(Refusal):
    """`message` in English (logs, the Admin API); `translated()` where a page shows it."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def forbidden(address: Address) -> bool:
    """True for any address that is not globally routable unicast."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None and forbidden(inner):
            return True
    return not address.is_global or address.is_multicast or address.is_unspecified


def _parse_address(text: str) -> Address:
    # Scoped IPv6 literals ("fe80::1%eth0") carry their zone after a percent sign.
    return ipaddress.ip_address(text.split("%", 1)[0])


def resolve_allowed(host: str, port: int, family: int = socket.AF_UNSPEC) -> list[tuple]:
    """getaddrinfo() results for host:port, or UnsafeURL if any address is forbidden.

    Refusing when any address is forbidden (not just skipping it) is on purpose: a name that
    resolves partly to an internal address is not a provider we want to talk to.
    Raises socket.gaierror when the name does not resolve.
    """
    infos = socket.getaddrinfo(host.strip("[]"), port, family, socket.SOCK_STREAM)
    for info in infos:
        address = _parse_address(info[4][0])
        if forbidden(address):
            raise UnsafeURL(
                gettext_noop("%(host)s points at a private or reserved address (%(address)s), which is not allowed."),
                {"host": host, "address": str(address)},
            )
    return infos


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port


def is_parent_api_url(url: str) -> bool:
    """Whether `url` is this install's own API (settings.CHILD_PARENT_API_URL), which child
    panels call as their provider. The operator set that address, not staff, and it is often a
    private one (the API behind the same load balancer, or loopback): it is allowed whatever it
    resolves to, but only that exact URL, so no other path of the install can be reached."""
    parent = getattr(settings, "CHILD_PARENT_API_URL", "")
    if not parent:
        return False
    return _origin(url) == _origin(parent) and urlsplit(url).path.rstrip("/") == urlsplit(parent).path.rstrip("/")


def is_parent_api_host(host: str, port: int) -> bool:
    """Whether a connection to host:port goes to the host of CHILD_PARENT_API_URL (the connection
    knows no path; the URL was checked with is_parent_api_url before the request was made)."""
    parent = _origin(getattr(settings, "CHILD_PARENT_API_URL", "") or "")
    return parent is not None and (parent[1], parent[2]) == (host.strip("[]").lower(), port)


def check_url(url: str, *, allow_private: bool, resolve: bool = True) -> None:
    """Raise UnsafeURL when the URL may not be called."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL(gettext_noop("The URL cannot be parsed.")) from None
    if parts.scheme not in {"http", "https"}:
        raise UnsafeURL(gettext_noop("The URL must start with http:// or https://."))
    if not parts.hostname:
        raise UnsafeURL(gettext_noop("The URL has no host."))
    if parts.username or parts.password:
        raise UnsafeURL(gettext_noop("The URL must not carry a user name or password."))
    if allow_private or is_parent_api_url(url):
        return
    host = parts.hostname
    try:
        literal = _parse_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        if forbidden(literal):
            raise UnsafeURL(
                gettext_noop("%(host)s is a private or reserved address, which is not allowed."), {"host": host}
            )
        return
    if not resolve:
        return
    try:
        resolve_allowed(host, port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        # Unresolvable now: the connection is refused (and classified "not sent") when it is tried.
        return
