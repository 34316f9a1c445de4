"""Reading the ECB's feed (the recorded document in testing/ecb) and cross rates to the panel
currency; fetching it over HTTP from the local fake, with its failures."""

import datetime
from decimal import Decimal

import pytest

from currencies import ecb
from testing.ecb.fake import recorded_feed
from testing.gateways.jsonfake import silent_listener


def test_the_recorded_feed_is_read():
    feed = ecb.parse(recorded_feed())
    assert feed.date == datetime.date(2026, 11, 30)
    assert len(feed.per_euro) == 30
    assert feed.per_euro["USD"] == Decimal("1.0850")
    assert feed.per_euro["JPY"] == Decimal("163.27")
    assert feed.per_euro["GBP"] == Decimal("0.84615")
    assert "EUR" not in feed.per_euro and "RUB" not in feed.per_euro


def test_cross_rates_for_a_euro_panel_are_the_feed_itself():
    rates = ecb.cross_rates(ecb.parse(recorded_feed()), "EUR")
    assert rates["USD"] == Decimal("1.0850") and rates["IDR"] == Decimal("17254.35")
    assert "EUR" not in rates and len(rates) == 30


def test_cross_rates_through_the_euro_for_a_dollar_panel():
    rates = ecb.cross_rates(ecb.parse(recorded_feed()), "USD")
    # 1 USD = 1 / 1.0850 EUR, and 163.27 / 1.0850 JPY: 12 places, half to even.
    assert rates["EUR"] == Decimal("0.921658986175")
    assert rates["JPY"] == Decimal("150.479262672811")
    assert rates["GBP"] == Decimal("0.779861751152")
    assert "USD" not in rates and len(rates) == 30
    # Back and forth through the euro agrees to the stored precision.
    assert abs(rates["EUR"] * Decimal("1.0850") - 1) < Decimal("1e-11")


def test_a_panel_currency_the_bank_does_not_publish_is_refused():
    with pytest.raises(ecb.FeedError, match="does not publish a rate for the panel currency RUB"):
        ecb.cross_rates(ecb.parse(recorded_feed()), "RUB")


def test_the_newest_day_of_a_several_day_document_is_taken():
    body = recorded_feed().replace(
        b"<Cube time='2026-11-30'>",
        b"<Cube time='2026-11-27'><Cube currency='USD' rate='1.0001'/></Cube><Cube time='2026-11-30'>",
    )
    feed = ecb.parse(body)
    assert feed.date == datetime.date(2026, 11, 30) and feed.per_euro["USD"] == Decimal("1.0850")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"<html><body>Maintenance</body></html>", "not the document expected"),
        (b"not xml at all <", "not well-formed"),
        (b"", "not well-formed"),
        (recorded_feed().replace(b"time='2026-11-30'", b"time='30.11.2026'"), "a date that is not one"),
        (recorded_feed().replace(b"time='2026-11-30'", b"stamp='x'"), "no dated rates"),
        (recorded_feed().replace(b"rate='1.0850'", b"rate='abc'"), "USD a rate that is not a number"),
        (recorded_feed().replace(b"rate='1.0850'", b"rate='-1'"), "USD a rate that is not above zero"),
        (recorded_feed().replace(b"rate='1.0850'", b"rate='NaN'"), "USD a rate that is not above zero"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><gesmes:Envelope/>',
            "declares a DTD",
        ),
        (b"<Envelope>" + b" " * (ecb.MAX_BYTES + 1) + b"</Envelope>", "far more than a day"),
    ],
)
def test_documents_that_are_not_the_feed_are_refused_with_a_reason(body, says):
    with pytest.raises(ecb.FeedError, match=says):
        ecb.parse(body)


def test_fetch_from_the_fake_feed(fake_ecb):
    body = ecb.fetch()
    assert ecb.parse(body).date == datetime.date(2026, 11, 30)
    assert [call.path for call in fake_ecb.calls] == ["/stats/eurofxref/eurofxref-daily.xml"]


def test_an_error_page_is_a_failure(fake_ecb):
    fake_ecb.status = 503
    with pytest.raises(ecb.FeedError, match="answered HTTP 503"):
        ecb.fetch()


def test_a_feed_that_never_answers_times_out(settings):
    settings.RATES_CONNECT_TIMEOUT = 1
    settings.RATES_READ_TIMEOUT = 1
    with silent_listener() as url:
        settings.ECB_RATES_URL = url
        with pytest.raises(ecb.FeedError, match="did not answer in time"):
            ecb.fetch()


def test_an_unreachable_feed_is_a_failure(settings):
    settings.ECB_RATES_URL = "http://127.0.0.1:9"  # discard port: connection refused
    with pytest.raises(ecb.FeedError, match="Could not reach"):
        ecb.fetch()
