"""The simulator as a provider: catalog, state machine, money, rules and control endpoints.

Most tests speak raw HTTP to check the exact wire shapes; the state machine runs on a fake
clock so that it is deterministic and quick.
"""

from __future__ import annotations

import http.client
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import requests

from simulator import TYPES, Simulator, generate_catalog, make_server
from upstream.client import Unknown
from upstream.lines import split_lines

# Services with known attributes, added through the control endpoint by the `known` fixture.
KNOWN_SERVICES = [
    {"service": 9001, "name": "Drip Followers", "type": "Default", "rate": "2.50", "min": 10, "max": 1000,
     "refill": True, "cancel": True, "dripfeed": True},
    {"service": 9002, "name": "Plain Likes", "type": "Default", "rate": "1.00", "min": 10, "max": 1000},
    {"service": 9003, "name": "Starter Pack", "type": "Package", "rate": "12.34", "min": 1, "max": 1},
    {"service": 9004, "name": "Comments", "type": "Custom Comments", "rate": "20", "min": 2, "max": 5},
    {"service": 9005, "name": "Comment Pack", "type": "Custom Comments Package", "rate": "7", "min": 1, "max": 10},
    {"service": 9006, "name": "Auto Likes", "type": "Subscriptions", "rate": "1.5", "min": 50, "max": 1000},
    {"service": 9007, "name": "Visitors", "type": "Web Traffic", "rate": "0.5", "min": 100, "max": 10000,
     "dripfeed": True},
    {"service": 9008, "name": "Mentions", "type": "Mentions Custom List", "rate": "5", "min": 1, "max": 10},
    {"service": 9009, "name": "Poll Votes", "type": "Poll", "rate": "1", "min": 10, "max": 1000},
    {"service": 9010, "name": "Keywords", "type": "SEO", "rate": "3", "min": 100, "max": 1000},
]  # fmt: skip
LINK = "https://instagram.com/p/abc"


@pytest.fixture
def known(simulator_factory):
    """A simulator with the known services, so slow that no order moves during a test."""
    running = simulator_factory(speed=0.01)
    answer = running.change_services(add=KNOWN_SERVICES)
    assert answer["added"] == [s["service"] for s in KNOWN_SERVICES]
    return running


@pytest.fixture
def timed(simulator_factory, clock):
    """A simulator at speed 1 on a fake clock, with the known services."""
    running = simulator_factory(clock=clock, speed=1.0, balance=Decimal("100000"))
    running.change_services(add=KNOWN_SERVICES)
    running.clock = clock
    return running


def place(sim, **params):
    answer = sim.api(action="add", **params)
    assert "order" in answer, answer
    assert isinstance(answer["order"], int)
    return answer["order"]


def quantize(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)


# --- catalog ------------------------------------------------------------------------------


def test_catalog_is_deterministic_and_realistic():
    first = generate_catalog(300, seed=1)
    assert first == generate_catalog(300, seed=1)
    assert first != generate_catalog(300, seed=2)
    assert list(first) == list(range(1, 301))
    types = Counter(service["type"] for service in first.values())
    assert set(types) == set(TYPES)
    assert types["Default"] > 200
    categories = {service["category"] for service in first.values()}
    for expected in ("Instagram Followers", "Instagram Likes", "TikTok Views", "YouTube Views", "Telegram Members"):
        assert expected in categories
    defaults = [s for s in first.values() if s["type"] == "Default"]
    assert any(s["dripfeed"] for s in defaults) and not all(s["dripfeed"] for s in defaults)
    assert any(s["refill"] for s in first.values()) and any(s["cancel"] for s in first.values())
    for service in first.values():
        assert 0 < service["min"] <= service["max"]
        assert service["rate"] > 0


def test_services_answer_has_the_reference_shape(simulator):
    services = simulator.api(action="services")
    assert len(services) == 120
    first = services[0]
    assert set(first) == {"service", "name", "type", "category", "rate", "min", "max", "refill", "cancel",
                          "dripfeed", "desc"}  # fmt: skip
    assert isinstance(first["service"], int)
    assert isinstance(first["rate"], str) and Decimal(first["rate"]) > 0
    assert isinstance(first["min"], str) and first["min"].isdigit()
    assert isinstance(first["max"], str) and first["max"].isdigit()
    assert isinstance(first["refill"], bool) and isinstance(first["cancel"], bool)


# --- the order state machine ----------------------------------------------------------------


