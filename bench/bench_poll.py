"""Polling benchmark: N active orders, one full pass with real Celery workers, PostgreSQL, Redis.

The simulator runs in its own process with its clock frozen a few seconds after the orders
were created, so every order answers "In progress" and every batch has 100 changes to write
(--outcome progress), or every order has ended (--outcome final, the default): Completed,
Partial or Canceled, so the pass also settles every refund (one ledger transaction per batch).
Prints, per size: the pass time, the number of `status` calls (must be ceil(N / 100)), the
workers' peak memory, the statuses reached, the refund entries and the ledger's drift (must be 0).

    python bench/bench_poll.py [--orders 100000] [--also 20000] [--workers 2] [--outcome final|progress]
"""

import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import common  # noqa: E402

DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/panel_bench_poll")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
ENV = {
    **os.environ,
    "DATABASE_URL": DB_URL,
    "REDIS_URL": REDIS_URL,
    "DEBUG": "false",
    "SECRET_KEY": "bench-secret",
    # Nothing scrapes /metrics here; production requires a token or this switch.
    "METRICS_ENABLED": "false",
    "ALLOWED_HOSTS": "127.0.0.1",
    "FIELD_ENCRYPTION_KEY": "0cTBgyJy0vdR6OfmBGm0dn4gUjJ0zbpHdsDvM_L6Ikk=",
    "UPSTREAM_ALLOW_PRIVATE": "true",
    "LOG_LEVEL": "WARNING",
    "PANEL_VAR_DIR": str(ROOT / "var" / "bench"),
    # Connections outlive the pass (production recycles them every minute), so the CPU accounting
    # reads every PostgreSQL backend the workers used: an ended process's CPU cannot be read.
    "CONN_MAX_AGE": "600",
}
os.environ.update(ENV)
os.environ["DJANGO_SETTINGS_MODULE"] = "panel.settings"

SIMULATOR = """
import sys, threading
from simulator import Simulator, make_server
n = int(sys.argv[1])
frozen = [1000.0]
sim = Simulator(key="bench", services=50, seed=3, balance=10**9, clock=lambda: frozen[0])
sid = next(i for i, s in sim._catalog.items() if s["type"] == "Default" and s["max"] >= 1000 and not s["dripfeed"])
svc = sim._catalog[sid]
for i in range(n):
    sim.api({"key": "bench", "action": "add", "service": str(sid), "link": f"https://x.com/{i}",
             "quantity": str(svc["min"] * 10)})
# "progress": every order is now In progress, and stays so; "final": every order has ended
# (Completed, Partial or Canceled as the seeded simulator decides), so the pass settles refunds.
frozen[0] += 5.0 if sys.argv[2] == "progress" else 10.0 ** 7
server = make_server(sim, "127.0.0.1", 0)
print(server.server_address[1], sid, svc["min"] * 10, flush=True)
server.serve_forever()
"""


def create_database() -> None:
    import psycopg

    name = DB_URL.rsplit("/", 1)[1]
    with psycopg.connect(DB_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=ENV, check=True)


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, IndexError):
            total += int(Path(f"/proc/{pid}/status").read_text().split("VmHWM:")[1].split()[0])
    return total / 1024


