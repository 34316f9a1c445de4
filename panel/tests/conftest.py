"""Panel tests serve static files plainly (no collectstatic in tests); the simulator, provider,
catalog and customer fixtures come from testing/fixtures.py."""

import pytest


@pytest.fixture(autouse=True)
def _plain_static(plain_static_storage):
    pass
