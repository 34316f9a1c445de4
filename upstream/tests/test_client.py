"""ApiV2Client against the simulator over real HTTP, against real broken sockets, and against
odd provider payloads served by `responses`."""

from __future__ import annotations

import contextlib
import json
import logging
import pickle
import socket
import ssl
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import requests
import responses
from hypothesis import given, settings
from hypothesis import strategies as st
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError

from upstream.client import (
    FINAL_STATUSES,
    ORDER_STATUSES,
    REFILL_STATUSES,
    ApiV2Client,
    Balance,
    CancelResult,
    NotSent,
    OrderStatus,
    RefillResult,
    Rejected,
    Service,
    Unknown,
    UpstreamError,
    normalize_refill_status,
    normalize_status,
)

SECRET = "sk-live-7f3a9c0d2e1b4a6f8e9d0c1b2a3f4e5d"
URL = "http://provider.example/api/v2"
LINK = "https://instagram.com/p/abc"
DEFAULT_SERVICE = {"service": 9002, "name": "Likes", "type": "Default", "rate": "1.00", "min": 10, "max": 1000}
REFILL_SERVICE = {**DEFAULT_SERVICE, "service": 9001, "refill": True, "cancel": True}


@pytest.fixture
def provider() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def client() -> Iterator[ApiV2Client]:
    with ApiV2Client(URL, SECRET) as api:
        yield api


def form(call) -> dict[str, str]:
    return form_of(call.request)


# --- every action against the simulator -------------------------------------------------------


def test_services_from_the_simulator(simulator):
    services = simulator.client().services()
    assert len(services) == 120
    assert all(isinstance(service, Service) for service in services)
    first = services[0]
    assert first.service == "1" and isinstance(first.rate, Decimal) and isinstance(first.min, int)
    assert first.desc and first.category and first.name
    assert {service.type for service in services} >= {"Default", "Package", "Custom Comments", "Subscriptions"}
    assert any(service.dripfeed for service in services)


def test_every_action_against_the_simulator(simulator_factory, clock):
    running = simulator_factory(clock=clock, speed=1.0)
    running.change_services(add=[REFILL_SERVICE, DEFAULT_SERVICE])
    api = running.client()

    orders = [api.add(service=9001, link=LINK, quantity=100, runs=None) for _ in range(12)]
    assert orders == [str(order) for order in range(10001, 10013)]
    pending = api.status(orders[0])
    assert pending == OrderStatus(orders[0], "Pending", Decimal("0.1"), 0, 100, "USD", None, None, None, {})
    with pytest.raises(Rejected) as refused:
        api.refill(orders[0])
    assert refused.value.message == "The order is not completed"
    with pytest.raises(Rejected, match="Incorrect order ID"):
        api.status("999")

    canceled = api.cancel([orders[0], "424242"])
    assert canceled == [CancelResult(orders[0], "1", None), CancelResult("424242", None, "Incorrect order ID")]

    clock.advance(20)
    statuses = api.statuses([*orders, "5"])
    assert set(statuses) == {*orders, "5"}
    assert statuses["5"].error == "Incorrect order ID" and statuses["5"].status is None
    assert statuses[orders[0]].status == "Canceled" and statuses[orders[0]].charge == 0
    assert all(statuses[order].status in FINAL_STATUSES for order in orders)
    completed = [order for order in orders if statuses[order].status == "Completed"]
    assert len(completed) >= 2

    refill_id = api.refill(completed[0])
    assert refill_id == "1"
    assert api.refill_status(refill_id).status == "Pending"
    with pytest.raises(Rejected, match="Refill not found"):
        api.refill_status("77")
    results = api.refills([completed[1], orders[0]])
    assert results == [
        RefillResult(completed[1], "2", None),
        RefillResult(orders[0], None, "The order is not completed"),
    ]
    clock.advance(10)
    refill_statuses = api.refill_statuses(["1", "2", "3"])
    assert refill_statuses["1"].status == refill_statuses["2"].status == "Completed"
    assert refill_statuses["3"].error == "Refill not found"

    kept = sum(status.charge for order, status in statuses.items() if order != "5")
    assert api.balance() == Balance(Decimal(10000) - kept, "USD")


def test_add_with_idempotency_key_over_http(simulator):
    simulator.change_services(add=[DEFAULT_SERVICE])
    api = simulator.client()
    first = api.add(service=9002, link=LINK, quantity=100, idempotency_key="panel-order-17")
    again = api.add(service=9002, link=LINK, quantity=100, idempotency_key="panel-order-17")
    assert first == again
    assert simulator.stats()["orders_created"] == 1


# --- faults from the simulator map to the right failure ---------------------------------------


def test_error_answer_is_rejected_with_the_providers_words(simulator):
    simulator.set_faults(error_rate=1)
    with pytest.raises(Rejected) as caught:
        simulator.client().balance()
    assert caught.value.message == "Service temporarily unavailable"
    assert caught.value.retry_safe is False
    assert caught.value.action == "balance"