def test_order_moves_pending_in_progress_final_with_time(timed):
    order = place(timed, service=9002, link=LINK, quantity=1000)
    status = timed.api(action="status", order=order)
    assert status == {"charge": "1.00000", "start_count": "0", "status": "Pending", "remains": "1000",
                      "currency": "USD"}  # fmt: skip

    timed.clock.advance(2.6)  # Pending lasts 1.5-2.5 s at speed 1
    early = timed.api(action="status", order=order)
    assert early["status"] == "In progress"
    assert int(early["start_count"]) > 0
    timed.clock.advance(4)
    later = timed.api(action="status", order=order)
    assert later["status"] == "In progress"
    assert int(later["remains"]) < int(early["remains"]) <= 1000

    timed.clock.advance(10)  # In progress lasts 8-12 s
    final = timed.api(action="status", order=order)
    assert final["status"] in {"Completed", "Partial", "Canceled"}
    assert final["start_count"] == later["start_count"]


def test_outcomes_are_mostly_completed_and_partial_refunds_the_remains(simulator_factory, clock):
    running = simulator_factory(clock=clock, speed=1.0, balance=Decimal("1000000"))
    running.change_services(add=KNOWN_SERVICES)
    sim = running.sim
    orders = []
    for n in range(500):
        answer, _ = sim.api({"key": sim.key, "action": "add", "service": "9002", "link": LINK,
                             "quantity": str(100 + n)})  # fmt: skip
        orders.append(answer["order"])
    clock.advance(15)
    finals = {order: sim.api({"key": sim.key, "action": "status", "order": str(order)})[0] for order in orders}
    counts = Counter(answer["status"] for answer in finals.values())
    assert set(counts) == {"Completed", "Partial", "Canceled"}
    assert 0.72 < counts["Completed"] / 500 < 0.88
    assert 0.07 < counts["Partial"] / 500 < 0.17
    assert 0.04 < counts["Canceled"] / 500 < 0.12

    for n, order in enumerate(orders):
        answer = finals[order]
        quantity = 100 + n
        charge = Decimal("1.00") * quantity / 1000
        remains = int(answer["remains"])
        if answer["status"] == "Completed":
            assert remains == 0 and Decimal(answer["charge"]) == charge
        elif answer["status"] == "Canceled":
            assert remains == quantity and Decimal(answer["charge"]) == 0
        else:
            assert 0 < remains < quantity
            assert Decimal(answer["charge"]) == charge - quantize(charge * remains / quantity)


def test_same_seed_gives_the_same_story(simulator_factory, clock):
    def story(seed):
        running = simulator_factory(clock=clock, speed=1.0, seed=seed)
        orders = [place(running, service=1 + n % 5, link=LINK, quantity=running.api(action="services")[n % 5]["min"])
                  for n in range(30)]  # fmt: skip
        clock.advance(15)
        return [running.api(action="status", order=order) for order in orders]

    assert story(3) == story(3)
    assert story(3) != story(4)


