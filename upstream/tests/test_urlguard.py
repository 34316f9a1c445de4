"""SSRF: forbidden addresses are refused when saved, before each request, and when connecting.

DNS is the outside world here, so it is faked by replacing socket.getaddrinfo; the servers and
connections are real.
"""

import http.server
import ipaddress
import socket
import threading

import pytest
import requests

from upstream.client import ApiV2Client, NotSent, Unknown
from upstream.services import _guard, upstream_session
from upstream.urlguard import UnsafeURL, check_url, forbidden

_real_getaddrinfo = socket.getaddrinfo


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.100.100.200",  # shared address space, another cloud's metadata
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",  # 6to4 around 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
        "::",
    ],
)
def test_internal_addresses_are_forbidden(address):
    assert forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert not forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/api/v2",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]:8080/",
        "http://[fe80::1%25eth0]/",
        "http://localhost:8000/api/v2",  # a name that resolves to loopback
        "ftp://93.184.216.34/",
        "http://user:pw@93.184.216.34/",
        "http:///nohost",
    ],
)
def test_check_url_refuses_in_production(url):
    with pytest.raises(UnsafeURL):
        check_url(url, allow_private=False)


def test_check_url_allows_private_only_when_told():
    check_url("http://127.0.0.1:8081/api/v2", allow_private=True)
    check_url("https://93.184.216.34/api/v2", allow_private=False)


@pytest.fixture
def fake_dns(monkeypatch):
    """fake_dns(host, [answer, answer, ...]): successive lookups of `host` return successive
    addresses (the last one repeats); every lookup is recorded."""
    answers: dict[str, list[str]] = {}
    calls: list[str] = []

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if host in answers:
            calls.append(host)
            queue = answers[host]
            address = queue.pop(0) if len(queue) > 1 else queue[0]
            kind = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if kind == socket.AF_INET6 else (address, port)
            return [(kind, socket.SOCK_STREAM, 6, "", sockaddr)]
        return _real_getaddrinfo(host, port, family, type, proto, flags)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def define(host: str, addresses: list[str]) -> list[str]:
        answers[host] = list(addresses)
        return calls

    return define


@pytest.fixture
def internal_server():
    """A loopback HTTP server standing in for an internal service; counts what reaches it."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            hits.append(self.path)
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/internal")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b'{"balance": "1.00", "currency": "USD"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], hits
    server.shutdown()
    server.server_close()


def _client(url: str) -> ApiV2Client:
    return ApiV2Client(
        url, "provider-secret", connect_timeout=0.5, read_timeout=2, session=upstream_session(2), url_guard=_guard
    )


def test_dns_rebinding_after_the_check_is_refused_at_connect_time(settings, fake_dns, internal_server):
    settings.UPSTREAM_ALLOW_PRIVATE = False
    port, hits = internal_server
    # The check before the request sees a public address; the lookup at connect time gets loopback.
    fake_dns("rebind.test", ["93.184.216.34", "127.0.0.1"])
    with _client(f"http://rebind.test:{port}/api/v2") as client, pytest.raises(NotSent):
        client.balance()
    assert hits == []


def test_a_name_resolving_to_metadata_is_never_connected(settings, fake_dns):
    settings.UPSTREAM_ALLOW_PRIVATE = False
    fake_dns("metadata.test", ["169.254.169.254"])
    with _client("http://metadata.test/latest/") as client, pytest.raises(NotSent) as caught:
        client.balance()
    assert "private or reserved" in caught.value.detail


def test_the_session_alone_refuses_internal_addresses(settings, fake_dns, internal_server):
    # Even without the client's pre-check, the connection itself refuses.
    settings.UPSTREAM_ALLOW_PRIVATE = False
    port, hits = internal_server
    fake_dns("inside.test", ["10.0.0.1", "127.0.0.1"])
    with upstream_session(2) as session, pytest.raises(requests.ConnectionError, match="SSRF guard"):
        session.post(f"http://inside.test:{port}/", timeout=1)
    with upstream_session(2) as session, pytest.raises(requests.ConnectionError, match="SSRF guard"):
        session.post(f"http://127.0.0.1:{port}/", timeout=1)
    assert hits == []


def test_the_connection_uses_the_address_it_checked(settings, fake_dns, monkeypatch):
    # One lookup per connection: the checked answer is the one connected to, with no second
    # lookup for a rebinding server to answer differently.
    settings.UPSTREAM_ALLOW_PRIVATE = False
    calls = fake_dns("pinned.test", ["93.184.216.34"])
    connected = []

    def connect(self, address):
        connected.append(address)
        raise ConnectionRefusedError("no network in tests")

    monkeypatch.setattr(socket.socket, "connect", connect)
    with upstream_session(2) as session, pytest.raises(requests.ConnectionError):
        session.post("http://pinned.test:8080/api/v2", timeout=1)
    assert calls == ["pinned.test"]
    assert connected == [("93.184.216.34", 8080)]


def test_redirects_are_not_followed(settings, internal_server):
    settings.UPSTREAM_ALLOW_PRIVATE = True
    port, hits = internal_server
    with _client(f"http://127.0.0.1:{port}/redirect") as client, pytest.raises(Unknown, match="redirect"):
        client.balance()
    assert hits == ["/redirect"]


def test_development_allows_loopback(settings, internal_server):
    settings.UPSTREAM_ALLOW_PRIVATE = True
    port, hits = internal_server
    with _client(f"http://127.0.0.1:{port}/api/v2") as client:
        assert str(client.balance().balance) == "1.00"
    assert hits == ["/api/v2"]
