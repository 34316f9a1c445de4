"""Where a gateway's notifications may come from: the addresses it publishes, as a setting staff
can change (comma- or space-separated addresses or networks; ``*`` turns the check off, for a
panel behind a proxy that does not pass the client's address on)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ANY = "*"


def parse_sources(value: str, default: Iterable[str]) -> list[Network] | None:
    """The networks ``value`` lists (``default`` when it is blank); None when it is ``*``.
    Raises ValueError for an entry that is not an address or a network."""
    text = (value or "").replace(",", " ").split()
    if text == [ANY]:
        return None
    entries = text or list(default)
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries]


def source_allowed(remote_addr: str, networks: list[Network] | None) -> bool:
    """Whether ``remote_addr`` is in one of ``networks`` (always, when there is no list)."""
    if networks is None:
        return True
    try:
        address = ipaddress.ip_address((remote_addr or "").strip())
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, as CSP source expressions name origins."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