def test_orders_progress_in_real_time_at_high_speed(simulator_factory):
    running = simulator_factory(speed=20.0)  # Pending >= 75 ms, final within 0.75 s
    order = place(running, service=1, link=LINK, quantity=running.api(action="services")[0]["min"])
    deadline = time.monotonic() + 5
    seen = []
    while time.monotonic() < deadline:
        status = running.api(action="status", order=order)["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in {"Completed", "Partial", "Canceled"}:
            break
        time.sleep(0.005)
    assert seen[-1] in {"Completed", "Partial", "Canceled"}
    assert seen[0] in {"Pending", "In progress"}


def test_drip_feed_order_reports_runs(timed):
    order = place(timed, service=9001, link=LINK, quantity=100, runs=3, interval=10)
    pending = timed.api(action="status", order=order)
    assert pending["runs"] == "0" and pending["remains"] == "300" and pending["charge"] == "0.75000"
    timed.clock.advance(20)
    final = timed.api(action="status", order=order)
    assert final["runs"] == "3"


def test_multi_status_is_keyed_by_id_with_errors_for_unknown_ids(timed):
    first = place(timed, service=9002, link=LINK, quantity=10)
    second = place(timed, service=9002, link=LINK, quantity=20)
    answer = timed.api(action="status", orders=f"{first},{second},42,abc")
    assert set(answer) == {str(first), str(second), "42", "abc"}
    assert answer[str(second)]["remains"] == "20"
    assert answer["42"] == {"error": "Incorrect order ID"}
    assert answer["abc"] == {"error": "Incorrect order ID"}
    assert timed.api(action="status", order="42") == {"error": "Incorrect order ID"}
    too_many = ",".join(str(first) for _ in range(101))
    assert timed.api(action="status", orders=too_many) == {"error": "Incorrect request"}


# --- money --------------------------------------------------------------------------------


def test_balance_goes_down_on_add_and_back_on_cancel_and_partial(simulator_factory, clock):
    running = simulator_factory(clock=clock, speed=1.0, balance=Decimal("500"))
    running.change_services(add=KNOWN_SERVICES)
    assert running.api(action="balance") == {"balance": "500.00000", "currency": "USD"}

    orders = [place(running, service=9001, link=LINK, quantity=100 + 7 * n) for n in range(60)]
    spent = sum(Decimal("2.50") * (100 + 7 * n) / 1000 for n in range(60))
    assert Decimal(running.api(action="balance")["balance"]) == Decimal(500) - spent

    canceled = running.api(action="cancel", orders=f"{orders[0]},{orders[1]}")
    assert [item["order"] for item in canceled] == orders[:2]
    assert all(isinstance(item["cancel"], int) for item in canceled)
    refunded = Decimal("2.50") * (100 + 107) / 1000
    assert Decimal(running.api(action="balance")["balance"]) == Decimal(500) - spent + refunded

    clock.advance(20)
    statuses = running.api(action="status", orders=",".join(map(str, orders)))
    kept = sum(Decimal(answer["charge"]) for answer in statuses.values())
    assert {answer["status"] for answer in statuses.values()} >= {"Completed", "Partial", "Canceled"}
    assert statuses[str(orders[0])] == {"charge": "0.00000", "start_count": "0", "status": "Canceled",
                                        "remains": "100", "currency": "USD"}  # fmt: skip
    assert Decimal(running.api(action="balance")["balance"]) == Decimal(500) - kept
    assert Decimal(running.stats()["balance"]) == Decimal(500) - kept


def test_add_without_enough_funds_is_refused(simulator_factory):
    running = simulator_factory(balance=Decimal("1"), speed=0.01)
    running.change_services(add=KNOWN_SERVICES)
    assert running.api(action="add", service=9002, link=LINK, quantity=1000) == {"order": 10001}
    assert running.api(action="add", service=9002, link=LINK, quantity=10) == {"error": "Not enough funds on balance"}
    assert running.api(action="balance")["balance"] == "0.00000"


# --- add validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"service": 99999, "link": LINK, "quantity": 100}, "Incorrect service ID"),
        ({"service": "abc", "link": LINK, "quantity": 100}, "Incorrect service ID"),
        ({"link": LINK, "quantity": 100}, "Incorrect service ID"),
        ({"service": 9002, "quantity": 100}, "Bad link"),
        ({"service": 9002, "link": "not a link", "quantity": 100}, "Bad link"),
        ({"service": 9002, "link": "ftp://example.com/x", "quantity": 100}, "Bad link"),
        ({"service": 9002, "link": "https://", "quantity": 100}, "Bad link"),
        ({"service": 9002, "link": LINK, "quantity": 9}, "Quantity less than minimal 10"),
        ({"service": 9002, "link": LINK, "quantity": 1001}, "Quantity more than maximum 1000"),
        ({"service": 9002, "link": LINK, "quantity": "ten"}, "Incorrect request"),
        ({"service": 9002, "link": LINK}, "Incorrect request"),
        ({"service": 9002, "link": LINK, "quantity": 100, "runs": 2, "interval": 5},
         "This service does not support drip-feed"),
        ({"service": 9001, "link": LINK, "quantity": 100, "runs": 2}, "Interval is required"),
        ({"service": 9001, "link": LINK, "quantity": 100, "interval": 5}, "Runs is required"),
        ({"service": 9001, "link": LINK, "quantity": 5, "runs": 2, "interval": 5}, "Quantity less than minimal 10"),
        ({"service": 9004, "link": LINK, "comments": ""}, "Incorrect request"),
        ({"service": 9004, "link": LINK, "comments": "only one"}, "Quantity less than minimal 2"),
        ({"service": 9004, "link": LINK, "comments": "a\nb\nc\nd\ne\nf"}, "Quantity more than maximum 5"),
        ({"service": 9006, "min": 50, "max": 100, "delay": 30}, "Incorrect request"),
        ({"service": 9006, "username": "bob", "min": 10, "max": 100, "delay": 30}, "Quantity less than minimal 50"),
        ({"service": 9006, "username": "bob", "min": 50, "max": 2000, "delay": 30}, "Quantity more than maximum 1000"),
        ({"service": 9006, "username": "bob", "min": 200, "max": 100, "delay": 30}, "Incorrect request"),
        ({"service": 9006, "username": "bob", "min": 50, "max": 100, "delay": 7}, "Incorrect request"),
        ({"service": 9006, "username": "bob", "min": 50, "max": 100, "delay": 30, "expiry": "2030-01-01"},
         "Incorrect request"),
        ({"service": 9007, "link": LINK, "quantity": 100, "country": "US", "device": 9, "type_of_traffic": 3},
         "Incorrect request"),
        ({"service": 9007, "link": LINK, "quantity": 100, "country": "US", "device": 1, "type_of_traffic": 1},
         "Incorrect request"),
        ({"service": 9007, "link": LINK, "quantity": 100, "country": "US", "device": 1, "type_of_traffic": 2,
          "referring_url": "nope nope"}, "Bad link"),
        ({"service": 9009, "link": LINK, "quantity": 100}, "Incorrect request"),
        ({"service": 9010, "link": LINK, "quantity": 100}, "Incorrect request"),
        ({"service": 9008, "link": LINK, "usernames": "\n\n"}, "Incorrect request"),
    ],
)  # fmt: skip
def test_add_validation_errors(known, params, error):
    assert known.api(action="add", **params) == {"error": error}
    assert known.stats()["orders_created"] == 0


