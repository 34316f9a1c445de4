"""How long catalog sync takes for 10,000 upstream services, and how many queries it makes.

Runs against PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/panel_bench_sync;
the database is created and migrated when missing). The simulator runs in this process, on
loopback. Two syncs of a provider of its own: the first into an empty catalog with auto-import
on, the second after ~5% of the upstream services changed. Other rows in the database are left
alone (other benchmarks may share it), and what this one created is deleted at the end.

    python bench/bench_sync.py [--services 10000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/panel_bench_sync")
# Production-like: DEBUG off, so Django keeps no query log; queries are counted by a wrapper.
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
os.environ.setdefault("METRICS_ENABLED", "false")  # nothing scrapes /metrics here
os.environ.setdefault("ALLOWED_HOSTS", "localhost")
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "0cTBgyJy0vdR6OfmBGm0dn4gUjJ0zbpHdsDvM_L6Ikk=")
os.environ.setdefault("UPSTREAM_ALLOW_PRIVATE", "true")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--changed-percent", type=float, default=5.0)
    args = parser.parse_args()

    if not os.environ["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench_sync needs PostgreSQL: DATABASE_URL must be a postgres:// URL.")
    ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()

    import requests
    from django.core.management import call_command
    from django.db import connection

    from catalog.models import Category, ProviderImport, Service, ServiceChange
    from catalog.sync import sync_provider
    from simulator import start_in_thread
    from upstream.models import Provider

    call_command("migrate", verbosity=0)
    name = f"bench-sync-{os.getpid()}"
    prefix = f"[{name}] "

    server, sim, url = start_in_thread(services=args.services, seed=1)
    provider = Provider.objects.create(name=name, api_url=url, api_key=sim.key)
    try:
        ProviderImport.objects.create(provider=provider, auto_import=True, category_prefix=prefix)

        def timed_sync() -> tuple[float, float, int, object]:
            queries = []

            def count(execute, sql, params, many, context):
                queries.append(sql)
                return execute(sql, params, many, context)

            with connection.execute_wrapper(count):
                started, cpu_started = time.perf_counter(), time.process_time()
                run = sync_provider(provider_id=provider.pk)
                elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            if not run.ok:
                raise SystemExit(f"sync failed: {run.error}")
            return elapsed, cpu, len(queries), run

        first_time, first_cpu, first_queries, _ = timed_sync()
        services = Service.objects.filter(upstream__provider=provider).count()

        # ~5% changed: most change their rate, some min/max or flags, a few vanish or are new.
        count = max(1, int(args.services * args.changed_percent / 100))
        ids = list(range(1, args.services + 1))[:: max(1, args.services // count)][:count]
        rate_ids, range_ids, removed_ids = (
            ids[: count * 7 // 10],
            ids[count * 7 // 10 : count * 9 // 10],
            ids[count * 9 // 10 :],
        )
        update = {str(i): {"rate": "99.5"} for i in rate_ids}
        update.update({str(i): {"min": 7, "max": 777777, "refill": True} for i in range_ids})
        added = [
            {"name": f"New service {n}", "rate": "1.25", "min": 10, "max": 10000, "category": "New"}
            for n in range(len(removed_ids))
        ]
        control = url.removesuffix("/api/v2") + "/_sim/services"
        requests.post(
            control, json={"update": update, "remove": removed_ids, "add": added}, timeout=30
        ).raise_for_status()

        second_time, second_cpu, second_queries, second = timed_sync()
        changes = ServiceChange.objects.filter(sync_run=second).count()
        print(
            f"sync {args.services} services: first {first_time:.2f} s / {first_queries} queries, "
            f"changed {second_time:.2f} s / {second_queries} queries"
        )
        # CPU time of this process (the simulator thread included): what the machine's load
        # cannot inflate, unlike the wall-clock times above.
        print(
            f"  first: {services} services imported, {first_cpu:.2f} s CPU; changed: {count} upstream "
            f"services changed, {changes} change-log rows, {second_cpu:.2f} s CPU; load {os.getloadavg()[0]:.1f}"
        )
    finally:
        server.shutdown()
        ServiceChange.objects.filter(provider=provider).delete()
        Service.objects.filter(upstream__provider=provider).delete()
        Category.objects.filter(name__startswith=prefix).delete()
        provider.delete()


if __name__ == "__main__":
    main()
