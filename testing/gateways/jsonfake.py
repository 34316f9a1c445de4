"""A real HTTP server on 127.0.0.1 (a thread, port 0) for the fakes of JSON REST gateways
(Cryptomus, Paystack): one handler function sees every request (method, path, query, headers,
raw body) and returns (status, body, content type, extra headers). Requests are kept for the
tests to inspect. ``silent_listener`` is a port that accepts connections and never answers."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    client: str


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Answer]


class JsonFakeServer:
    def __init__(self, handler: Handler, *, name: str = "fake-gateway") -> None:
        self.handler = handler
        self.calls: list[Call] = []
        self.name = name
        owner = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                call = Call(
                    method=self.command,
                    path=split.path,
                    query=dict(parse_qsl(split.query, keep_blank_values=True)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    client=self.client_address[0],
                )
                owner.calls.append(call)
                try:
                    answer = owner.handler(call)
                except Exception as error:  # a bug in a fake shows up as a 500, as on a real server
                    answer = Answer(500, f"fake error: {type(error).__name__}: {error}".encode(), "text/plain")
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args) -> None:
                pass  # requests are kept in owner.calls

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self.server.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> JsonFakeServer:
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ServedFake:
    """A fake service answered by its `server` (a JsonFakeServer): the address tests point the
    client at, the calls it received, start (returning the fake) and stop."""

    server: JsonFakeServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def calls(self) -> list[Call]:
        return self.server.calls

    def start(self):
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()


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