@pytest.mark.parametrize(
    ("params", "charge", "remains"),
    [
        ({"service": 9002, "link": LINK, "quantity": 250}, "0.25000", "250"),
        ({"service": 9002, "link": "@someone", "quantity": 250}, "0.25000", "250"),
        ({"service": 9001, "link": LINK, "quantity": 100, "runs": 3, "interval": 10}, "0.75000", "300"),
        ({"service": 9003, "link": LINK}, "12.34000", "1"),
        ({"service": 9003, "link": LINK, "quantity": 500}, "12.34000", "1"),
        ({"service": 9004, "link": LINK, "comments": "nice\n\ngreat\nwow\n"}, "0.06000", "3"),
        ({"service": 9005, "link": LINK, "comments": "one\ntwo\nthree\nfour"}, "7.00000", "4"),
        ({"service": 9006, "username": "bob", "min": 50, "max": 100, "posts": 4, "delay": 30,
          "expiry": "31/12/2030"}, "0.60000", "400"),
        ({"service": 9006, "username": "bob", "min": 50, "max": 100, "delay": 0}, "0.15000", "100"),
        ({"service": 9007, "link": LINK, "quantity": 1000, "country": "US", "device": 5, "type_of_traffic": 2,
          "referring_url": "https://ref.example.com/page"}, "0.50000", "1000"),
        ({"service": 9007, "link": LINK, "quantity": 1000, "runs": 2, "interval": 60, "country": "US", "device": 1,
          "type_of_traffic": 1, "google_keyword": "buy shoes"}, "1.00000", "2000"),
        ({"service": 9008, "link": LINK, "usernames": "alice\nbob"}, "0.01000", "2"),
        ({"service": 9009, "link": LINK, "quantity": 100, "answer_number": 2}, "0.10000", "100"),
        ({"service": 9010, "link": LINK, "quantity": 100, "keywords": "shoes\nboots"}, "0.30000", "100"),
    ],
)  # fmt: skip
def test_add_prices_each_type(known, params, charge, remains):
    order = place(known, **params)
    status = known.api(action="status", order=order)
    assert (status["charge"], status["remains"]) == (charge, remains)
    assert Decimal(known.api(action="balance")["balance"]) == Decimal(10000) - Decimal(charge)


def test_key_and_action_are_checked_first(known):
    assert known.api(key="wrong", action="balance") == {"error": "Invalid API key"}
    assert known.api(key="", action="add", service=9002) == {"error": "Invalid API key"}
    assert known.api(action="launch") == {"error": "Incorrect request"}
    assert known.api() == {"error": "Incorrect request"}
    assert known.api(action="status") == {"error": "Incorrect request"}


def test_get_with_query_params_and_json_bodies_are_accepted(known):
    answer = requests.get(known.url, params={"key": known.key, "action": "balance"}, timeout=5).json()
    assert answer == {"balance": "10000.00000", "currency": "USD"}
    answer = requests.post(known.url, json={"key": known.key, "action": "add", "service": 9002, "link": LINK,
                                            "quantity": 10}, timeout=5).json()  # fmt: skip
    assert answer == {"order": 10001}


def test_idempotency_key_returns_the_same_order(known):
    first = known.api(action="add", service=9002, link=LINK, quantity=100, idempotency_key="order-1")
    again = known.api(action="add", service=9002, link=LINK, quantity=100, idempotency_key="order-1")
    by_header = requests.post(
        known.url,
        data={"key": known.key, "action": "add", "service": 9002, "link": LINK, "quantity": 100},
        headers={"Idempotency-Key": "order-1"},
        timeout=5,
    ).json()
    other = known.api(action="add", service=9002, link=LINK, quantity=100, idempotency_key="order-2")
    assert first == again == by_header
    assert other["order"] != first["order"]
    assert known.stats()["orders_created"] == 2
    assert Decimal(known.api(action="balance")["balance"]) == Decimal("9999.80000")


# --- refill and cancel --------------------------------------------------------------------