@pytest.mark.parametrize("fault", ["http_500_rate", "html_rate"])
def test_server_errors_and_html_pages_are_unknown(simulator, fault):
    simulator.set_faults(**{fault: 1})
    with pytest.raises(Unknown) as caught:
        simulator.client().status("1")
    assert caught.value.retry_safe is False
    assert "500" in caught.value.detail or "not JSON" in caught.value.detail


def test_lost_answer_after_accept_is_unknown_and_the_order_exists_once(simulator):
    simulator.change_services(add=[DEFAULT_SERVICE])
    simulator.set_faults(drop_after_accept_rate=1)
    api = simulator.client()
    with pytest.raises(Unknown):
        api.add(service=9002, link=LINK, quantity=100, idempotency_key="k-1")
    assert simulator.stats()["orders_created"] == 1
    assert simulator.stats()["requests"]["add"] == 1  # the client did not resend by itself
    simulator.set_faults(drop_after_accept_rate=0)
    # The caller may resolve it with the same idempotency key: the provider answers the same order.
    assert api.add(service=9002, link=LINK, quantity=100, idempotency_key="k-1") == "10001"
    assert simulator.stats()["orders_created"] == 1


def test_unanswered_request_is_unknown_after_the_read_timeout(simulator):
    simulator.set_faults(timeout_rate=1)
    started = time.monotonic()
    with pytest.raises(Unknown, match="read timeout"):
        simulator.client(read_timeout=0.3).balance()
    assert time.monotonic() - started < 2


def test_out_of_funds_is_rejected(simulator):
    simulator.change_services(add=[DEFAULT_SERVICE])
    simulator.set_faults(out_of_funds=True)
    with pytest.raises(Rejected) as caught:
        simulator.client().add(service=9002, link=LINK, quantity=100)
    assert caught.value.message == "Not enough funds on balance"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connection_refused_is_not_sent():
    with ApiV2Client(f"http://127.0.0.1:{free_port()}/api/v2", SECRET) as api, pytest.raises(NotSent) as caught:
        api.balance()
    assert caught.value.retry_safe is True
    assert caught.value.detail == "connection refused"


def test_dns_failure_is_not_sent():
    with ApiV2Client("http://nonexistent.invalid/api/v2", SECRET) as api, pytest.raises(NotSent) as caught:
        api.add(service=1, link=LINK, quantity=10)
    assert caught.value.detail == "DNS resolution failed"


def test_connect_timeout_is_not_sent():
    # A listening socket whose accept queue is full drops new SYNs: connect() times out.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):
                filler = socket.socket()
                filler.settimeout(0.2)
                try:
                    filler.connect(("127.0.0.1", port))
                except TimeoutError:
                    filler.close()
                    break
                fillers.append(filler)
            else:
                pytest.skip("the accept queue never filled up")
            api = ApiV2Client(f"http://127.0.0.1:{port}/api/v2", SECRET, connect_timeout=0.2)
            with pytest.raises(NotSent, match="connect timeout"):
                api.balance()
        finally:
            for filler in fillers:
                filler.close()


