"""The simulator over HTTP: a keep-alive HTTP/1.1 server for /api/v2 and the control endpoints.

Control endpoints (no key; they only listen where the simulator listens, loopback by default):
GET/POST /_sim/faults (POST merges keys), GET /_sim/stats, POST /_sim/reset (forgets orders,
refills, idempotency keys and counters and restores the balance; keeps catalog and faults),
POST /_sim/services ({"remove": [ids], "update": {id: {field: value}}, "add": [services]}).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from .state import Simulator

TIMEOUT_HOLD_SECONDS = 60.0


_HTML_ERROR = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
    b"<center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>"
)
_HTML_500 = (
    b"<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>"
)
_MAX_BODY = 10 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so pooled clients reuse connections
    server_version = "smm-sim/1.0"
    disable_nagle_algorithm = True
    server: SimulatorServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # an access log per request would cost more than answering it

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def _send(self, code: int, payload: Any, content_type: str = "application/json") -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        head = (
            f"HTTP/1.1 {code} {HTTPStatus(code).phrase}\r\n"
            f"Server: {self.server_version}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"{'Connection: close' + chr(13) + chr(10) if self.close_connection else ''}\r\n"
        )
        # One write: a separate write for the body would meet Nagle and delayed ACKs.
        self.wfile.write(head.encode("latin-1") + body)

    def _body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._send(411, {"error": "Content-Length required"})
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self.close_connection = True
            self._send(400, {"error": "Bad Content-Length"})
            return None
        return self.rfile.read(length) if length else b""

    def _route(self) -> None:
        body = self._body()
        if body is None:
            return
        path, _, query = self.path.partition("?")
        if path.rstrip("/") == "/api/v2":
            self._api(query, body)
        elif path.startswith("/_sim/"):
            self._control(path, body)
        else:
            self._send(404, {"error": "Not found"})

    def _params(self, query: str, body: bytes) -> dict[str, str]:
        params = dict(parse_qsl(query, keep_blank_values=True))
        if not body:
            return params
        if self.headers.get("Content-Type", "").startswith("application/json"):
            try:
                data = json.loads(body)
            except ValueError:
                return params
            if isinstance(data, dict):
                for name, value in data.items():
                    if isinstance(value, list):
                        separator = "," if name in {"orders", "refills"} else "\n"
                        value = separator.join(str(item) for item in value)
                    params[str(name)] = "" if value is None else str(value)
            return params
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return params

    def _api(self, query: str, body: bytes) -> None:
        sim = self.server.sim
        params = self._params(query, body)
        action = params.get("action", "")
        sim.record_request(action)
        delay, fault = sim.draw_faults(action)
        stop = self.server.stop_event
        if delay and stop.wait(delay):
            self.close_connection = True
            return
        if fault == "timeout":
            stop.wait(TIMEOUT_HOLD_SECONDS)
            self.close_connection = True
            return
        if fault == "http_500":
            self._send(500, _HTML_500, "text/html")
            return
        if fault == "html":
            self._send(200, _HTML_ERROR, "text/html; charset=utf-8")
            return
        if fault == "error":
            self._send(200, {"error": "Service temporarily unavailable"})
            return
        answer, accepted = sim.api(params, self.headers.get("Idempotency-Key"))
        if fault == "drop_after_accept" and accepted:
            # The order exists now; the client never hears about it.
            self.close_connection = True
            return
        if fault == "hang_after_accept" and accepted:
            # The order exists now; the answer never comes: the client's read times out.
            stop.wait(TIMEOUT_HOLD_SECONDS)
            self.close_connection = True
            return
        self._send(200, answer)

    def _control(self, path: str, body: bytes) -> None:
        sim = self.server.sim
        name = path[len("/_sim/") :].rstrip("/")
        method = self.command
        try:
            data = json.loads(body, parse_float=Decimal) if body.strip() else {}
        except ValueError:
            self._send(400, {"error": "Body must be JSON"})
            return
        try:
            if name == "faults" and method == "GET":
                self._send(200, sim.faults())
            elif name == "faults" and method == "POST":
                if not isinstance(data, dict):
                    raise ValueError("Body must be a JSON object")
                self._send(200, sim.set_faults(data))
            elif name == "stats" and method == "GET":
                self._send(200, sim.stats())
            elif name == "reset" and method == "POST":
                sim.reset()
                self._send(200, {"ok": True})
            elif name == "services" and method == "POST":
                if not isinstance(data, dict):
                    raise ValueError("Body must be a JSON object")
                self._send(200, sim.change_services(data))
            elif name in {"faults", "stats", "reset", "services"}:
                self._send(405, {"error": "Method not allowed"})
            else:
                self._send(404, {"error": "Not found"})
        except ValueError as exc:
            self._send(400, {"error": str(exc)})


class SimulatorServer(ThreadingHTTPServer):
    """ThreadingHTTPServer whose shutdown() also ends held requests and open connections."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        super().__init__(address, _Handler)
        self.sim = sim
        self.stop_event = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._started = False
        self._closed = False

    def serve_forever(self, poll_interval: float = 0.1) -> None:
        self._started = True
        super().serve_forever(poll_interval)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def shutdown(self) -> None:
        """Stop serving, release held requests and close every connection (idempotent).
        Call it from another thread than the one in serve_forever()."""
        if self._closed:
            return
        self._closed = True
        self.stop_event.set()
        if self._started:
            super().shutdown()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()


def make_server(sim: Simulator, host: str = "127.0.0.1", port: int = 8081) -> SimulatorServer:
    """A server for `sim`; port 0 picks a free port (see server.server_address)."""
    return SimulatorServer((host, port), sim)


def base_url(server: SimulatorServer) -> str:
    host, port = server.server_address[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/api/v2"


def start_in_thread(**kwargs: Any) -> tuple[SimulatorServer, Simulator, str]:
    """Start a simulator in a daemon thread: (server, sim, base_url). `host` and `port`
    (default 0, a free port) go to the server, everything else to Simulator()."""
    host = kwargs.pop("host", "127.0.0.1")
    port = kwargs.pop("port", 0)
    sim = Simulator(**kwargs)
    server = make_server(sim, host, port)
    threading.Thread(target=server.serve_forever, name="simulator", daemon=True).start()
    return server, sim, base_url(server)