def completed_order(timed, service):
    """Place orders until one completes (the outcome is drawn per order)."""
    for _ in range(20):
        order = place(timed, service=service, link=LINK, quantity=100)
        timed.clock.advance(15)
        if timed.api(action="status", order=order)["status"] == "Completed":
            return order
    raise AssertionError("no order completed")


def test_refill_rules_and_progress(timed):
    order = completed_order(timed, 9001)
    not_refillable = completed_order(timed, 9002)
    running = place(timed, service=9001, link=LINK, quantity=100)

    assert timed.api(action="refill", order=not_refillable) == {"error": "Refill is disabled for this service"}
    assert timed.api(action="refill", order=running) == {"error": "The order is not completed"}
    assert timed.api(action="refill", order=424242) == {"error": "Incorrect order ID"}
    refill = timed.api(action="refill", order=order)
    assert refill == {"refill": "1"}

    assert timed.api(action="refill_status", refill=1) == {"status": "Pending"}
    timed.clock.advance(3)
    assert timed.api(action="refill_status", refill=1) == {"status": "In progress"}
    timed.clock.advance(7)
    assert timed.api(action="refill_status", refill=1) == {"status": "Completed"}
    assert timed.api(action="refill_status", refill=99) == {"error": "Refill not found"}

    multi = timed.api(action="refill", orders=f"{order},{running},{not_refillable},777")
    assert multi == [
        {"order": order, "refill": 2},
        {"order": running, "refill": {"error": "The order is not completed"}},
        {"order": not_refillable, "refill": {"error": "Refill is disabled for this service"}},
        {"order": 777, "refill": {"error": "Incorrect order ID"}},
    ]
    statuses = timed.api(action="refill_status", refills="1,2,99")
    assert statuses == [
        {"refill": 1, "status": "Completed"},
        {"refill": 2, "status": "Pending"},
        {"refill": 99, "status": {"error": "Refill not found"}},
    ]


def test_cancel_rules(timed):
    finished = completed_order(timed, 9001)
    cancelable = place(timed, service=9001, link=LINK, quantity=100)
    not_cancelable = place(timed, service=9002, link=LINK, quantity=100)
    balance = Decimal(timed.api(action="balance")["balance"])

    answer = timed.api(action="cancel", orders=f"{cancelable},{not_cancelable},{finished},31337")
    assert answer == [
        {"order": cancelable, "cancel": 1},
        {"order": not_cancelable, "cancel": {"error": "Cancel is disabled for this service"}},
        {"order": finished, "cancel": {"error": "Order can not be canceled"}},
        {"order": 31337, "cancel": {"error": "Incorrect order ID"}},
    ]
    assert timed.api(action="status", order=cancelable)["status"] == "Canceled"
    assert Decimal(timed.api(action="balance")["balance"]) == balance + Decimal("0.25")
    again = timed.api(action="cancel", orders=str(cancelable))
    assert again == [{"order": cancelable, "cancel": {"error": "Order can not be canceled"}}]
    timed.clock.advance(30)  # its natural end must not refund it a second time
    assert Decimal(timed.api(action="balance")["balance"]) == balance + Decimal("0.25")


# --- control endpoints ----------------------------------------------------------------------


def test_faults_endpoint_merges_and_validates(simulator):
    defaults = simulator.control("GET", "faults").json()
    assert defaults == {"latency_ms": 0, "jitter_ms": 0, "error_rate": 0.0, "http_500_rate": 0.0, "html_rate": 0.0,
                        "drop_after_accept_rate": 0.0, "timeout_rate": 0.0, "hang_after_accept_rate": 0.0,
                        "out_of_funds": False}  # fmt: skip
    assert simulator.set_faults(error_rate=0.5)["error_rate"] == 0.5
    merged = simulator.set_faults(latency_ms=5, out_of_funds=True)
    assert merged["error_rate"] == 0.5 and merged["latency_ms"] == 5 and merged["out_of_funds"] is True

    for bad in (
        {"explode_rate": 1},
        {"error_rate": 2},
        {"error_rate": "often"},
        {"out_of_funds": 1},
        {"latency_ms": -1},
    ):
        response = simulator.control("POST", "faults", bad)
        assert response.status_code == 400
        assert "error" in response.json()
    assert simulator.control("POST", "faults", [1, 2]).status_code == 400
    assert simulator.control("GET", "faults").json() == merged


def test_faults_never_touch_control_endpoints(simulator):
    simulator.set_faults(error_rate=1, http_500_rate=1, html_rate=1, latency_ms=2000)
    started = time.monotonic()
    assert simulator.stats()["orders_created"] == 0
    assert simulator.control("GET", "faults").status_code == 200
    assert simulator.change_services(remove=[1])["removed"] == 1
    simulator.reset()
    assert time.monotonic() - started < 1.5
    simulator.set_faults(latency_ms=0)
    assert requests.post(simulator.url, data={"key": simulator.key, "action": "balance"}, timeout=5).status_code == 500