def worker_pids(parent: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout.split()
    return [parent, *map(int, out)]


# Where the pass's CPU goes: the Celery workers (the pass task, claims and batches), PostgreSQL
# (this database's backends and its background writers), the simulator answering, Redis.
CPU_GROUPS = ("workers", "postgres", "simulator", "redis")


def run(n: int, workers: int, outcome: str) -> dict:
    create_database()
    sim_proc = subprocess.Popen(
        [sys.executable, "-c", SIMULATOR, str(n), outcome], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, text=True
    )
    port, sid, quantity = sim_proc.stdout.readline().split()
    import django

    django.setup()
    from django.db import connection
    from django.db.models import Count, Q
    from django.utils import timezone

    from accounts.ledger import ledger_credit, ledger_drift
    from accounts.models import LedgerEntry, User
    from catalog.models import Category, Service, UpstreamService
    from orders.models import FINAL_STATUSES, ForwardState, Order, Status
    from panel.celery import app
    from upstream.models import Provider

    connection.close()
    provider = Provider.objects.create(name="bench", api_url=f"http://127.0.0.1:{port}/api/v2", api_key="bench")
    up = UpstreamService.objects.create(
        provider=provider, upstream_id=sid, name="s", type="Default", rate=Decimal("1"), min=1, max=10**6
    )
    service = Service.objects.create(
        category=Category.objects.create(name="c"), upstream=up, name="s", rate=Decimal("2"), min=1, max=10**6
    )
    # A thousand customers, so a batch's refunds lock and credit many users (as in production).
    users = [User.objects.create(username=f"bench{u}") for u in range(1000)]
    for user in users:
        ledger_credit(user_id=user.pk, amount=Decimal("1000"), idempotency_key=f"bench:{user.pk}")
    past = timezone.now() - timezone.timedelta(minutes=1)
    batch = []
    for i in range(n):
        batch.append(
            Order(
                user=users[i % len(users)],
                service=service,
                provider=provider,
                upstream_service_id=sid,
                link=f"https://x.com/{i}",
                quantity=int(quantity),
                charge=Decimal("1"),
                cost_expected=Decimal("0.5"),
                forward_state=ForwardState.SENT,
                upstream_order_id=str(10001 + i),
                next_check_at=past,
            )
        )
        if len(batch) == 5000:
            Order.objects.bulk_create(batch)
            batch = []
    Order.objects.bulk_create(batch)
    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()

    worker = subprocess.Popen(
        ["celery", "-A", "panel", "worker", "-Q", "poll", "-c", str(workers), "--loglevel", "WARNING"],
        cwd=ROOT,
        env={**ENV, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(4)  # worker start-up is not part of the pass
    base = f"http://127.0.0.1:{port}/_sim/stats"
    status_before = json.load(urllib.request.urlopen(base))["requests"].get("status", 0)
    trees = {"workers": worker.pid, "simulator": sim_proc.pid}
    database = DB_URL.rsplit("/", 1)[1]
    cpu_before = common.cpu_ticks(trees, database=database)
    started = time.monotonic()
    app.send_task("orders.poll_orders")
    done = False
    # Done when no order is left Pending and every final one is settled (or left for staff).
    waiting = Q(status=Status.PENDING) | Q(status__in=FINAL_STATUSES, settled_at__isnull=True, needs_attention=False)
    while time.monotonic() - started < 300:
        if not Order.objects.filter(waiting).exists():
            done = True
            break
        time.sleep(0.25)
    elapsed = time.monotonic() - started
    cpu = common.cpu_between(cpu_before, common.cpu_ticks(trees, database=database), CPU_GROUPS)
    statuses = dict(Order.objects.values_list("status").annotate(n=Count("id")))
    refunds = LedgerEntry.objects.filter(kind="refund").count()
    drift = len(ledger_drift())
    peak = rss_mb(worker_pids(worker.pid))
    calls = json.load(urllib.request.urlopen(base))["requests"].get("status", 0) - status_before
    worker.send_signal(signal.SIGTERM)
    worker.wait(30)
    sim_proc.terminate()
    sim_proc.wait(10)
    connection.close()
    return {
        "orders": n,
        "seconds": elapsed,
        "done": done,
        "status_calls": calls,
        "peak_mb": peak,
        "statuses": statuses,
        "refunds": refunds,
        "drift": drift,
        "cpu": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--also", type=int, default=20_000, help="a smaller size, to show memory stays flat")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--outcome",
        choices=["final", "progress"],
        default="final",
        help="final: every order ends, refunds settled in the pass; progress: every order goes In progress",
    )
    args = parser.parse_args()
    for n in [args.also, args.orders] if args.also else [args.orders]:
        r = run(n, args.workers, args.outcome)
        expected = math.ceil(n / 100)
        batches = max(r["status_calls"], 1)
        per_batch = {group: seconds * 1000 / batches for group, seconds in r["cpu"].items()}
        total = sum(per_batch.values())
        print(
            f"poll pass: {r['orders']} active orders in {r['seconds']:.1f} s with {args.workers} worker processes, "
            f"{r['status_calls']} status calls (expected {expected}), "
            f"workers' peak memory {r['peak_mb']:.0f} MB; outcome {args.outcome}: {r['statuses']}, "
            f"{r['refunds']} refund entries, ledger drift {r['drift']}" + ("" if r["done"] else "  [DID NOT FINISH]"),
            flush=True,
        )
        print(
            "  CPU per batch of 100: "
            + ", ".join(f"{group} {per_batch[group]:.1f} ms" for group in CPU_GROUPS)
            + f"; total {total:.1f} ms, so {total * batches / 1000 / 2:.1f} s of the pass is the floor on 2 cores "
            f"(load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
