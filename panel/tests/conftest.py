"""Panel fixtures: plain static files (no collectstatic in tests) and the order engine's
fixtures (a real simulator over HTTP, a provider, a catalog, a customer)."""

import pytest

from orders.tests.conftest import customer, make_service, provider, sim, upstream_services  # noqa: F401


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