# --- real broken connections ------------------------------------------------------------------


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """Serve one connection with a hand-written behaviour; returns the URL."""
    listeners: list[socket.socket] = []

    def start(behaviour: Callable[[socket.socket], None]) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def run() -> None:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                read_request(connection)
                behaviour(connection)

        threading.Thread(target=run, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/api/v2"

    yield start
    for listener in listeners:
        listener.close()


def read_request(connection: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += connection.recv(65536)


def reset(connection: socket.socket) -> None:
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def hang_up(connection: socket.socket) -> None:
    pass


def truncated_chunks(connection: socket.socket) -> None:
    connection.sendall(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n{"balance": ')


def short_body(connection: socket.socket) -> None:
    connection.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"balance"')


def slow_body(connection: socket.socket) -> None:
    connection.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"balance"')
    time.sleep(1)


@pytest.mark.parametrize(
    ("behaviour", "detail"),
    [
        (reset, "connection closed or reset after the request was sent"),
        (hang_up, "connection closed or reset after the request was sent"),
        (truncated_chunks, "connection broken while reading the answer"),
        (short_body, "connection broken while reading the answer"),
        (slow_body, "read timeout"),
    ],
)
def test_broken_connections_after_sending_are_unknown(raw_server, behaviour, detail):
    with ApiV2Client(raw_server(behaviour), SECRET, read_timeout=0.3) as api, pytest.raises(Unknown) as caught:
        api.add(service=1, link=LINK, quantity=100)
    assert caught.value.detail == detail


# --- HTTP answers that are not a plain 200 with JSON ------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "content_type", "failure", "detail"),
    [
        (302, "", "text/html", Unknown, "unexpected redirect (HTTP 302)"),
        (429, '{"error": "Too many requests"}', "application/json", Unknown, "rate limited"),
        (500, '{"error": "boom"}', "application/json", Unknown, "HTTP 500"),
        (503, "<html>Service Unavailable</html>", "text/html", Unknown, "HTTP 503"),
        (400, '{"error": "Incorrect request"}', "application/json", Rejected, "rejected: Incorrect request"),
        (403, "<html>Forbidden</html>", "text/html", Unknown, "HTTP 403"),
        (404, "", "text/plain", Unknown, "HTTP 404"),
        (200, "<html><body>Under maintenance</body></html>", "text/html", Unknown,
         "answer is not JSON (text/html, 43 bytes)"),
        (200, "", "application/json", Unknown, "answer is not JSON (application/json, 0 bytes)"),
        (200, '{"balance": "1.0"', "application/json", Unknown, "answer is not JSON (application/json, 17 bytes)"),
        (200, "[1, 2]", "application/json", Unknown, "unexpected answer: expected an object"),
        (200, '{"currency": "USD"}', "application/json", Unknown, "unexpected answer: no balance in the answer"),
    ],
)  # fmt: skip
def test_http_answers_map_to_failures(provider, client, status, body, content_type, failure, detail):
    provider.post(URL, status=status, body=body, content_type=content_type, headers={"Location": "http://elsewhere/"})
    with pytest.raises(failure) as caught:
        client.balance()
    assert type(caught.value) is failure
    assert caught.value.detail == detail
    assert len(provider.calls) == 1  # no redirect followed, no retry


@pytest.mark.parametrize(
    ("answer", "failure"),
    [
        ({"error": "Bad link"}, Rejected),
        ({"error": "Incorrect request", "order": 55}, Unknown),  # did it or did it not?
        ({"status": "success"}, Unknown),
        ({"order": "not an id!"}, Unknown),
        ({"order": {"id": 5}}, Unknown),
        ([{"order": 5}], Unknown),
    ],
)
def test_add_answers_without_a_clear_order_id(provider, client, answer, failure):
    provider.post(URL, json=answer)
    with pytest.raises(failure):
        client.add(service=1, link=LINK, quantity=100)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"order": 23501}, "23501"),
        ({"order": "23501"}, "23501"),
        ({"order": 23501.0}, "23501"),
        ({"order": "a1b2-c3", "status": "success", "error": ""}, "a1b2-c3"),
    ],
)
def test_add_returns_the_order_id_as_a_string(provider, client, answer, expected):
    provider.post(URL, json=answer)
    assert client.add(service=1, link=LINK, quantity=100) == expected


@pytest.mark.parametrize(
    ("exception", "failure", "detail"),
    [
        (requests.ConnectTimeout("connect timed out"), NotSent, "connect timeout"),
        (requests.ReadTimeout("read timed out"), Unknown, "read timeout"),
        (requests.exceptions.ChunkedEncodingError("broken"), Unknown, "connection broken while reading the answer"),
        (requests.exceptions.InvalidURL("bad"), NotSent, "invalid provider URL"),
        (requests.ConnectionError(MaxRetryError(None, "/api/v2", NewConnectionError(None, "refused"))), NotSent,
         "could not connect"),
        (requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))), Unknown,
         "connection closed or reset after the request was sent"),
        (requests.ConnectionError(ReadTimeoutError(None, "/api/v2", "read timed out")), Unknown, "read timeout"),
        (requests.exceptions.SSLError(MaxRetryError(None, "/", ssl.SSLCertVerificationError(1, "bad cert"))), NotSent,
         "TLS certificate verification failed"),
        (requests.exceptions.SSLError("decryption failed"), Unknown, "TLS error"),
        (requests.RequestException("anything else"), Unknown, "request failed (RequestException)"),
    ],
)  # fmt: skip
def test_requests_exceptions_are_classified(provider, client, exception, failure, detail):
    provider.post(URL, body=exception)
    with pytest.raises(failure) as caught:
        client.balance()
    assert caught.value.detail == detail
    assert caught.value.__cause__ is None and caught.value.__context__ is None


# --- what goes on the wire --------------------------------------------------------------------


def test_request_is_a_form_post_with_timeouts(provider):
    provider.post(URL, json={"order": 1})
    with ApiV2Client(URL, SECRET, connect_timeout=1.5, read_timeout=7, user_agent="panel-test/2") as api:
        api.add(service=12, link=LINK, quantity=100, runs=None, interval=None, comments=["one", "two"])
    call = provider.calls[0]
    assert call.request.method == "POST"
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.request.headers["User-Agent"] == "panel-test/2"
    assert "Idempotency-Key" not in call.request.headers
    assert call.request.req_kwargs["timeout"] == (1.5, 7)
    assert form(call) == {"key": SECRET, "action": "add", "service": "12", "link": LINK, "quantity": "100",
                          "comments": "one\ntwo"}  # fmt: skip


def test_add_refuses_reserved_parameter_names(provider, client):
    with pytest.raises(TypeError, match="reserved"):
        client.add(service=1, link=LINK, quantity=10, key="other")
    assert not provider.calls


def test_idempotency_key_goes_as_param_and_header(provider, client):
    provider.post(URL, json={"order": 1})
    client.add(service=12, link=LINK, quantity=100, idempotency_key="panel-42")
    call = provider.calls[0]
    assert call.request.headers["Idempotency-Key"] == "panel-42"
    assert form(call)["idempotency_key"] == "panel-42"


