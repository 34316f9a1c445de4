"""The order engine's tests use the shared fixtures of testing/fixtures.py (sim, provider, make_service, customer)."""
