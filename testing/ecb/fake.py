"""A local stand-in for the European Central Bank's reference-rates feed, over real HTTP.

It serves eurofxref-daily.xml (this folder: one day's document in the bank's format, 30
currencies per euro, dated 2026-11-30) at the bank's path, as the bank does: GET only, XML,
everything else 404. Tests change what it answers through `fake.date` (the same rates under
another day), `fake.body` (any document), `fake.status` (an error page) and `fake.delay`
(seconds before answering). `silent_listener` (testing.gateways.jsonfake) is a feed that never
answers at all.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from testing.gateways.jsonfake import Answer, Call, JsonFakeServer, ServedFake

RECORDED = Path(__file__).with_name("eurofxref-daily.xml")
RECORDED_DATE = "2026-11-30"
FEED_PATH = "/stats/eurofxref/eurofxref-daily.xml"


def recorded_feed(date: str | None = None) -> bytes:
    """The recorded document, its date replaced by `date` (YYYY-MM-DD) if given."""
    body = RECORDED.read_bytes()
    if date:
        body = re.sub(rb"time='[0-9-]+'", f"time='{date}'".encode(), body)
    return body


class FakeEcb(ServedFake):
    def __init__(self) -> None:
        self.date: str | None = None
        self.body: bytes | None = None
        self.status = 200
        self.delay = 0.0
        self.server = JsonFakeServer(self._answer, name="fake-ecb")

    def _answer(self, call: Call) -> Answer:
        if call.method != "GET" or call.path != FEED_PATH:
            return Answer(404, b"<html><body>Not found</body></html>", "text/html")
        if self.delay:
            time.sleep(self.delay)
        if self.status != 200:
            return Answer(self.status, b"<html><body>Service unavailable</body></html>", "text/html")
        body = self.body if self.body is not None else recorded_feed(self.date)
        return Answer(200, body, "text/xml")
