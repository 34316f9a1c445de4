"""Which provider URLs the panel may call.

A provider URL is typed in by staff; without a check it could point the panel at internal
services (SSRF). Outside development, addresses that are private, loopback, link-local
(cloud metadata lives there), reserved or multicast are refused, including host names that
resolve to them. The check runs when a provider is saved and again before every request.
"""

import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeURL(ValueError):
    pass


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def check_url(url: str, *, allow_private: bool, resolve: bool = True) -> None:
    """Raise UnsafeURL when the URL may not be called."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise UnsafeURL("The URL cannot be parsed.") from None
    if parts.scheme not in {"http", "https"}:
        raise UnsafeURL("The URL must start with http:// or https://.")
    if not parts.hostname:
        raise UnsafeURL("The URL has no host.")
    if parts.username or parts.password:
        raise UnsafeURL("The URL must not carry a user name or password.")
    if allow_private:
        return
    host = parts.hostname
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    elif not resolve:
        return
    else:
        try:
            infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80))
        except (socket.gaierror, UnicodeError):
            # Unresolvable now: the client classifies the failure as "not sent" when it connects.
            return
        addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    for address in addresses:
        if _forbidden(address):
            raise UnsafeURL(f"{host} points at a private or reserved address ({address}), which is not allowed.")
