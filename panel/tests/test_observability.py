"""Health and readiness, metrics, JSON logs with order context, and no secret in any log line."""

import io
import json
import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import api_key_rotate
from orders.forwarding import order_forward
from orders.maintenance import reconcile
from orders.models import ForwardState, Order
from orders.polling import poll_batch, poll_pass
from panel.health import heartbeat
from panel.observability import ContextFilter, JsonFormatter, log_context


@pytest.fixture
def captured_logs():
    """Every log line of every logger, as production writes them (JSON, with context)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_healthz_answers_while_the_process_lives(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_is_ok_when_everything_is_fresh(client, db):
    heartbeat("beat")
    heartbeat("poll")
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {name: "ok" for name in ("database", "redis", "broker", "beat", "poll")}


def test_readyz_names_what_is_down(client, db, settings):
    from django.core.cache import cache

    cache.delete_many(["heartbeat:beat", "heartbeat:poll"])
    heartbeat("poll")
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "ok" and checks["redis"] == "ok" and checks["poll"] == "ok"
    assert checks["beat"] == "no heartbeat yet"
    assert "ConnectionError" in checks["broker"]


def test_readyz_reports_a_stale_poll_pass(client, db, settings):
    heartbeat("beat")
    heartbeat("poll")
    settings.READY_POLL_MAX_AGE = -1
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["poll"].startswith("last heartbeat")


def test_metrics_need_the_token(db, settings):
    settings.METRICS_TOKEN = "scrape-token"
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403
    wrong = Client(REMOTE_ADDR="127.0.0.1").get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-tokeN")
    assert wrong.status_code == 403
    ok = Client(REMOTE_ADDR="93.184.216.34").get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token")
    assert ok.status_code == 200


def test_without_a_token_only_debug_lets_private_addresses_read_metrics(db, settings):
    settings.METRICS_TOKEN = ""
    # Production (settings refuse to start like this, but if they did): nobody, not even loopback.
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403
    settings.DEBUG = True
    assert Client(REMOTE_ADDR="93.184.216.34").get("/metrics").status_code == 403
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200


def test_metrics_can_be_turned_off(db, settings):
    settings.METRICS_ENABLED = False
    response = Client(REMOTE_ADDR="127.0.0.1").get("/metrics", HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_TOKEN}")
    assert response.status_code == 404


def test_a_forged_forwarded_for_does_not_reach_metrics(db, settings):
    from ipaddress import ip_network

    settings.METRICS_TOKEN = ""
    settings.DEBUG = True
    settings.TRUSTED_PROXIES = (ip_network("10.0.0.0/8"),)
    forged = Client(REMOTE_ADDR="93.184.216.34").get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert forged.status_code == 403


def test_json_lines_carry_the_context(captured_logs):
    with log_context(order_id=42, provider="acme"):
        logging.getLogger("orders.test").info("hello %s", "world")
    logging.getLogger("orders.test").info("outside")
    first, second = lines(captured_logs)
    assert first["message"] == "hello world" and first["order_id"] == 42 and first["provider"] == "acme"
    assert first["level"] == "INFO" and first["logger"] == "orders.test" and "time" in first
    assert "order_id" not in second


def test_a_full_order_flow_logs_no_secret_and_every_order_line_names_order_and_provider(
    customer, make_service, sim, provider, captured_logs
):
    service = make_service("Default", dripfeed=False)
    customer_key = api_key_rotate(user=customer)
    provider_key = provider.api_key
    api = Client()
    form = {"key": customer_key, "action": "add", "service": service.pk, "link": "https://x.com/a"}
    placed = api.post("/api/v2", {**form, "quantity": service.min}).json()
    order_id = placed["order"]
    assert order_forward(order_id=order_id) == "sent"
    for _ in range(3):
        sim.clock.advance(60)
        due = timezone.now() - timedelta(seconds=1)
        Order.objects.filter(forward_state=ForwardState.SENT).update(next_check_at=due)
        poll_pass(enqueue=lambda provider_id, ids: poll_batch(provider_id=provider_id, order_ids=ids))
    status = api.get("/api/v2", {"key": customer_key, "action": "status", "order": order_id}).json()
    assert status["status"] in {"Completed", "Partial", "Canceled"}
    api.post("/api/v2", {"key": customer_key + "0", "action": "balance"})  # a wrong key is not logged either
    assert reconcile().ok

    text = captured_logs.getvalue()
    assert text, "the flow should have logged something"
    assert customer_key not in text and customer_key[:40] not in text
    assert provider_key not in text
    records = lines(captured_logs)
    sent = [r for r in records if "sent as" in r["message"]]
    assert sent and sent[0]["order_id"] == order_id and sent[0]["provider"] == provider.name
    upstream = [r for r in records if r["logger"] == "upstream.client" and " add" in r["message"]]
    assert upstream and upstream[0]["order_id"] == order_id  # the client's own line, in context
    for record in records:
        if record["logger"] in {"orders.forwarding", "orders.polling", "upstream.client"}:
            assert "provider" in record, record


def test_metrics_count_the_flow(customer, make_service, sim, provider, db, settings):
    service = make_service("Default", dripfeed=False)
    from orders.placement import order_place

    order = order_place(user=customer, service_id=service.pk, data={"link": "https://x.com/m", "quantity": service.min})
    assert order_forward(order_id=order.order.pk) == "sent"
    scrape = f"Bearer {settings.METRICS_TOKEN}"
    text = Client(REMOTE_ADDR="127.0.0.1").get("/metrics", HTTP_AUTHORIZATION=scrape).content.decode()
    assert f'panel_forward_outcomes_total{{outcome="sent",provider="{provider.name}"}}' in text
    assert f'panel_upstream_calls_total{{action="add",outcome="ok",provider="{provider.name}"}}' in text
    assert "panel_upstream_request_seconds_bucket" in text
    assert 'panel_orders_placed_total{source="web"} 1.0' in text or "panel_orders_placed_total" in text
    assert "panel_poll_lag_seconds" in text
    assert 'panel_queue_depth{queue="forward"}' in text