def test_session_pool_never_retries():
    with ApiV2Client(URL, SECRET, pool_size=7) as api:
        adapter = api._session.get_adapter(URL)
        assert adapter._pool_maxsize == 7
        assert adapter.max_retries.total == 0 and adapter.max_retries.read is False


def test_url_guard_runs_before_every_request(provider):
    seen = []

    def guard(url: str) -> None:
        seen.append(url)
        if len(seen) > 1:
            raise NotSent("request", "private address")

    provider.post(URL, json={"balance": "1", "currency": "USD"})
    with ApiV2Client(URL, SECRET, url_guard=guard) as api:
        api.balance()
        with pytest.raises(NotSent, match="private address"):
            api.balance()
    assert seen == [URL, URL]
    assert len(provider.calls) == 1


# --- tolerant parsing -------------------------------------------------------------------------


def test_services_tolerates_what_providers_send(provider, client, caplog):
    provider.post(
        URL,
        json=[
            {"service": 1, "name": "Followers", "type": "Default", "category": "First Category", "rate": "0.90",
             "min": "50", "max": "10000", "refill": True, "cancel": True},
            {"service": "2", "name": "Comments", "type": "Custom Comments", "category": "Second", "rate": 8,
             "min": 10, "max": 1500, "refill": "1", "cancel": 0, "dripfeed": "yes", "description": "Nice",
             "average_time": "5 hours", "status": "active"},
            {"service": 3, "name": "Cheap", "rate": 0.0125, "min": "100.0", "max": "1e6", "refill": "false",
             "cancel": "true", "dripfeed": 1, "desc": "Fast"},
            {"service": 4, "name": "No rate", "min": 10, "max": 100},
            {"service": 5, "name": "Bad max", "rate": "1", "min": 10, "max": "lots"},
            {"name": "No ID", "rate": "1", "min": 10, "max": 100},
            "garbage",
        ],
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="upstream.client"):
        services = client.services()
    assert [service.service for service in services] == ["1", "2", "3"]
    first, second, third = services
    assert first == Service("1", "Followers", "Default", "First Category", Decimal("0.90"), 50, 10000, True, True,
                            False, "", {})  # fmt: skip
    assert (second.rate, second.min, second.refill, second.cancel, second.dripfeed) == (
        Decimal(8),
        10,
        True,
        False,
        True,
    )
    assert second.desc == "Nice" and second.raw["average_time"] == "5 hours"
    assert third.rate == Decimal("0.0125") and str(third.rate) == "0.0125"
    assert (third.type, third.category, third.min, third.max) == ("Default", "", 100, 1000000)
    assert (third.refill, third.cancel, third.dripfeed, third.desc) == (False, True, True, "Fast")
    skipped = " ".join(record.getMessage() for record in caplog.records)
    assert "service 4" in skipped and "rate" in skipped and "service 5" in skipped and "max" in skipped


def test_services_keyed_by_id(provider, client):
    provider.post(URL, json={"7": {"name": "Views", "rate": "0.01", "min": 100, "max": 1000}})
    assert [(s.service, s.name) for s in client.services()] == [("7", "Views")]


def test_status_tolerates_numbers_floats_and_missing_fields(provider, client):
    provider.post(URL, json={"charge": 0.27819, "start_count": 3572, "status": "In Progress", "remains": "157"})
    status = client.status(1)
    assert status.charge == Decimal("0.27819") and isinstance(status.charge, Decimal)
    assert (status.status, status.start_count, status.remains) == ("In progress", 3572, 157)
    assert (status.currency, status.runs, status.posts, status.error) == (None, None, None, None)

    provider.post(URL, body=b'{"charge": 1e-5, "status": "Partial", "remains": "-3", "runs": "2", "posts": 5}')
    status = client.status("1")
    assert (status.charge, status.remains, status.runs, status.posts) == (Decimal("0.00001"), -3, 2, 5)


def test_status_with_unknown_word_gives_no_information(provider, client, caplog):
    provider.post(URL, json={"charge": "1", "status": "Teleported", "remains": "0"})
    with caplog.at_level(logging.WARNING, logger="upstream.client"):
        assert client.status("9").status is None
    assert "Teleported" in caplog.text


def test_statuses_split_250_ids_into_three_calls(provider, client):
    def answer(request):
        ids = form_of(request)["orders"].split(",")
        body = {order: {"charge": "0.5", "start_count": "1", "status": "Completed", "remains": "0", "currency": "USD"}
                for order in ids if order != "17"}  # fmt: skip
        return 200, {}, json.dumps(body)

    provider.add_callback(responses.POST, URL, callback=answer)
    ids = [str(n) for n in range(1, 251)]
    result = client.statuses([*ids, 5, "5"])  # duplicates are asked once
    sizes = [len(form(call)["orders"].split(",")) for call in provider.calls]
    assert sizes == [100, 100, 50]
    assert set(result) == set(ids) - {"17"}  # absent from the answer, absent here
    assert result["250"].status == "Completed" and result["250"].charge == Decimal("0.5")


