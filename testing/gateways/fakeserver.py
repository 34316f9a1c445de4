"""The plumbing the merchant-form gateway fakes (Perfect Money, Payeer) share: a real HTTP server
on 127.0.0.1 in a thread whose handler sees one dict of request fields (query and form, as the
gateways' ASP/PHP servers read them), and a listener that never answers, for timeout tests."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str = "text/html; charset=utf-8"


Route = Callable[[dict[str, str], "FakeRequest"], Answer]


@dataclass(frozen=True)
class FakeRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client: str


class FakeHttpServer:
    """`routes` maps a path to a function (fields, request) -> Answer; other paths answer 404."""

    def __init__(self, routes: dict[str, Route]):
        self.routes = routes
        self.requests: list[FakeRequest] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fields = dict(parse_qsl(split.query, keep_blank_values=True))
                if body and "x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
                    fields.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
                request = FakeRequest(
                    method=self.command,
                    path=split.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    client=self.client_address[0],
                )
                owner.requests.append(request)
                route = owner.routes.get(split.path)
                answer = route(fields, request) if route else Answer(404, "Not found", "text/plain")
                data = answer.body.encode("utf-8")
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args) -> None:
                pass  # quiet tests; requests are kept in owner.requests

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHttpServer:
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-gateway", daemon=True
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def silent_listener() -> Iterator[str]:
    """The base URL of a port that accepts connections (the kernel's backlog does) and never
    answers: a gateway that hangs."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()