def test_out_of_funds_fault(known):
    known.set_faults(out_of_funds=True)
    assert known.api(action="add", service=9002, link=LINK, quantity=10) == {"error": "Not enough funds on balance"}
    known.set_faults(out_of_funds=False)
    assert "order" in known.api(action="add", service=9002, link=LINK, quantity=10)


def test_latency_fault_delays_answers(simulator):
    simulator.set_faults(latency_ms=150, jitter_ms=50)
    started = time.monotonic()
    simulator.api(action="balance")
    assert 0.15 <= time.monotonic() - started < 1.5


def test_fault_draws_follow_the_seed(simulator_factory):
    def draws(seed):
        sim = Simulator(seed=seed, services=5, faults={"error_rate": 0.5, "jitter_ms": 10})
        return [sim.draw_faults("status") for _ in range(50)]

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)
    assert {kind for _, kind in draws(1)} == {None, "error"}


def test_stats_and_reset(known):
    order = place(known, service=9002, link=LINK, quantity=100)
    known.api(action="status", order=order)
    known.api(action="status", orders=str(order))
    known.api(action="balance")
    known.api(action="explode")
    stats = known.stats()
    assert stats["orders_created"] == 1
    assert stats["requests"] == {"add": 1, "status": 2, "balance": 1, "other": 1}
    assert stats["balance"] == "9999.90000"
    assert stats["orders_by_status"] == {"Pending": 1}

    known.reset()
    assert known.stats() == {"orders_created": 0, "requests": {}, "balance": "10000.00000", "orders_by_status": {}}
    assert known.api(action="status", order=order) == {"error": "Incorrect order ID"}
    assert place(known, service=9002, link=LINK, quantity=100) == order  # same IDs again after a reset


def test_services_can_change_at_run_time(simulator):
    before = {s["service"]: s for s in simulator.api(action="services")}
    answer = simulator.change_services(
        remove=[1, 2],
        update={"3": {"rate": "9.99", "name": "Renamed", "cancel": True}},
        add=[{"name": "Brand New", "type": "Default", "category": "New", "rate": "0.10", "min": 10, "max": 100}],
    )
    assert answer == {"services": 119, "removed": 2, "added": [121]}
    after = {s["service"]: s for s in simulator.api(action="services")}
    assert 1 not in after and 2 not in after
    assert after[3] == {**before[3], "rate": "9.99", "name": "Renamed", "cancel": True}
    assert after[121]["rate"] == "0.10" and after[121]["min"] == "10"
    assert simulator.api(action="add", service=1, link=LINK, quantity=100) == {"error": "Incorrect service ID"}

    for bad in ({"update": {"5": {"colour": "red"}}}, {"update": {"9999": {"rate": "1"}}},
                {"add": [{"name": "x", "rate": "1", "min": 10}]}, {"add": [{**before[3], "service": 4}]},
                {"add": [{"name": "x", "rate": "1", "min": 10, "max": 5}]}, {"add": [{"name": "x", "type": "Nope",
                "rate": "1", "min": 1, "max": 5}]}, {"replace": []}):  # fmt: skip
        assert simulator.control("POST", "services", bad).status_code == 400, bad
    assert len(simulator.api(action="services")) == 119


def test_a_disabled_service_is_unlisted_and_refused_by_name(known):
    order = place(known, service=9002, link=LINK, quantity=100)
    answer = known.change_services(update={"9002": {"disabled": True}})
    assert answer == {"services": known.sim.service_count, "removed": 0, "added": []}
    listed = {s["service"] for s in known.api(action="services")}
    assert 9002 not in listed and 9001 in listed
    assert all("disabled" not in s for s in known.api(action="services"))
    # The text real panels answer for a switched-off service; nothing is created or charged.
    assert known.api(action="add", service=9002, link=LINK, quantity=100) == {"error": "Service not found or inactive"}
    assert known.stats()["orders_created"] == 1
    assert known.api(action="balance")["balance"] == "9999.90000"
    # Orders it already took carry on.
    assert known.api(action="status", order=order)["status"] == "Pending"
    known.change_services(update={"9002": {"disabled": False}})
    assert 9002 in {s["service"] for s in known.api(action="services")}
    assert "order" in known.api(action="add", service=9002, link=LINK, quantity=100)
    assert known.control("POST", "services", {"update": {"9002": {"disabled": "yes"}}}).status_code == 400


