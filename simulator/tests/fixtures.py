"""Fixtures that run the upstream simulator on loopback, over real HTTP.

Used by the simulator's tests and the client's (each conftest imports them).

    def test_something(simulator):
        client = simulator.client()
        simulator.set_faults(error_rate=1)

`simulator_factory(**kwargs)` starts more, with other Simulator() arguments (speed, seed,
balance, clock, ...). Every simulator started here is shut down after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from simulator import Simulator, SimulatorServer, start_in_thread
from upstream.client import ApiV2Client


class FakeClock:
    """A monotonic clock the test moves by hand, for Simulator(clock=...)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RunningSimulator:
    def __init__(self, server: SimulatorServer, sim: Simulator, url: str) -> None:
        self.server = server
        self.sim = sim
        self.url = url
        self.key = sim.key
        self.control_url = url.removesuffix("/api/v2") + "/_sim"
        self._clients: list[ApiV2Client] = []

    def client(self, **kwargs: Any) -> ApiV2Client:
        """An ApiV2Client for this simulator (short timeouts unless given), closed at teardown."""
        kwargs.setdefault("connect_timeout", 2.0)
        kwargs.setdefault("read_timeout", 5.0)
        client = ApiV2Client(kwargs.pop("url", self.url), kwargs.pop("key", self.key), **kwargs)
        self._clients.append(client)
        return client

    def api(self, **params: Any) -> Any:
        """A raw API call (the key is added unless given): the decoded JSON answer."""
        params.setdefault("key", self.key)
        response = requests.post(self.url, data=params, timeout=5)
        response.raise_for_status()
        return response.json()

    def control(self, method: str, name: str, payload: Any = None) -> requests.Response:
        return requests.request(method, f"{self.control_url}/{name}", json=payload, timeout=5)

    def set_faults(self, **faults: Any) -> dict:
        response = self.control("POST", "faults", faults)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict:
        response = self.control("GET", "stats")
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self.control("POST", "reset").raise_for_status()

    def change_services(self, **changes: Any) -> dict:
        response = self.control("POST", "services", changes)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.server.shutdown()


@pytest.fixture
def simulator_factory() -> Iterator[Callable[..., RunningSimulator]]:
    started: list[RunningSimulator] = []

    def start(**kwargs: Any) -> RunningSimulator:
        kwargs.setdefault("speed", 50.0)
        kwargs.setdefault("seed", 7)
        kwargs.setdefault("services", 120)
        running = RunningSimulator(*start_in_thread(**kwargs))
        started.append(running)
        return running

    yield start
    for running in started:
        running.close()


@pytest.fixture
def simulator(simulator_factory: Callable[..., RunningSimulator]) -> RunningSimulator:
    return simulator_factory()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