def form_of(request) -> dict[str, str]:
    body = request.body.decode() if isinstance(request.body, bytes) else request.body
    return {name: values[-1] for name, values in parse_qs(body, keep_blank_values=True).items()}


def test_statuses_with_errors_extra_ids_and_list_answers(provider, client):
    provider.post(
        URL,
        json={
            "1": {"charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157", "currency": "USD"},
            "10": {"error": "Incorrect order ID"},
            "11": "Order not found",
            "999": {"status": "Completed"},
        },
    )
    result = client.statuses(["1", "10", "11", 12])
    assert set(result) == {"1", "10", "11"}
    assert result["1"] == OrderStatus("1", "Partial", Decimal("0.27819"), 3572, 157, "USD", None, None, None, {})
    assert result["10"].error == "Incorrect order ID" and result["10"].status is None
    assert result["11"].error == "Order not found"

    provider.post(URL, json=[{"order": 2, "status": "canceled"}, {"id": "3", "status": 2}, {"status": "Pending"}])
    result = client.statuses([2, 3])
    assert (result["2"].status, result["3"].status) == ("Canceled", "Completed")

    provider.post(URL, json="nope")
    with pytest.raises(Unknown):
        client.statuses([2])


def test_refills_refill_statuses_and_cancel_results(provider, client):
    provider.post(URL, json={"refill": "1"})
    provider.post(URL, json=[{"order": 1, "refill": 1}, {"order": "2", "refill": "r-2"},
                             {"order": 3, "refill": {"error": "Incorrect order ID"}},
                             {"order": 4, "refill": "Refill is disabled for this service"},
                             {"order": 77, "refill": 9}])  # fmt: skip
    provider.post(URL, json={"status": "Cancelled"})
    provider.post(URL, json=[{"refill": 1, "status": "Completed"}, {"refill": "2", "status": "in_progress"},
                             {"refill": 3, "status": {"error": "Refill not found"}}])  # fmt: skip
    provider.post(URL, json={"5": "Pending", "6": {"status": "Rejected"}})
    provider.post(URL, json=[{"order": 9, "cancel": {"error": "Incorrect order ID"}}, {"order": 2, "cancel": 1},
                             {"order": 3, "cancel": "1"}])  # fmt: skip
    provider.post(URL, json={"balance": 100.84292, "currency": "USD"})

    assert client.refill(1) == "1"
    assert client.refills([1, 2, 3, 4]) == [
        RefillResult("1", "1", None),
        RefillResult("2", "r-2", None),
        RefillResult("3", None, "Incorrect order ID"),
        RefillResult("4", None, "Refill is disabled for this service"),
    ]
    assert client.refill_status("1").status == "Rejected"
    statuses = client.refill_statuses([1, 2, 3])
    assert [statuses[key].status for key in "123"] == ["Completed", "In progress", None]
    assert statuses["3"].error == "Refill not found"
    assert {key: value.status for key, value in client.refill_statuses([5, 6]).items()} == {
        "5": "Pending",
        "6": "Rejected",
    }
    assert client.cancel([9, 2, 3]) == [
        CancelResult("9", None, "Incorrect order ID"),
        CancelResult("2", "1", None),
        CancelResult("3", "1", None),
    ]
    assert client.balance() == Balance(Decimal("100.84292"), "USD")
    assert [form(call)["action"] for call in provider.calls] == [
        "refill", "refill", "refill_status", "refill_status", "refill_status", "cancel", "balance",
    ]  # fmt: skip
    assert form(provider.calls[1])["orders"] == "1,2,3,4"
    assert form(provider.calls[3])["refills"] == "1,2,3"


def test_single_refill_error_inside_the_answer_is_rejected(provider, client):
    provider.post(URL, json={"refill": {"error": "Order not eligible for refill"}})
    with pytest.raises(Rejected) as caught:
        client.refill(5)
    assert caught.value.message == "Order not eligible for refill"


def test_balance_without_currency(provider, client):
    provider.post(URL, json={"balance": "12"})
    assert client.balance() == Balance(Decimal("12"), "")


def test_a_failed_later_chunk_carries_what_was_done(provider, client):
    provider.post(URL, json=[{"order": n, "cancel": n} for n in range(1, 101)])
    provider.post(URL, status=502, body="Bad Gateway")
    with pytest.raises(Unknown) as caught:
        client.cancel(range(1, 151))
    assert len(caught.value.partial) == 100
    assert caught.value.partial[0] == CancelResult("1", "1", None)


def test_bad_ids_are_refused_before_sending(client):
    with pytest.raises(ValueError, match="not an ID"):
        client.statuses(["1", "two words"])
    with pytest.raises(ValueError):
        client.status(None)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(payload=json_values, action=st.sampled_from(["services", "status", "statuses", "refills", "balance", "add"]))
def test_any_json_answer_gives_a_result_or_an_upstream_error(payload, action):
    with responses.RequestsMock() as mock, ApiV2Client(URL, SECRET) as api:
        mock.post(URL, body=json.dumps(payload))
        calls = {
            "services": api.services,
            "status": lambda: api.status(1),
            "statuses": lambda: api.statuses(["1", "2"]),
            "refills": lambda: api.refills(["1", "2"]),
            "balance": api.balance,
            "add": lambda: api.add(service=1, link=LINK, quantity=10),
        }
        with contextlib.suppress(UpstreamError):
            calls[action]()


