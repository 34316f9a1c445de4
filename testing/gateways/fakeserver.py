"""The plumbing the merchant-form gateway fakes (Perfect Money, Payeer) share: routes by path on
top of the one local fake HTTP server (testing.gateways.jsonfake), whose route functions see one
dict of request fields (query and form, as the gateways' ASP/PHP servers read them), and the
listener that never answers, for timeout tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from . import jsonfake
from .jsonfake import Call, silent_listener

__all__ = ["Answer", "FakeHttpServer", "FakeRequest", "Route", "silent_listener"]

FakeRequest = Call  # what a route sees of the request: method, path, query, headers, body, client


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str = "text/html; charset=utf-8"


Route = Callable[[dict[str, str], FakeRequest], Answer]


class FakeHttpServer(jsonfake.JsonFakeServer):
    """`routes` maps a path to a function (fields, request) -> Answer; other paths answer 404.
    Every request is kept in `requests`."""

    def __init__(self, routes: dict[str, Route]):
        self.routes = routes
        super().__init__(self._route)

    @property
    def requests(self) -> list[FakeRequest]:
        return self.calls

    def _route(self, call: Call) -> jsonfake.Answer:
        fields = dict(call.query)
        if call.body and "x-www-form-urlencoded" in call.headers.get("content-type", ""):
            fields.update(parse_qsl(call.body.decode("utf-8", "replace"), keep_blank_values=True))
        route = self.routes.get(call.path)
        answer = route(fields, call) if route else Answer(404, "Not found", "text/plain")
        return jsonfake.Answer(answer.status, answer.body.encode("utf-8"), answer.content_type)
