"""The client's tests run against the simulator: its fixtures (simulator.tests.fixtures)."""

from simulator.tests.fixtures import clock, simulator, simulator_factory

__all__ = ["clock", "simulator", "simulator_factory"]
