"""The European Central Bank's euro reference rates: fetching the daily feed and reading it.

The feed (<ECB_RATES_URL>/stats/eurofxref/eurofxref-daily.xml) is a small XML document, published
on working days around 16:00 Frankfurt time: a gesmes:Envelope whose Cube holds one
<Cube time="YYYY-MM-DD"> with a <Cube currency="USD" rate="1.0705"/> per currency, each the units
of that currency for one euro. Rates against the panel currency are cross rates through the euro.

Every failure is a FeedError whose message says what went wrong in words fit for a staff alert
(never the URL's query or a library's exception text).
"""

import datetime
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

import requests
from django.conf import settings

from .models import RATE

FEED_PATH = "/stats/eurofxref/eurofxref-daily.xml"
EURO = "EUR"
# The real document is about 1.5 KB; anything far bigger is not the feed.
MAX_BYTES = 256 * 1024
_CODE = re.compile(r"[A-Z]{3}")
_RATE_PLACES = Decimal(1).scaleb(-RATE["decimal_places"])
_RATE_LIMIT = Decimal(1).scaleb(RATE["max_digits"] - RATE["decimal_places"])


class FeedError(Exception):
    """The feed could not be fetched or read; the message is for staff."""


@dataclass(frozen=True)
class Feed:
    date: datetime.date
    per_euro: dict[str, Decimal]  # units of each currency for one euro (EUR itself not listed)


def feed_url() -> str:
    return settings.ECB_RATES_URL.rstrip("/") + FEED_PATH


def fetch() -> bytes:
    """The feed's raw document, with timeouts; never called inside a database transaction."""
    try:
        response = requests.get(
            feed_url(),
            timeout=(settings.RATES_CONNECT_TIMEOUT, settings.RATES_READ_TIMEOUT),
            headers={"Accept": "application/xml, text/xml"},
            stream=True,
        )
    except requests.Timeout:
        raise FeedError("The European Central Bank's feed did not answer in time.") from None
    except requests.RequestException as exc:
        raise FeedError(f"Could not reach the European Central Bank's feed ({type(exc).__name__}).") from None
    with response:
        if response.status_code != 200:
            raise FeedError(f"The European Central Bank's feed answered HTTP {response.status_code}.")
        body = b""
        try:
            for chunk in response.iter_content(16 * 1024):
                body += chunk
                if len(body) > MAX_BYTES:
                    raise FeedError("The European Central Bank's feed sent far more than a day's rates.")
        except requests.RequestException as exc:
            raise FeedError(f"The European Central Bank's feed broke off ({type(exc).__name__}).") from None
    return body


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse(body: bytes) -> Feed:
    """The date and the rates per euro of one feed document."""
    if len(body) > MAX_BYTES:
        raise FeedError("The European Central Bank's feed sent far more than a day's rates.")
    # The feed never declares a DTD; refusing any keeps entity expansion out of the parser.
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise FeedError("The European Central Bank's feed was not the document expected (it declares a DTD).")
    try:
        root = ET.fromstring(body)  # noqa: S314 - no DTD (checked above), bounded size
    except ET.ParseError:
        raise FeedError("The European Central Bank's feed was not well-formed XML.") from None
    if _local(root.tag) != "Envelope":
        raise FeedError("The European Central Bank's feed was not the document expected (no Envelope).")
    days = [cube for cube in root.iter() if _local(cube.tag) == "Cube" and cube.get("time")]
    if not days:
        raise FeedError("The European Central Bank's feed held no dated rates.")
    # The daily file has one day; the 90-day one (same format) newest first. Take the newest.
    newest = max(days, key=lambda cube: cube.get("time", ""))
    try:
        date = datetime.date.fromisoformat(newest.get("time", ""))
    except ValueError:
        raise FeedError("The European Central Bank's feed gave a date that is not one.") from None
    per_euro: dict[str, Decimal] = {}
    for cube in newest:
        code, raw = cube.get("currency", ""), cube.get("rate", "")
        if _local(cube.tag) != "Cube" or not _CODE.fullmatch(code):
            continue
        try:
            rate = Decimal(raw.strip())
        except InvalidOperation:
            raise FeedError(f"The European Central Bank's feed gave {code} a rate that is not a number.") from None
        if not rate.is_finite() or rate <= 0:
            raise FeedError(f"The European Central Bank's feed gave {code} a rate that is not above zero.")
        per_euro[code] = rate
    if not per_euro:
        raise FeedError("The European Central Bank's feed held no rates for its date.")
    return Feed(date=date, per_euro=per_euro)


def cross_rates(feed: Feed, base: str) -> dict[str, Decimal]:
    """Units of each currency for one unit of `base` (the panel currency), through the euro:
    rate(base -> X) = (X per euro) / (base per euro). Every currency of the feed and the euro,
    not `base` itself. Raises FeedError when the feed does not quote `base`."""
    per_euro = {**feed.per_euro, EURO: Decimal(1)}
    if base not in per_euro:
        raise FeedError(
            f"The European Central Bank does not publish a rate for the panel currency {base}; use fixed rates instead."
        )
    base_per_euro = per_euro[base]
    rates = {}
    with localcontext(prec=60):
        for code, rate in per_euro.items():
            if code == base:
                continue
            cross = (rate / base_per_euro).quantize(_RATE_PLACES, rounding=ROUND_HALF_EVEN)
            # Kept only when the column holds it (no real pair comes near either end).
            if 0 < cross < _RATE_LIMIT:
                rates[code] = cross
    return rates