def test_control_errors(simulator):
    assert simulator.control("GET", "reset").status_code == 405
    assert simulator.control("GET", "nothing").status_code == 404
    assert requests.get(simulator.url.replace("/api/v2", "/elsewhere"), timeout=5).status_code == 404
    response = requests.post(f"{simulator.control_url}/faults", data=b"{not json", timeout=5)
    assert response.status_code == 400


# --- HTTP behaviour -------------------------------------------------------------------------


def test_connections_are_kept_alive(simulator):
    host, port = simulator.server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=5)
    body = f"key={simulator.key}&action=balance"
    sockets = set()
    for _ in range(3):
        connection.request("POST", "/api/v2", body, {"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Connection") is None
        assert b'"balance"' in response.read()
        sockets.add(id(connection.sock))
    assert len(sockets) == 1  # one TCP connection served all three
    connection.close()


def test_drop_after_accept_closes_without_answering(known):
    known.set_faults(drop_after_accept_rate=1)
    with pytest.raises(requests.ConnectionError):
        requests.post(known.url, data={"key": known.key, "action": "add", "service": 9002, "link": LINK,
                                       "quantity": 10}, timeout=5)  # fmt: skip
    assert known.api(action="balance")["balance"] == "9999.99000"  # other actions are unaffected
    assert known.stats()["orders_created"] == 1


def test_hang_after_accept_creates_the_order_and_never_answers(known):
    known.set_faults(hang_after_accept_rate=1)
    client = known.client(read_timeout=0.5)
    with pytest.raises(Unknown):
        client.add(service=9002, link=LINK, quantity=10)
    assert known.stats()["orders_created"] == 1  # the provider has it; the client cannot know
    assert known.api(action="balance")["balance"] == "9999.99000"  # other actions are unaffected
    known.set_faults(hang_after_accept_rate=0)
    # A refused add is answered at once: only accepted orders hang.
    known.set_faults(hang_after_accept_rate=1, out_of_funds=True)
    assert known.api(action="add", service=9002, link=LINK, quantity=10) == {"error": "Not enough funds on balance"}


def test_shutdown_is_quick_while_requests_hang():
    sim = Simulator(services=5, faults={"timeout_rate": 1})
    server = make_server(sim, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    hanging = []
    for _ in range(3):
        connection = socket.create_connection((host, port))
        connection.sendall(b"GET /api/v2?key=sim-key&action=balance HTTP/1.1\r\nHost: x\r\n\r\n")
        hanging.append(connection)
    idle = socket.create_connection((host, port))  # a keep-alive connection with no request
    deadline = time.monotonic() + 2
    while sim.stats()["requests"].get("balance", 0) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    server.shutdown()
    assert time.monotonic() - started < 1
    for connection in [*hanging, idle]:
        connection.settimeout(2)
        # Closed without an answer: an orderly close, or a reset when the server closed the
        # socket before reading a request that was still in its buffer (seen under load).
        try:
            answer = connection.recv(100)
        except ConnectionResetError:
            answer = b""
        assert answer == b""
        connection.close()
    server.shutdown()  # a second call is harmless


def test_start_in_thread_and_make_server_without_serving():
    server = make_server(Simulator(services=3), port=0)
    assert server.server_address[1] > 0
    started = time.monotonic()
    server.shutdown()  # never served: must not wait for a loop that never ran
    assert time.monotonic() - started < 1


# --- command line -----------------------------------------------------------------------------


def test_command_line_serves_until_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", "--key", "cli-key", "--services", "10",
         "--error-rate", "1"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        banner = process.stdout.readline()
        url = re.search(r"(http://\S+/api/v2) key=cli-key services=10", banner).group(1)
        assert process.stdout.readline() == 'Faults: {"error_rate": 1.0}\n'
        answer = requests.post(url, data={"key": "cli-key", "action": "balance"}, timeout=5).json()
        assert answer == {"error": "Service temporarily unavailable"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert process.stdout.read() == "Simulator stopped.\n"
    finally:
        process.kill()
        process.wait()


def test_management_command_options():
    from upstream.management.commands.simulate_upstream import Command

    parser = Command().create_parser("manage.py", "simulate_upstream")
    options = vars(parser.parse_args(["--port", "0", "--seed", "9", "--balance", "12.5", "--timeout-rate", "0.1",
                                      "--drop-after-accept-rate", "0.2", "--hang-after-accept-rate", "0.3",
                                      "--out-of-funds"]))  # fmt: skip
    assert options["port"] == 0 and options["seed"] == 9 and options["balance"] == Decimal("12.5")
    assert options["timeout_rate"] == 0.1 and options["drop_after_accept_rate"] == 0.2 and options["out_of_funds"]
    assert options["hang_after_accept_rate"] == 0.3
    assert (options["host"], options["key"], options["services"], options["speed"]) == ("127.0.0.1", "sim-key", 300, 1)


def test_concurrent_adds_never_overspend(simulator_factory):
    # Slow, so that no order ends (and gets refunded) while the money runs out.
    running = simulator_factory(balance=Decimal("10"), speed=0.01)
    running.change_services(add=KNOWN_SERVICES)  # 9002 costs 0.10 for 100
    answers = []
    lock = threading.Lock()

    def spend():
        with requests.Session() as session:
            for n in range(30):
                data = {"key": running.key, "action": "add", "service": 9002, "link": LINK, "quantity": 100}
                if n % 3 == 0:
                    data["idempotency_key"] = f"shared-{n}"  # the same keys in every thread
                answer = session.post(running.url, data=data, timeout=5).json()
                with lock:
                    answers.append(answer)

    threads = [threading.Thread(target=spend) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = running.stats()["orders_created"]
    orders = {answer["order"] for answer in answers if "order" in answer}
    assert created == len(orders) == 100
    assert all(answer == {"error": "Not enough funds on balance"} for answer in answers if "order" not in answer)
    assert running.api(action="balance")["balance"] == "0.00000"


# --- type spellings and lines ---------------------------------------------------------------


def test_types_in_any_spelling_are_served_as_spelled_and_follow_their_rules(simulator_factory):
    running = simulator_factory(speed=0.01)
    running.change_services(add=[
        {"service": 8001, "name": "Comments", "type": "custom_comments", "rate": "20", "min": 2, "max": 5},
        {"service": 8002, "name": "Pack", "type": "Custom-Comments-Package", "rate": "7", "min": 1, "max": 10},
        {"service": 8003, "name": "Votes", "type": "poll", "rate": "1", "min": 10, "max": 1000},
        {"service": 8004, "name": "Tags", "type": "Mentions  with   hashtags", "rate": "2", "min": 10, "max": 100},
    ])  # fmt: skip
    listed = {row["service"]: row["type"] for row in running.api(action="services")}
    assert [listed[n] for n in (8001, 8002, 8003, 8004)] == [
        "custom_comments", "Custom-Comments-Package", "poll", "Mentions  with   hashtags"
    ]  # fmt: skip
    order = place(running, service=8001, link=LINK, comments="nice\ngreat\nwow")
    assert running.api(action="status", order=order)["charge"] == "0.06000"  # three lines, per 1,000
    order = place(running, service=8002, link=LINK, comments="one\ntwo")
    assert running.api(action="status", order=order)["charge"] == "7.00000"  # one package
    assert running.api(action="add", service=8003, link=LINK, quantity=100) == {"error": "Incorrect request"}
    assert running.api(action="add", service=8004, link=LINK, quantity=50, usernames="a") == {
        "error": "Incorrect request"
    }
    assert "order" in running.api(action="add", service=8004, link=LINK, quantity=50, usernames="a", hashtags="b")


@pytest.mark.parametrize(
    ("params", "lines"),
    [
        ({"service": 9004, "link": LINK, "comments": "one\rtwo\r\nthree"}, 3),
        ({"service": 9004, "link": LINK, "comments": "one\x0btwo\x0cthree\x1cfour"}, 4),
        ({"service": 9004, "link": LINK, "comments": "one\u2028two\x85three\u2029"}, 3),
        ({"service": 9004, "link": LINK, "comments": "  \t\none\t  \n\t\ntwo"}, 2),
        ({"service": 9008, "link": LINK, "usernames": "alice\r\nbob\u2028carol"}, 3),
    ],
)
def test_lines_are_counted_as_the_panel_counts_them(known, params, lines):
    text = params.get("comments") or params["usernames"]
    assert len(split_lines(text)) == lines
    order = place(known, **params)
    assert known.api(action="status", order=order)["remains"] == str(lines)


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"service": 9004, "link": LINK, "comments": "nice\x00post\ngreat"},
         "Comments contains a control character on line 1 (U+0000)"),
        ({"service": 9004, "link": LINK, "comments": "ok\nfine\x1bthen"},
         "Comments contains a control character on line 2 (U+001B)"),
        ({"service": 9005, "link": LINK, "comments": "one\ntwo\x7f"},
         "Comments contains a control character on line 2 (U+007F)"),
        ({"service": 9008, "link": LINK, "usernames": "alice\nb\x08ob"},
         "Usernames contains a control character on line 2 (U+0008)"),
        ({"service": 9010, "link": LINK, "quantity": 100, "keywords": "shoes\x00"},
         "Keywords contains a control character on line 1 (U+0000)"),
    ],
)  # fmt: skip
def test_text_that_cannot_be_split_into_lines_is_refused(known, params, error):
    assert known.api(action="add", **params) == {"error": error}
    assert known.stats()["orders_created"] == 0
