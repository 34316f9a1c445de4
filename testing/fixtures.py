"""Fixtures shared by the apps' tests: a real simulator over HTTP, a provider, a catalog, a customer.

Loaded for every test through `pytest_plugins` in the top-level conftest. Django is imported
inside the fixtures, so test runs without the Django plugin (the client's and simulator's own
tests) can still load this module.
"""

import contextlib
import logging
import os
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from simulator import start_in_thread
from upstream.client import ApiV2Client


class Clock:
    """The simulator's clock, moved by the tests instead of waiting."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Sim:
    def __init__(self, server, sim, url, clock):
        self.server, self.sim, self.url, self.clock = server, sim, url, clock
        self.base = url.rsplit("/api/v2", 1)[0]

    def faults(self, **faults) -> None:
        response = requests.post(f"{self.base}/_sim/faults", json=faults, timeout=5)
        response.raise_for_status()

    def stats(self) -> dict:
        return requests.get(f"{self.base}/_sim/stats", timeout=5).json()


@pytest.fixture
def sim():
    clock = Clock()
    server, simulator, url = start_in_thread(services=120, speed=1.0, seed=7, clock=clock)
    yield Sim(server, simulator, url, clock)
    server.shutdown()
    server.server_close()


@pytest.fixture
def provider(db, sim):
    from django.core.cache import cache

    from upstream.models import Provider

    cache.clear()
    return Provider.objects.create(name="sim", api_url=sim.url, api_key=sim.sim.key, read_timeout=Decimal("2"))


@pytest.fixture
def upstream_services(sim):
    with ApiV2Client(sim.url, sim.sim.key) as client:
        return client.services()


@pytest.fixture
def make_service(provider, upstream_services):
    """Sell one of the simulator's services: pick it by type (and flags), price it at 2x cost."""

    from catalog.models import Category, Service, UpstreamService

    def make(type_="Default", **flags) -> Service:
        for up in upstream_services:
            if up.type == type_ and all(getattr(up, name) == value for name, value in flags.items()):
                break
        else:
            raise LookupError(f"the simulator has no {type_} service with {flags}")
        ups, _ = UpstreamService.objects.get_or_create(
            provider=provider,
            upstream_id=up.service,
            defaults={
                "name": up.name,
                "type": up.type,
                "category": up.category,
                "rate": up.rate,
                "min": up.min,
                "max": up.max,
                "refill": up.refill,
                "cancel": up.cancel,
                "dripfeed": up.dripfeed,
            },
        )
        category, _ = Category.objects.get_or_create(name=up.category)
        return Service.objects.create(
            category=category,
            upstream=ups,
            name=up.name,
            type=up.type,
            rate=up.rate * 2,
            min=up.min,
            max=up.max,
            refill=up.refill,
            cancel=up.cancel,
            dripfeed=up.dripfeed,
        )

    return make


@pytest.fixture
def customer(db):
    from accounts.ledger import ledger_credit
    from accounts.models import User

    user = User.objects.create(username="buyer", email="buyer@example.com")
    ledger_credit(user_id=user.pk, amount=Decimal("1000"), memo="test funds")
    user.refresh_from_db()
    return user


@pytest.fixture
def plain_static_storage(settings):
    """Tests run with DEBUG=false but without collectstatic: serve static names as they are."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


# --- Browser tests: Debian's chromium driven by Playwright (no browser download) ---------------

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[1] / "screenshots"
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: apt-get install chromium"),
]


@pytest.fixture
def browser(monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    # Playwright's sync API refuses to run inside an asyncio loop; Django's async-unsafe check
    # then needs to be told that the test thread only talks to the database synchronously.
    # monkeypatch: the variable must not leak into later tests (check --deploy refuses it).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                # Child panels' test host names (tenants/tests/conftest.py) reach the live server.
                "--host-resolver-rules=MAP *.panels.test 127.0.0.1",
            ],
        )
        yield instance
        instance.close()


def screenshot(page, name: str) -> None:
    """Save a full-page screenshot as screenshots/<name>.png (an ignored folder) to look at."""
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def page_logged_in_as(browser, live_server, user, *, viewport: dict, timeout_ms: int = 15_000):
    """A browser page logged in as `user`: its session cookie injected into a fresh context.

    Close it with `page.context.close()`.
    """
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport=viewport)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    return page


@contextlib.contextmanager
def logging_kept():
    """Put the logging configuration back after a block that changes it.

    Celery's test worker (celery.contrib.testing.worker.start_worker) sets up logging as a worker
    does: the root logger's level becomes the worker's (ERROR) and its handlers are replaced, so
    every later test in the process would lose its warnings (the log redaction tests saw nothing).
    """
    root = logging.getLogger()
    kept_root = (root.level, list(root.handlers), list(root.filters))
    kept = {
        name: (logger.level, logger.propagate, logger.disabled, list(logger.handlers))
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    try:
        yield
    finally:
        root.setLevel(kept_root[0])
        root.handlers[:] = kept_root[1]
        root.filters[:] = kept_root[2]
        for name, logger in logging.Logger.manager.loggerDict.items():
            if not isinstance(logger, logging.Logger):
                continue
            if name in kept:
                logger.level, logger.propagate, logger.disabled, handlers = kept[name]
                logger.handlers[:] = handlers
            else:
                logger.setLevel(logging.NOTSET)
                logger.handlers[:] = []
                logger.propagate = True
                logger.disabled = False


@contextlib.contextmanager
def running_worker(app, **options):
    """Celery's test worker (threads) for a test: logging put back after it (logging_kept), and
    each worker thread's database connection closed after its task. Workers keep their
    connection between tasks (panel/celery.py), but a test worker's threads end with the test and
    Django's connections are per thread: kept open, they would stop the test database from being
    dropped at the end of the run."""
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun

    def close(task=None, **kwargs):
        if task is not None and getattr(task.request, "is_eager", False):
            return
        from django.db import connections

        connections.close_all()

    task_postrun.connect(close, weak=False)
    try:
        with logging_kept(), start_worker(app, perform_ping_check=False, shutdown_timeout=10, **options) as worker:
            yield worker
    finally:
        task_postrun.disconnect(close)