# --- the key stays secret ---------------------------------------------------------------------


def test_key_never_appears_in_errors_or_logs(provider, raw_server, caplog):
    provider.add_passthru("http://127.0.0.1")
    provider.add_passthru("http://nonexistent.invalid")
    provider.post(URL, json={"error": f"Invalid API key {SECRET}"})
    provider.post(URL, status=500, body=f"<html>debug: key={SECRET}</html>")
    provider.post(URL, body=f"key={SECRET}", content_type="text/html")
    provider.post(URL, body=requests.ConnectionError(f"failed for key={SECRET}"))
    provider.post(URL, body=requests.ReadTimeout(f"timeout key={SECRET}"))
    failures: list[UpstreamError] = []
    with caplog.at_level(logging.DEBUG):
        with ApiV2Client(URL, SECRET) as api:
            for _ in range(5):
                with pytest.raises(UpstreamError) as caught:
                    api.add(service=1, link=LINK, quantity=10)
                failures.append(caught.value)
        for url in (f"http://127.0.0.1:{free_port()}/api/v2", "http://nonexistent.invalid/api/v2", raw_server(reset)):
            with ApiV2Client(url, SECRET) as api, pytest.raises(UpstreamError) as caught:
                api.balance()
            failures.append(caught.value)
    assert [type(failure) for failure in failures] == [Rejected, Unknown, Unknown, Unknown, Unknown, NotSent,
                                                       NotSent, Unknown]  # fmt: skip
    assert failures[0].message == "Invalid API key [key]"
    for failure in failures:
        text = str(failure) + repr(failure) + "".join(traceback.format_exception(failure)) + str(failure.args)
        assert SECRET not in text
        assert failure.__cause__ is None and failure.__context__ is None
    assert caplog.records
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in str(record.args)
    assert "upstream add host=provider.example" in caplog.text


def test_client_repr_shows_only_the_host():
    api = ApiV2Client(f"https://user:pw@provider.example:8443/api/v2?token={SECRET}", SECRET)
    assert repr(api) == "<ApiV2Client provider.example:8443>"
    assert SECRET not in repr(api) and SECRET not in str(api)
    api.close()


def test_exceptions_survive_pickling():
    for failure in (NotSent("add", "connection refused"), Unknown("status", "HTTP 502"), Rejected("add", "Bad link")):
        copy = pickle.loads(pickle.dumps(failure))
        assert (type(copy), copy.action, copy.detail, copy.retry_safe) == (
            type(failure),
            failure.action,
            failure.detail,
            failure.retry_safe,
        )
    assert pickle.loads(pickle.dumps(Rejected("add", "Bad link"))).message == "Bad link"


# --- status words -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Pending", "Pending"),
        ("pending", "Pending"),
        ("In progress", "In progress"),
        ("In Progress", "In progress"),
        ("in_progress", "In progress"),
        ("inprogress", "In progress"),
        ("IN-PROGRESS", "In progress"),
        (" In  progress ", "In progress"),
        ("Active", "In progress"),
        ("Processing", "Processing"),
        ("Completed", "Completed"),
        ("complete", "Completed"),
        ("Partial", "Partial"),
        ("Canceled", "Canceled"),
        ("Cancelled", "Canceled"),
        ("canceled", "Canceled"),
        ("Refunded", "Canceled"),
        ("Fail", "Canceled"),
        ("Failed", "Canceled"),
        ("Error", "Canceled"),
        (0, "Pending"),
        (1, "In progress"),
        (2, "Completed"),
        (3, "Partial"),
        (4, "Processing"),
        (5, "Canceled"),
        ("0", "Pending"),
        ("5", "Canceled"),
        (Decimal("2"), "Completed"),
        (6, None),
        ("6", None),
        (-1, None),
        (True, None),
        ("", None),
        (None, None),
        ("Paused", None),
        ({"error": "x"}, None),
        (["Completed"], None),
    ],
)
def test_normalize_status(word, expected):
    assert normalize_status(word) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Pending", "Pending"),
        ("In Progress", "In progress"),
        ("in_progress", "In progress"),
        ("Completed", "Completed"),
        ("Rejected", "Rejected"),
        ("Cancelled", "Rejected"),
        ("canceled", "Rejected"),
        ("whatever", None),
        (None, None),
        (1, None),
    ],
)
def test_normalize_refill_status(word, expected):
    assert normalize_refill_status(word) == expected


@given(st.one_of(st.text(), st.integers(), st.none(), st.booleans(), st.decimals()))
def test_normalize_status_never_raises(value):
    assert normalize_status(value) in (*ORDER_STATUSES, None)
    assert normalize_refill_status(value) in (*REFILL_STATUSES, None)


