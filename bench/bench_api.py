"""Requests per second of /api/v2 `status` (100 IDs) and `add`, next to a bare Django view,
interleaved: several short rounds, each running every endpoint in turn, reported as the median
and spread over rounds of each rate and of its ratio to the same round's bare view.

Everything is served by one gunicorn (gthread workers, keep-alive) in the same run: the bare
view returns a fixed JSON body through the same middleware, so the ratio measures what the API
itself costs. Load comes from separate processes, each on one keep-alive connection. Next to each
rate, the CPU it cost per request (from /proc): the server's processes, PostgreSQL, Redis and the
load clients; with every core busy, req/s is about cores / that sum. The SQL query count per call
is measured in-process for 1, 10 and 100 IDs.

    python bench/bench_api.py [--rounds 5] [--seconds 2] [--clients 8] [--workers 4]

Uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/panel_bench_api, created and migrated
if missing) and REDIS_URL (default redis://127.0.0.1:6379/14). The rate limits stay on, raised
out of the way; forwarding tasks go to an in-memory broker, so no provider is called.

This file is also the server's WSGI module (`bench.bench_api:application`), which adds the bare
view next to the project's URLs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "panel.settings",
    "DEBUG": "false",
    "SECRET_KEY": "bench-secret-key-not-for-production",
    # Nothing scrapes /metrics here; production requires a token or this switch.
    "METRICS_ENABLED": "false",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "FIELD_ENCRYPTION_KEY": "0cTBgyJy0vdR6OfmBGm0dn4gUjJ0zbpHdsDvM_L6Ikk=",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/panel_bench_api",
    "REDIS_URL": "redis://127.0.0.1:6379/14",
    "CELERY_BROKER_URL": "memory://",
    "UPSTREAM_ALLOW_PRIVATE": "true",
    # Plain http on loopback: no redirect to https.
    "SECURE_SSL_REDIRECT": "false",
    "LOG_LEVEL": "WARNING",
    "PANEL_VAR_DIR": str(ROOT / "var" / "bench"),
}
for _name, _value in BENCH_ENV.items():
    os.environ.setdefault(_name, _value)

BARE_BODY = b'{"charge":"0.27819","start_count":"3572","status":"Partial","remains":"157","currency":"USD"}'


def _django():
    import django
    from django.conf import settings

    django.setup()
    settings.ROOT_URLCONF = __name__
    settings.API_RATE_LIMITS = {"key": (10**9, 60), "ip": (10**9, 60)}


def bare(request):
    from django.http import HttpResponse

    return HttpResponse(BARE_BODY, content_type="application/json")


def __getattr__(name):
    # The URLconf and WSGI application are built lazily, so that importing this module for the
    # load generator does not set up Django.
    if name == "urlpatterns":
        from django.urls import include, path
        from django.views.decorators.csrf import csrf_exempt

        return [path("bare", csrf_exempt(bare)), path("", include("panel.urls"))]
    if name == "application":
        _django()
        from django.core.wsgi import get_wsgi_application

        return get_wsgi_application()
    raise AttributeError(name)


# --- Fixtures in the bench database ---------------------------------------------------------


def _ensure_database() -> None:
    import psycopg

    url = os.environ["DATABASE_URL"]
    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def prepare() -> dict:
    """A provider, a service, a rich customer with a key and 100 orders; returns what the load needs."""
    from decimal import Decimal

    from django.core.management import call_command

    _ensure_database()
    _django()
    call_command("migrate", verbosity=0)
    from accounts.ledger import ledger_credit
    from accounts.models import User
    from accounts.services import api_key_rotate
    from catalog.models import Category, PricingSettings, Service, UpstreamService
    from orders.placement import order_place
    from upstream.models import Provider

    provider, _ = Provider.objects.get_or_create(
        name="bench", defaults={"api_url": "http://127.0.0.1:9/api/v2", "api_key": "x", "enabled": True}
    )
    upstream, _ = UpstreamService.objects.get_or_create(
        provider=provider,
        upstream_id="1",
        defaults={"name": "Followers", "type": "Default", "rate": 1, "min": 10, "max": 10**6},
    )
    category, _ = Category.objects.get_or_create(name="Bench")
    service, _ = Service.objects.get_or_create(
        category=category,
        upstream=upstream,
        defaults={"name": "Followers", "type": "Default", "rate": Decimal("2"), "min": 10, "max": 10**6},
    )
    pricing = PricingSettings.load()
    pricing.refuse_duplicate_active_link = False
    pricing.save()
    user, _ = User.objects.get_or_create(username="bench")
    ledger_credit(user_id=user.pk, amount=Decimal("100000000"), memo="bench funds")
    user.refresh_from_db()
    key = api_key_rotate(user=user)
    ids = [
        order_place(user=user, service_id=service.pk, data={"link": f"https://x.com/{n}", "quantity": 10}).order.pk
        for n in range(100)
    ]
    # Planner statistics, as autovacuum keeps them on a live database; without them a fresh
    # database plans the status read as a scan of all the customer's orders.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"key": key, "service": service.pk, "ids": ids}


def query_counts(fixture: dict) -> dict[str, int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    counts = {}
    for size in (1, 10, 100):
        with CaptureQueriesContext(connection) as queries:
            client.post(
                "/api/v2",
                {"key": fixture["key"], "action": "status", "orders": ",".join(map(str, fixture["ids"][:size]))},
            )
        counts[f"status {size} IDs"] = len(queries)
    with CaptureQueriesContext(connection) as queries:
        client.post(
            "/api/v2",
            {
                "key": fixture["key"],
                "action": "add",
                "service": fixture["service"],
                "link": "https://x.com/q",
                "quantity": 10,
            },
        )
    counts["add"] = len(queries)
    return counts


# --- Load -----------------------------------------------------------------------------------


def _load(port: int, method: str, path: str, body: bytes, seconds: float, results) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
    done = errors = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status != 200 or b'"error"' in data:
            errors += 1
        done += 1
    conn.close()
    results.put((done, errors))


# --- Where the CPU goes ---------------------------------------------------------------------

CPU_GROUPS = ("server", "postgres", "redis", "clients")


def cpu_ticks(server_pid: int) -> dict[tuple[str, int], int]:
    """CPU ticks so far per (group, pid): the server's process tree, PostgreSQL, Redis."""
    from bench import common

    return common.cpu_ticks({"server": server_pid}, database=os.environ["DATABASE_URL"].rsplit("/", 1)[1])


