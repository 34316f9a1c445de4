"""Two panels of ours chained: panel A's provider is panel B's /api/v2, B's provider is the simulator.

Both panels are this project, in one database: A's customer and provider "B" on one side, B's
customer and provider "sim" on the other, are distinct rows. B's API runs in a live server over
real HTTP; Celery runs eagerly, so forwarding happens inline after each commit.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.ledger import ledger_credit, ledger_drift
from accounts.models import User
from accounts.services import api_key_rotate
from catalog.models import Category, Service, UpstreamService
from orders.forwarding import upstream_idempotency_key
from orders.models import CancelRequest, ForwardState, Order, Refill
from orders.polling import poll_batch
from orders.refills import refills_poll
from upstream.client import ApiV2Client
from upstream.models import Provider
from upstream.services import provider_client

pytestmark = pytest.mark.django_db(transaction=True)


class Chain:
    def __init__(self, call, sim, provider_sim, provider_b, key_a, service_a, service_b, customer_a, customer_b):
        self.call, self.sim = call, sim
        self.provider_sim, self.provider_b = provider_sim, provider_b
        self.key_a, self.service_a, self.service_b = key_a, service_a, service_b
        self.customer_a, self.customer_b = customer_a, customer_b

    def place(self, n: int) -> Order:
        answer = self.call(
            self.key_a, "add", service=self.service_a.pk, link=f"https://x.com/chain/{n}", quantity=self.service_a.min
        )
        assert set(answer.json) == {"order"}, answer.json
        return Order.objects.get(pk=answer.json["order"])

    def below(self, order_a: Order) -> Order:
        """B's order for A's order."""
        return Order.objects.get(user=self.customer_b, pk=int(Order.objects.get(pk=order_a.pk).upstream_order_id))

    def poll(self) -> None:
        """One poll pass of B (asks the simulator), then of A (asks B), as beat would run them."""
        past = timezone.now() - timedelta(minutes=1)
        for provider in (self.provider_sim, self.provider_b):
            orders = Order.objects.filter(provider=provider, forward_state=ForwardState.SENT)
            orders.update(next_check_at=past)
            ids = list(orders.values_list("id", flat=True))
            for start in range(0, len(ids), 100):
                poll_batch(provider_id=provider.pk, order_ids=ids[start : start + 100])


@pytest.fixture
def chain(_short_lived_connections, call, sim, provider, make_service, customer, live_server):
    service_b = make_service("Default", refill=True, cancel=True, dripfeed=False)
    key_b = api_key_rotate(user=customer)
    url_b = live_server.url + "/api/v2"
    provider_b = Provider.objects.create(name="B", api_url=url_b, api_key=key_b, read_timeout=Decimal("10"))
    with ApiV2Client(url_b, key_b) as client:
        listed = next(s for s in client.services() if s.service == str(service_b.pk))
    upstream = UpstreamService.objects.create(
        provider=provider_b,
        upstream_id=listed.service,
        name=listed.name,
        type=listed.type,
        category=listed.category,
        rate=listed.rate,
        min=listed.min,
        max=listed.max,
        refill=listed.refill,
        cancel=listed.cancel,
    )
    service_a = Service.objects.create(
        category=Category.objects.create(name="Resold"),
        upstream=upstream,
        name="Resold " + listed.name,
        type=listed.type,
        rate=listed.rate * 2,
        min=listed.min,
        max=listed.max,
        refill=True,
        cancel=True,
    )
    customer_a = User.objects.create(username="a-buyer")
    ledger_credit(user_id=customer_a.pk, amount=Decimal("1000"), memo="test funds")
    key_a = api_key_rotate(user=customer_a)
    return Chain(call, sim, provider, provider_b, key_a, service_a, service_b, customer_a, customer)


def _status(call, key, order_id):
    return call(key, "status", order=order_id).json


def test_orders_flow_down_and_statuses_and_refunds_come_back_up(chain):
    orders_a = [chain.place(n) for n in range(16)]
    for order_a in orders_a:
        order_a.refresh_from_db()
        assert order_a.forward_state == ForwardState.SENT, order_a.upstream_error
        order_b = chain.below(order_a)
        # Exactly once, end to end: B's order carries A's idempotency key and went to the simulator.
        assert order_b.idempotency_key == upstream_idempotency_key(order_a.pk)
        assert order_b.forward_state == ForwardState.SENT and order_b.upstream_order_id
    assert chain.sim.stats()["orders_created"] == len(orders_a)

    chain.sim.clock.advance(60)
    chain.poll()
    outcomes = set()
    for order_a in orders_a:
        order_a.refresh_from_db()
        order_b = chain.below(order_a)
        sim_view = chain.sim.sim.api(
            {"key": chain.sim.sim.key, "action": "status", "order": order_b.upstream_order_id}
        )[0]
        assert order_a.status == order_b.status == sim_view["status"]
        assert order_a.remains == order_b.remains == int(sim_view["remains"])
        assert order_a.settled_at and order_b.settled_at
        if order_a.status == "Canceled":
            assert order_a.refunded == order_a.charge and order_b.refunded == order_b.charge
        elif order_a.status == "Partial":
            assert 0 < order_a.refunded < order_a.charge and 0 < order_b.refunded < order_b.charge
        else:
            assert order_a.refunded == order_b.refunded == 0
        # What A's customer sees through A's API.
        answer = _status(chain.call, chain.key_a, order_a.pk)
        assert answer["status"] == order_a.status
        assert Decimal(answer["charge"]) == order_a.charge - order_a.refunded
        # A's cost is what B charged A, net of B's refunds.
        assert order_a.cost_actual == order_b.charge - order_b.refunded
        outcomes.add(order_a.status)
    assert {"Completed", "Partial"} <= outcomes, outcomes
    assert ledger_drift() == []


def test_resending_an_add_through_the_chain_places_nothing_new(chain):
    order_a = chain.place(0)
    order_a.refresh_from_db()
    client = provider_client(chain.provider_b)
    again = client.add(
        service=order_a.upstream_service_id,
        idempotency_key=upstream_idempotency_key(order_a.pk),
        link=order_a.link,
        quantity=order_a.quantity,
    )
    assert again == order_a.upstream_order_id
    assert Order.objects.filter(user=chain.customer_b).count() == 1
    assert chain.sim.stats()["orders_created"] == 1


def test_cancels_and_refills_travel_through_both_panels(chain):
    to_cancel = chain.place(0)
    to_refill = [chain.place(n) for n in range(1, 6)]

    answer = chain.call(chain.key_a, "cancel", orders=str(to_cancel.pk)).json
    assert answer == [{"order": to_cancel.pk, "cancel": CancelRequest.objects.get(order=to_cancel).pk}]
    assert CancelRequest.objects.get(order=to_cancel).state == CancelRequest.State.CONFIRMED
    assert CancelRequest.objects.get(order=chain.below(to_cancel)).state == CancelRequest.State.CONFIRMED

    chain.sim.clock.advance(60)
    chain.poll()
    to_cancel.refresh_from_db()
    assert to_cancel.status == "Canceled" and to_cancel.refunded == to_cancel.charge
    assert chain.below(to_cancel).refunded == chain.below(to_cancel).charge

    completed = [o for o in to_refill if Order.objects.get(pk=o.pk).status == "Completed"]
    assert completed
    ids = ",".join(str(o.pk) for o in completed)
    answer = chain.call(chain.key_a, "refill", orders=ids).json
    assert [item["order"] for item in answer] == [o.pk for o in completed]
    assert all(isinstance(item["refill"], int) for item in answer), answer
    refills_a = list(Refill.objects.filter(user=chain.customer_a))
    refills_b = list(Refill.objects.filter(user=chain.customer_b))
    assert all(r.state == Refill.State.SENT for r in refills_a + refills_b)

    chain.sim.clock.advance(60)
    refills_poll(provider_id=chain.provider_sim.pk, refill_ids=[r.pk for r in refills_b])
    refills_poll(provider_id=chain.provider_b.pk, refill_ids=[r.pk for r in refills_a])
    statuses = chain.call(chain.key_a, "refill_status", refills=",".join(str(r.pk) for r in refills_a)).json
    assert statuses == [{"refill": r.pk, "status": "Completed"} for r in refills_a]
    assert ledger_drift() == []


class DroppingProxy:
    """Between panel A and panel B: passes every call on to B, but for the first `add` of each
    idempotency key closes the connection once B has answered, as a flaky network does after
    the provider accepted the order. A test-only fault injector over real HTTP."""

    def __init__(self, upstream_url: str):
        import http.server
        import threading
        from urllib.parse import parse_qs

        import requests

        proxy = self
        self.upstream_url = upstream_url
        self.dropped: list[str] = []
        self.seen: set[str] = set()
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                forwarded = requests.post(
                    proxy.upstream_url,
                    data=body,
                    headers={"Content-Type": self.headers.get("Content-Type", "")},
                    timeout=10,
                )
                form = parse_qs(body.decode())
                key = (form.get("idempotency_key") or [""])[0]
                with proxy.lock:
                    drop = form.get("action") == ["add"] and key not in proxy.seen
                    proxy.seen.add(key)
                    if drop:
                        proxy.dropped.append(key)
                if drop:
                    self.close_connection = True
                    return
                self.send_response(forwarded.status_code)
                for name in ("Content-Type", "Idempotency-Keys"):
                    if name in forwarded.headers:
                        self.send_header(name, forwarded.headers[name])
                self.send_header("Content-Length", str(len(forwarded.content)))
                self.end_headers()
                self.wfile.write(forwarded.content)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v2"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_panel_b_advertises_idempotency_keys_and_the_simulator_does_not(chain):
    from upstream.services import provider_refresh_balance

    assert provider_refresh_balance(provider_id=chain.provider_b.pk).advertises_idempotency_keys
    assert not provider_refresh_balance(provider_id=chain.provider_sim.pk).advertises_idempotency_keys


def test_dropped_answers_between_two_panels_resolve_without_staff_and_without_duplicates(chain):
    from orders.forwarding import order_forward
    from upstream.services import provider_refresh_balance

    proxy = DroppingProxy(chain.provider_b.api_url)
    try:
        Provider.objects.filter(pk=chain.provider_b.pk).update(api_url=proxy.url)
        assert provider_refresh_balance(provider_id=chain.provider_b.pk).resends_unknown_outcomes

        orders_a = [chain.place(n) for n in range(6)]
        assert len(proxy.dropped) == 6
        for order_a in orders_a:
            order_a.refresh_from_db()
            assert order_a.forward_state == ForwardState.UNKNOWN and not order_a.needs_attention
        # What the sweeper does on its schedule: send each again, with the same key.
        Order.objects.filter(pk__in=[o.pk for o in orders_a]).update(next_attempt_at=timezone.now())
        assert [order_forward(order_id=o.pk) for o in orders_a] == ["sent"] * 6

        for order_a in orders_a:
            order_a.refresh_from_db()
            assert order_a.forward_state == ForwardState.SENT and not order_a.needs_attention
            assert chain.below(order_a).idempotency_key == upstream_idempotency_key(order_a.pk)
        # Every order reached B once and the simulator once.
        assert Order.objects.filter(user=chain.customer_b).count() == 6
        assert chain.sim.stats()["orders_created"] == 6
        assert ledger_drift() == []
    finally:
        proxy.close()