# --- refusals in every shape providers use ----------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        # SmartPanel and panels built like it: HTTP 200, no order created.
        ({"status": "error", "message": "Not enough funds on balance"}, "Not enough funds on balance"),
        ({"status": "Error", "msg": "Bad link"}, "Bad link"),
        ({"status": "fail", "message": "Incorrect service ID"}, "Incorrect service ID"),
        ({"status": "failed", "error": "Quantity less than minimal 50"}, "Quantity less than minimal 50"),
        ({"error": {"message": "Bad link"}}, "Bad link"),
        ({"error": {"code": 17, "text": "Incorrect service ID"}}, "Incorrect service ID"),
        ({"error": {"code": 17}}, "code: 17"),
        ({"errors": ["Bad link", "Quantity less than minimal 50"]}, "Bad link; Quantity less than minimal 50"),
        ({"errors": [{"message": "Bad link"}, {"field": "quantity", "message": "Quantity more than maximum 10000"}]},
         "Bad link; Quantity more than maximum 10000"),
        ({"errors": {"link": ["Bad link"], "quantity": "Missing data"}}, "link: Bad link; quantity: Missing data"),
        ({"success": False, "message": "Service not found or inactive"}, "Service not found or inactive"),
        ({"success": False, "error": "neworder.error.link_duplicate"}, "neworder.error.link_duplicate"),
        ({"success": "false", "msg": "Missing data"}, "Missing data"),
        ({"success": 0, "error": {"message": "Your account is inactive"}}, "Your account is inactive"),
        ({"success": False}, "no reason given"),
        # Readable and storable: control characters (NUL breaks PostgreSQL text) and runs of
        # white space become one space.
        ({"error": "Bad\x00 link\r\n\t  here"}, "Bad link here"),
    ],
)  # fmt: skip
def test_add_refusals_in_every_shape_are_rejected(provider, client, answer, message):
    provider.post(URL, json=answer)
    with pytest.raises(Rejected) as caught:
        client.add(service=1, link=LINK, quantity=100)
    assert caught.value.message == message


@pytest.mark.parametrize(
    "answer",
    [
        {"status": "error", "message": "Timeout", "order": 55},
        {"success": False, "order": "55"},
        {"errors": ["Duplicate"], "order": 55},
        {"error": {"message": "Late"}, "order": 55},
        {"status": "error"},  # no words: not a refusal we can read
        {"success": True},
        {"errors": []},
        {"success": False, "message": "x", "order": 55},
    ],
)
def test_ambiguous_add_answers_stay_unknown(provider, client, answer):
    provider.post(URL, json=answer)
    with pytest.raises(Unknown):
        client.add(service=1, link=LINK, quantity=100)


def test_refusal_shapes_on_a_4xx_are_rejected(provider, client):
    provider.post(URL, status=400, json={"status": "error", "message": "Incorrect request"})
    provider.post(URL, status=422, json={"errors": [{"message": "Bad link"}]})
    provider.post(URL, status=401, json={"success": False, "message": f"API key {SECRET} invalid"})
    messages = []
    for _ in range(3):
        with pytest.raises(Rejected) as caught:
            client.add(service=1, link=LINK, quantity=100)
        messages.append(caught.value.message)
    assert messages == ["Incorrect request", "Bad link", "API key [key] invalid"]


def test_long_refusals_are_cut_to_a_readable_length(provider, client):
    provider.post(URL, json={"status": "error", "message": "x" * 5000})
    with pytest.raises(Rejected) as caught:
        client.balance()
    assert len(caught.value.message) <= 500 and caught.value.message.endswith("...")


def test_status_error_envelope_is_an_error_not_a_canceled_order(provider, client):
    # Read as a status word, "error" would be Canceled: the order refunded while it runs.
    provider.post(URL, json={"status": "error", "message": "Incorrect order ID"})
    provider.post(URL, json={"status": "fail", "msg": "Order not found"})
    provider.post(URL, json={"success": False, "error": "Order not found"})
    with pytest.raises(Rejected) as caught:
        client.status(7)
    assert caught.value.message == "Incorrect order ID"
    with pytest.raises(Rejected):
        client.statuses([7])
    with pytest.raises(Rejected):
        client.statuses([7, 8])


def test_status_entries_in_refusal_shapes_are_errors(provider, client):
    provider.post(
        URL,
        json={
            "1": {"status": "error", "message": "Incorrect order ID"},
            "2": {"error": {"code": 4, "message": "Order not found"}},
            "3": {"success": False, "msg": "Order not found"},
            # A failed order with its figures is a status, not a refusal of the request.
            "4": {"status": "Error", "charge": "0", "start_count": "0", "remains": "100", "message": "Private"},
            "5": {"status": "Fail"},
        },
    )
    result = client.statuses([1, 2, 3, 4, 5])
    assert [(result[key].status, result[key].error) for key in "12345"] == [
        (None, "Incorrect order ID"),
        (None, "Order not found"),
        (None, "Order not found"),
        ("Canceled", None),
        ("Canceled", None),
    ]