def cpu_between(before: dict, after: dict, clients_seconds: float) -> dict[str, float]:
    """CPU seconds per group between two cpu_ticks() snapshots; the load clients counted apart."""
    from bench import common

    return {**common.cpu_between(before, after, CPU_GROUPS), "clients": clients_seconds}


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


def measure(
    port: int, method: str, path: str, body: bytes, seconds: float, clients: int, server_pid: int | None = None
) -> tuple[float, int, dict[str, float]]:
    """Requests per second, errors, and CPU milliseconds per request by process group."""
    before = (cpu_ticks(server_pid), _children_cpu()) if server_pid else None
    results = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=_load, args=(port, method, path, body, seconds, results)) for _ in range(clients)
    ]
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    totals = [results.get() for _ in procs]
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - started
    done = sum(t[0] for t in totals)
    cpu = {}
    if before is not None:
        used = cpu_between(before[0], cpu_ticks(server_pid), _children_cpu() - before[1])
        cpu = {group: used[group] * 1000 / max(done, 1) for group in CPU_GROUPS}
    return done / elapsed, sum(t[1] for t in totals), cpu


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(port: int) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per endpoint and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    fixture = prepare()
    counts = query_counts(fixture)
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "bench.bench_api:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--worker-class",
            "gthread",
            "--threads",
            "2",
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
    )
    try:
        _wait(port)
        key = fixture["key"]
        status_body = urlencode({"key": key, "action": "status", "orders": ",".join(map(str, fixture["ids"]))}).encode()
        add_body = urlencode(
            {"key": key, "action": "add", "service": fixture["service"], "link": "https://x.com/b", "quantity": 10}
        ).encode()
        # Warm every worker's connections and caches first.
        measure(port, "POST", "/api/v2", status_body, 1.0, args.clients)
        runs = {
            "bare view": ("GET", "/bare", b""),
            "status, 100 IDs": ("POST", "/api/v2", status_body),
            "add": ("POST", "/api/v2", add_body),
        }
        # Interleaved: every round runs each endpoint for a short while, starting with a different
        # one each round, so a change in the machine's load touches all of them alike; a ratio is
        # taken within its round (against that round's bare view), then the median over rounds.
        names = list(runs)
        rounds: list[dict[str, tuple[float, int, dict[str, float]]]] = []
        for number in range(args.rounds):
            order = names[number % len(names) :] + names[: number % len(names)]
            rounds.append({name: measure(port, *runs[name], args.seconds, args.clients, server.pid) for name in order})
    finally:
        server.terminate()
        server.wait(10)
    report(rounds, names, args, counts)


def _spread(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def report(rounds: list[dict], names: list[str], args, counts: dict[str, int]) -> None:
    print(
        f"API v2 on gunicorn ({args.workers} gthread workers), {args.clients} keep-alive clients, "
        f"{args.rounds} interleaved rounds of {args.seconds:g} s per endpoint; median (min-max) over rounds"
    )
    print(f"{'endpoint':<18}{'req/s':>24}{'ratio to bare':>26}{'errors':>8}   CPU ms per request (median)")
    summary = {}
    for name in names:
        rps = _spread([r[name][0] for r in rounds])
        ratio = _spread([r[name][0] / r["bare view"][0] for r in rounds])
        errors = sum(r[name][1] for r in rounds)
        cpu = {group: statistics.median([r[name][2][group] for r in rounds]) for group in CPU_GROUPS}
        spent = ", ".join(f"{group} {cpu[group]:.2f}" for group in CPU_GROUPS)
        print(
            f"{name:<18}{rps[0]:>10.0f} ({rps[1]:.0f}-{rps[2]:.0f})"
            f"{ratio[0]:>12.2f} ({ratio[1]:.2f}-{ratio[2]:.2f}){errors:>8}   {spent} = {sum(cpu.values()):.2f}"
        )
        summary[name] = {"rps": rps, "ratio": ratio, "errors": errors, "cpu_ms": cpu}
    print("SQL queries per call: " + ", ".join(f"{name}: {count}" for name, count in counts.items()))
    print(json.dumps({"endpoints": summary, "queries": counts}, default=lambda v: round(v, 3)))


if __name__ == "__main__":
    main()
