"""Celery tasks run in the schema of the panel that sent them, under a real worker and broker."""

import time
import uuid
from pathlib import Path

import pytest
from django.db import connection, connections
from django.test import Client
from django_tenants.utils import schema_context

from panel.celery import app
from tenants.tests.conftest import CHILDREN
from testing.fixtures import running_worker


@app.task(name="tenants.tests.schema_probe")
def schema_probe(path: str, username: str) -> None:
    from accounts.models import User

    Path(path).write_text(f"{connection.schema_name} {User.objects.filter(username=username).exists()}")


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def worker(transactional_db, children):
    assert app.conf.broker_url.startswith("redis://")
    app.conf.task_always_eager = False
    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    try:
        with running_worker(app, pool="threads", concurrency=2) as w:
            yield w
    finally:
        app.conf.task_always_eager = True
        connection.set_schema_to_public()
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_a_task_runs_in_the_schema_it_was_sent_from(worker, tmp_path):
    from accounts.models import User

    username = f"probe-{uuid.uuid4().hex[:8]}"
    with schema_context("child_b"):
        User.objects.create(username=username)
    for schema in ("child_a", "child_b", "public"):
        with schema_context(schema):
            schema_probe.delay(str(tmp_path / schema), username)
    for schema in ("child_a", "child_b", "public"):
        assert wait_for((tmp_path / schema).exists), schema
    assert (tmp_path / "child_a").read_text() == "child_a False"
    assert (tmp_path / "child_b").read_text() == "child_b True"
    assert (tmp_path / "public").read_text() == "public False"


@pytest.mark.django_db(transaction=True)
def test_an_order_placed_on_a_childs_host_is_forwarded_by_a_task_in_the_childs_schema(worker, sim, make_customer):
    from catalog.models import Category, Service, UpstreamService
    from orders.models import ForwardState, Order
    from upstream.client import ApiV2Client
    from upstream.models import Provider

    with ApiV2Client(sim.url, sim.sim.key) as client:
        up = next(s for s in client.services() if s.type == "Default" and not s.dripfeed)
    suffix = uuid.uuid4().hex[:8]
    with schema_context("child_a"):
        _, key = make_customer(f"fwd-{suffix}", balance="500")
        provider = Provider.objects.create(name=f"sim-{suffix}", api_url=sim.url, api_key=sim.sim.key, read_timeout=2)
        ups = UpstreamService.objects.create(
            provider=provider,
            upstream_id=up.service,
            name=up.name,
            type=up.type,
            category=up.category,
            rate=up.rate,
            min=up.min,
            max=up.max,
        )
        service = Service.objects.create(
            category=Category.objects.create(name=f"c-{suffix}"),
            upstream=ups,
            name=up.name,
            type=up.type,
            rate=up.rate * 2,
            min=up.min,
            max=up.max,
        )
    public_orders = Order.objects.count()
    answer = Client(HTTP_HOST=CHILDREN["child_a"]).post(
        "/api/v2", {"key": key, "action": "add", "service": service.pk, "link": "https://x.com/f", "quantity": up.min}
    )
    order_id = answer.json()["order"]
    connection.set_schema_to_public()

    def forwarded():
        with schema_context("child_a"):
            return Order.objects.filter(pk=order_id, forward_state=ForwardState.SENT).exists()

    # The on-commit forward task went through Redis to the worker, which found the order in A.
    assert wait_for(forwarded)
    assert Order.objects.count() == public_orders