def test_refill_and_cancel_refusals_in_object_shapes_are_readable(provider, client):
    provider.post(URL, json={"refill": {"error": {"message": "Order not eligible for refill"}}})
    provider.post(URL, json={"status": "error", "message": "Refill is disabled for this service"})
    provider.post(URL, json=[{"order": 1, "refill": {"error": {"code": 3, "text": "The order is not completed"}}},
                             {"order": 2, "refill": {"message": "Refill not found"}},
                             {"order": 3, "status": "error", "message": "Incorrect order ID"}])  # fmt: skip
    provider.post(URL, json=[{"refill": 1, "status": {"error": {"message": "Refill not found"}}},
                             {"refill": 2, "status": "fail", "message": "Refill not found"}])  # fmt: skip
    provider.post(URL, json=[{"order": 9, "cancel": {"error": {"message": "Incorrect order ID"}}},
                             {"order": 8, "cancel": {"errors": ["Order can not be canceled"]}},
                             {"order": 7, "cancel": "Cancel is disabled\x00 for this service"}])  # fmt: skip
    with pytest.raises(Rejected) as caught:
        client.refill(5)
    assert caught.value.message == "Order not eligible for refill"
    with pytest.raises(Rejected) as caught:
        client.refill(5)
    assert caught.value.message == "Refill is disabled for this service"
    assert client.refills([1, 2, 3]) == [
        RefillResult("1", None, "The order is not completed"),
        RefillResult("2", None, "Refill not found"),
        RefillResult("3", None, "Incorrect order ID"),
    ]
    statuses = client.refill_statuses([1, 2])
    assert [(statuses[key].status, statuses[key].error) for key in "12"] == [
        (None, "Refill not found"),
        (None, "Refill not found"),
    ]
    assert client.cancel([9, 8, 7]) == [
        CancelResult("9", None, "Incorrect order ID"),
        CancelResult("8", None, "Order can not be canceled"),
        CancelResult("7", None, "Cancel is disabled for this service"),
    ]


@settings(max_examples=150, deadline=None)
@given(payload=json_values, shape=st.sampled_from(["error", "errors", "success", "status"]))
def test_any_refusal_gives_a_short_clean_message(payload, shape):
    answer = {
        "error": {"error": payload},
        "errors": {"errors": payload},
        "success": {"success": False, "message": payload},
        "status": {"status": "error", "message": payload},
    }[shape]
    with responses.RequestsMock() as mock, ApiV2Client(URL, SECRET) as api:
        mock.post(URL, body=json.dumps(answer))
        with pytest.raises(UpstreamError) as caught:
            api.add(service=1, link=LINK, quantity=10)
    if isinstance(caught.value, Rejected):
        message = caught.value.message
        assert message and message == message.strip() and len(message) <= 500
        assert not any(char in message for char in "\x00\n\r\t")
        assert "  " not in message


# --- drip-feed and subscription figures -------------------------------------------------------


def test_drip_feed_status_keeps_runs_and_leaves_absent_remains_unknown(provider, client):
    provider.post(URL, json={"status": "Partial", "runs": "3", "orders": []})
    provider.post(URL, json={"status": "Partial", "runs": "3", "orders": []})
    provider.post(
        URL,
        json={
            "5": {"status": "Partial", "runs": 3, "orders": []},
            "6": {"status": "Active", "posts": "4", "remains": "0", "expiry": "31/12/2030"},
            "7": {"status": "In progress", "runs": 2.0, "remains": None, "posts": 1},
            "8": {"status": "Completed", "runs": "", "remains": ""},
        },
    )
    single = client.status(5)
    assert (single.status, single.runs, single.posts, single.remains) == ("Partial", 3, None, None)
    one = client.statuses([5])["5"]
    assert (one.status, one.runs, one.posts, one.remains) == ("Partial", 3, None, None)
    many = client.statuses([5, 6, 7, 8])
    assert [(many[k].status, many[k].runs, many[k].posts, many[k].remains) for k in "5678"] == [
        ("Partial", 3, None, None),
        ("In progress", None, 4, 0),
        ("In progress", 2, 1, None),
        ("Completed", None, None, None),
    ]


def test_status_words_seen_in_the_wild_over_http(provider, client):
    words = {"1": "Pending", "2": "Processing", "3": "In Progress", "4": "in_progress", "5": "Completed",
             "6": "Partial", "7": "Cancelled", "8": "Refunded", "9": "Active", "10": "Fail", "11": "Error",
             "12": 0, "13": 1, "14": 2.0, "15": " 3 ", "16": "4", "17": 5, "18": "Paused", "19": "Expired"}  # fmt: skip
    provider.post(URL, json={key: {"status": word, "charge": "1", "remains": "0"} for key, word in words.items()})
    result = client.statuses(words)
    assert [result[key].status for key in words] == [
        "Pending", "Processing", "In progress", "In progress", "Completed", "Partial", "Canceled", "Canceled",
        "In progress", "Canceled", "Canceled", "Pending", "In progress", "Completed", "Partial", "Processing",
        "Canceled",
        # Paused is no information (the order keeps its status); an expired subscription delivered
        # part of its posts, and is settled as Partial from the posts it reports.
        None, "Partial",
    ]  # fmt: skip
