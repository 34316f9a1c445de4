"""The simulator fixtures (simulator.tests.fixtures), for these tests."""

from simulator.tests.fixtures import clock, simulator, simulator_factory

__all__ = ["clock", "simulator", "simulator_factory"]
