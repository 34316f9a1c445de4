"""The client's on_call hook and the metrics it feeds; provider_call and its request slots."""

from __future__ import annotations

import socket
import threading

import pytest
from django.core.cache import cache
from prometheus_client import REGISTRY

from upstream.client import ApiV2Client, NotSent, Rejected, Unknown
from upstream.services import NoFreeSlot, provider_call, provider_slot

# --- the on_call hook -------------------------------------------------------------------------


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/v2"


def test_on_call_hears_every_outcome_once_per_call(simulator):
    heard: list[tuple[str, str, float]] = []

    def record(action: str, outcome: str, seconds: float) -> None:
        heard.append((action, outcome, seconds))

    api = simulator.client(on_call=record)
    api.balance()
    with pytest.raises(Rejected):
        api.add(service=999999, link="https://example.com/p/1", quantity=100)
    simulator.set_faults(http_500_rate=1)
    with pytest.raises(Unknown):
        api.status(1)
    with pytest.raises(NotSent):
        simulator.client(url=_closed_port_url(), on_call=record).balance()

    assert [(action, outcome) for action, outcome, _ in heard] == [
        ("balance", "ok"),
        ("add", "rejected"),
        ("status", "unknown"),
        ("balance", "not_sent"),
    ]
    assert all(seconds >= 0 for _, _, seconds in heard)


def test_on_call_is_called_per_chunk_of_a_multi_id_call(simulator):
    heard: list[str] = []
    api = simulator.client(on_call=lambda action, outcome, seconds: heard.append(f"{action}:{outcome}"))
    api.statuses(range(1, 151))
    assert heard == ["status:ok", "status:ok"]


def test_a_failing_hook_never_fails_the_call(simulator, caplog):
    def broken(action: str, outcome: str, seconds: float) -> None:
        raise RuntimeError("metrics are down")

    api = simulator.client(on_call=broken)
    assert api.balance().currency == "USD"
    assert "on_call hook failed" in caplog.text


def _calls(provider_name: str, action: str, outcome: str) -> float:
    labels = {"provider": provider_name, "action": action, "outcome": outcome}
    return REGISTRY.get_sample_value("panel_upstream_calls_total", labels) or 0.0


def test_provider_calls_are_counted_in_the_metrics(provider):
    from upstream.services import provider_client

    ok_before = _calls(provider.name, "balance", "ok")
    rejected_before = _calls(provider.name, "add", "rejected")
    provider_client(provider).balance()
    with pytest.raises(Rejected):
        provider_client(provider).add(service=999999, link="https://example.com/p/1", quantity=100)
    assert _calls(provider.name, "balance", "ok") == ok_before + 1
    assert _calls(provider.name, "add", "rejected") == rejected_before + 1


# --- provider_call ----------------------------------------------------------------------------


def _held_slots(provider) -> list[int]:
    return [index for index in range(provider.max_concurrency) if cache.get(f"upstream:slot:{provider.pk}:{index}")]


def test_provider_call_holds_a_slot_during_the_call_and_frees_it(provider):
    seen: list[list[int]] = []

    def call(client: ApiV2Client):
        seen.append(_held_slots(provider))
        return client.balance()

    balance = provider_call(provider, "balance", call)
    assert balance.currency == "USD"
    assert len(seen[0]) == 1
    assert _held_slots(provider) == []


def test_provider_call_frees_the_slot_when_the_call_fails(provider):
    with pytest.raises(Rejected):
        provider_call(
            provider, "add", lambda client: client.add(service=999999, link="https://example.com/p/1", quantity=100)
        )
    assert _held_slots(provider) == []

    def boom(client: ApiV2Client):
        raise ValueError("not an upstream error")

    with pytest.raises(ValueError):
        provider_call(provider, "balance", boom)
    assert _held_slots(provider) == []


def test_provider_call_raises_no_free_slot_when_every_slot_is_held(provider):
    calls: list[ApiV2Client] = []
    release = threading.Event()
    holding = threading.Barrier(provider.max_concurrency + 1)

    def hold() -> None:
        with provider_slot(provider, wait=5) as free:
            assert free
            holding.wait(timeout=5)
            release.wait(timeout=10)

    threads = [threading.Thread(target=hold) for _ in range(provider.max_concurrency)]
    for thread in threads:
        thread.start()
    try:
        holding.wait(timeout=5)
        with pytest.raises(NoFreeSlot) as caught:
            provider_call(provider, "status", calls.append, wait=0.2)
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=10)
    assert calls == []
    failure = caught.value
    assert isinstance(failure, NotSent) and failure.retry_safe
    assert failure.action == "status" and failure.detail == "no free request slot"
    assert _held_slots(provider) == []
    # Once a slot is free again, the call goes through.
    assert provider_call(provider, "balance", lambda client: client.balance(), wait=1).currency == "USD"
