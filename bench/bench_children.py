"""Many child panels on one install: onboarding, routing, beat, migrate and the database's size.

    python bench/bench_children.py
    BENCH_PANELS=300 BENCH_ONLY=child make bench

BENCH_PANELS child panels (default 20, so `make bench` stays short; 300 is the full run) named
bench_p0001, bench_p0002, ... are made with tenants.services.panel_create, a copy of the template
schema, in the database BENCH_CHILDREN_DATABASE_URL (default panel_bench_children, created and
migrated when missing). They are kept between runs: a run makes only the missing ones, and the
time each took is recorded in a table of its own (bench_children_made), so the onboarding figures
cover every panel ever made, first to last. Each run also makes and removes one more panel (the
probe) to time onboarding at the current count and to see what one empty child adds on disk.

Then, with CHILD_PANELS=true and the panel middleware, requests through Django's test client (no
network) on each of up to 20 sampled panels' host names and on the parent's: the login page and
the API's `balance` action with a customer key made in that panel. The first request of each
host comes after the registry's cache was made stale (it looks the host up); the later ones must
make no registry query. Then the beat fan-out (tenants.beat.PanelsScheduler sending one real
schedule entry to every active panel, through an in-memory broker), `migrate` with nothing to
apply over every schema, and the database's size. A table of the figures ends the run.

Wall times include waiting for a core on a busy machine; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import common

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PREFIX = "bench_p"
DOMAIN = "children-bench.test"
PROBE = "bench_extra"
SAMPLE = 20
CUSTOMER = "bench-customer"
REGISTRY_TABLES = ('"tenants_domain"', '"tenants_panel"')


def database_url() -> str:
    return os.environ.get("BENCH_CHILDREN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/panel_bench_children")


def bench_env() -> dict:
    return common.bench_env(
        database_url=database_url(),
        redis_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
        DJANGO_SETTINGS_MODULE="panel.settings",
        # Beat's fan-out is measured up to the broker: an in-memory one, so no worker runs a task.
        CHILD_PANELS="true",
    )


def ensure_database() -> None:
    """Create the database when missing and migrate it (the parent, every child, the template)."""
    common.database_ensure(database_url(), bench_env())


def spread(values: list[float]) -> dict[str, float]:
    """Median, 90th percentile and max (the 90th is the largest value below 10 samples)."""
    ordered = sorted(values)
    p90 = statistics.quantiles(ordered, n=10, method="inclusive")[8] if len(ordered) >= 10 else ordered[-1]
    return {"median": statistics.median(ordered), "p90": p90, "max": ordered[-1], "n": len(ordered)}


def fmt(s: dict[str, float], unit: str = "s", scale: float = 1.0) -> str:
    return (
        f"median {s['median'] * scale:.2f} {unit}, p90 {s['p90'] * scale:.2f} {unit}, "
        f"max {s['max'] * scale:.2f} {unit} (n={s['n']})"
    )


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def schema(number: int) -> str:
    return f"{PREFIX}{number:04d}"


def host(schema_name: str) -> str:
    return f"{schema_name.removeprefix('bench_')}.{DOMAIN}"


def create(schema_name: str):
    from tenants.services import panel_create

    return panel_create(
        name=f"Bench panel {schema_name.removeprefix(PREFIX)}",
        schema_name=schema_name,
        domain=host(schema_name),
        staff_username="bench-owner",
        staff_email=f"owner@{host(schema_name)}",
        staff_password=None,
    )


# --- Onboarding ----------------------------------------------------------------------------------


def onboard(count: int) -> dict:
    """Make the missing bench panels, recording each one's time; the figures cover all ever made."""
    from django.db import connection
    from django_tenants.utils import schema_exists

    from tenants.models import Panel
    from tenants.services import template_schema

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS public.bench_children_made (schema_name text PRIMARY KEY, "
            "seconds double precision NOT NULL, panels_before integer NOT NULL, "
            "built_template boolean NOT NULL, made_at timestamptz NOT NULL DEFAULT now())"
        )
    existing = set(
        Panel.objects.filter(schema_name__regex=rf"^{PREFIX}[0-9]{{4}}$").values_list("schema_name", flat=True)
    )
    missing = [schema(n) for n in range(1, count + 1) if schema(n) not in existing]
    print(f"onboarding: {len(existing)} bench panels kept, {len(missing)} to make", flush=True)
    started = time.monotonic()
    for made, name in enumerate(missing, 1):
        before = Panel.objects.count()
        built_template = not schema_exists(template_schema())
        created = create(name)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO public.bench_children_made (schema_name, seconds, panels_before, built_template) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (schema_name) DO UPDATE SET seconds = EXCLUDED.seconds",
                [name, created.seconds, before, built_template],
            )
        if made % 25 == 0 or made == len(missing):
            elapsed = time.monotonic() - started
            print(
                f"  made {made}/{len(missing)} in {elapsed:.0f} s "
                f"(last {created.seconds:.2f} s, load {load_average()})",
                flush=True,
            )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seconds, built_template FROM public.bench_children_made "
            "WHERE schema_name <= %s ORDER BY schema_name",
            [schema(count)],
        )
        rows = cursor.fetchall()
    times = [seconds for seconds, _ in rows]
    result = {"count": count, "made_now": len(missing), "first": times[0], "built_template": rows[0][1]}
    others = times[1:]
    if others:
        result["others"] = spread(others)
        result["first10"] = statistics.median(others[:10])
        result["last10"] = statistics.median(others[-10:])
    return result


def probe() -> dict:
    """Onboard one more panel at the current count, measure what it adds to the database, remove it."""
    from django.db import connection

    from tenants.models import Panel

    leftover = Panel.objects.filter(schema_name=PROBE).first()
    if leftover is not None:
        leftover.delete(force_drop=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        before = cursor.fetchone()[0]
    # A cursor of its own after: making a panel may close and reopen the connection.
    created = create(PROBE)
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        after = cursor.fetchone()[0]
        cursor.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'm')",
            [PROBE],
        )
        relations = cursor.fetchone()[0]
    connection.set_schema_to_public()
    Panel.objects.get(schema_name=PROBE).delete(force_drop=True)
    return {"seconds": created.seconds, "database_delta": after - before, "relations": relations}


# --- Routing -------------------------------------------------------------------------------------


def sampled(count: int) -> list[str]:
    """Up to SAMPLE bench panels spread evenly over 1..count (the first and the last included)."""
    if count <= SAMPLE:
        return [schema(n) for n in range(1, count + 1)]
    step = (count - 1) / (SAMPLE - 1)
    return [schema(round(1 + i * step)) for i in range(SAMPLE)]


def customer_key() -> str:
    """The bench customer of the current panel (made once, with funds), with a fresh API key."""
    from decimal import Decimal

    from accounts.ledger import ledger_credit
    from accounts.models import User
    from accounts.services import api_key_rotate

    user, made = User.objects.get_or_create(username=CUSTOMER, defaults={"email": "customer@example.com"})
    if made:
        ledger_credit(user_id=user.pk, amount=Decimal("25"), memo="bench funds", idempotency_key="bench:funds")
    return api_key_rotate(user=user)


def timed(client, method: str, path: str, host_name: str, data: dict | None) -> tuple[float, int, int, int]:
    """One request: (seconds, HTTP status, SQL queries, of which registry queries)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        if method == "GET":
            response = client.get(path, HTTP_HOST=host_name)
        else:
            response = client.post(path, data, HTTP_HOST=host_name)
        seconds = time.perf_counter() - started
    registry = sum(1 for q in queries.captured_queries if any(t in q["sql"] for t in REGISTRY_TABLES))
    # The test client leaves the connection in the request's schema; the next step starts from the parent's.
    connection.set_schema_to_public()
    return seconds, response.status_code, len(queries.captured_queries), registry


def routing(count: int, runs: int) -> dict:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django_tenants.utils import schema_context

    from tenants.lookup import registry_changed

    # The API's rate limits stay on, raised out of the way of repeated requests with one key.
    settings.API_RATE_LIMITS = {"key": (10**9, 60), "ip": (10**9, 60)}
    targets = [("parent", "testserver")] + [(name, host(name)) for name in sampled(count)]
    keys = {}
    for name, _host in targets:
        with schema_context("public" if name == "parent" else name):
            keys[name] = customer_key()
    connection.set_schema_to_public()
    requests = {
        "login page": ("GET", "/accounts/login/", None),
        "API balance": ("POST", "/api/v2", {}),
    }
    client = Client()
    # Warm Django itself (URLconf, templates) on the parent, so no panel's first request pays for it.
    for method, path, _data in requests.values():
        timed(client, method, path, "testserver", {"key": keys["parent"], "action": "balance"})
    results = {}
    for label in requests:
        for side in ("parent", "children"):
            results[(label, side)] = {"first": [], "later": [], "queries": set(), "registry_later": 0, "status": set()}
    for label, (method, path, _data) in requests.items():
        # Every host's first request of each kind finds the registry's cache stale and looks it up.
        registry_changed()
        for name, host_name in targets:
            side = "parent" if name == "parent" else "children"
            data = {"key": keys[name], "action": "balance"}
            r = results[(label, side)]
            seconds, status, queries, registry = timed(client, method, path, host_name, data)
            r["first"].append((seconds, queries, registry))
            r["status"].add(status)
            # The parent is one host: as many later requests as all sampled children together.
            for _ in range(runs * (len(targets) - 1) if name == "parent" else runs):
                seconds, status, queries, registry = timed(client, method, path, host_name, data)
                r["later"].append(seconds)
                r["queries"].add(queries)
                r["registry_later"] += registry
                r["status"].add(status)
    return {"sampled": len(targets) - 1, "results": results}


# --- Beat ----------------------------------------------------------------------------------------


def beat(runs: int) -> dict:
    from celery.signals import after_task_publish
    from django_celery_beat.models import PeriodicTask
    from django_celery_beat.schedulers import ModelEntry

    from panel.celery import app
    from tenants.beat import PanelsScheduler
    from tenants.services import active_schemas

    listing = []
    for _ in range(runs):
        started = time.perf_counter()
        schemas = active_schemas()
        listing.append(time.perf_counter() - started)
    task = PeriodicTask.objects.filter(enabled=True).exclude(task="").order_by("name").first()
    if task is None:
        raise RuntimeError("the parent's beat schedule is empty: was the database migrated?")
    entry = ModelEntry(task, app=app)
    # lazy: no schedule is loaded or synced from the database; only apply_entry is measured.
    scheduler = PanelsScheduler(app=app, lazy=True)
    scheduler._last_sync = time.monotonic()
    sent: list[str] = []

    def record(sender=None, headers=None, **kwargs):
        sent.append((headers or {}).get("_schema_name", ""))

    after_task_publish.connect(record, weak=False)
    fanouts = []
    try:
        with app.producer_or_acquire() as producer:
            for _ in range(runs):
                sent.clear()
                started = time.perf_counter()
                scheduler.apply_entry(entry, producer=producer)
                fanouts.append(time.perf_counter() - started)
    finally:
        after_task_publish.disconnect(record)
    return {
        "schemas": len(schemas),
        "listing": spread(listing),
        "task": task.task,
        "fanout": spread(fanouts),
        "sent": len(sent),
        "distinct": len(set(sent)),
        "all_panels": set(sent) == set(schemas),
    }


# --- Migrate and size ----------------------------------------------------------------------------


def migrate_nothing() -> dict:
    from django.core.management import call_command
    from django.db import connection

    from tenants.models import Panel

    schemas = Panel.objects.count() + 2  # every child, the parent, the template
    started = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    seconds = time.monotonic() - started
    connection.set_schema_to_public()
    return {"seconds": seconds, "schemas": schemas}


def database_size() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%%' AND nspname <> 'information_schema'"
        )
        schemas = cursor.fetchone()[0]
        tables = {}
        for name in ("public", schema(1)):
            cursor.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'p')",
                [name],
            )
            tables[name] = cursor.fetchone()[0]
        cursor.execute("SELECT pg_database_size(current_database())")
        total = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pg_class")
        catalog = cursor.fetchone()[0]
    return {"schemas": schemas, "tables": tables, "total": total, "pg_class": catalog}


# --- Main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--panels", type=int, default=int(os.environ.get("BENCH_PANELS", "20")))
    parser.add_argument("--runs", type=int, default=5, help="later requests per host; beat fan-outs")
    args = parser.parse_args()
    if args.panels < 1:
        parser.error("BENCH_PANELS must be at least 1")
    os.environ.update(bench_env())
    started = time.monotonic()
    ensure_database()

    import django

    django.setup()
    from django.conf import settings

    # No collectstatic here: static names are served as they are.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    print(f"database {database_url().rsplit('/', 1)[1]}, {args.panels} panels, load {load_average()}", flush=True)

    made = onboard(args.panels)
    first = made["first"]
    template = " (built the template)" if made["built_template"] else ""
    print(f"  first panel {first:.2f} s{template}", flush=True)
    if "others" in made:
        print(f"  the others: {fmt(made['others'])}", flush=True)
        print(f"  as the count grows: first 10 {made['first10']:.2f} s, last 10 {made['last10']:.2f} s", flush=True)

    probed = probe()
    print(
        f"  one more at {args.panels} panels: {probed['seconds']:.2f} s; "
        f"adds {probed['database_delta'] / 2**20:.1f} MiB to the database "
        f"({probed['relations'] / 2**20:.1f} MiB of its own tables and indexes)",
        flush=True,
    )

    routed = routing(args.panels, args.runs)
    print(f"routing ({routed['sampled']} sampled panels and the parent, {args.runs} later requests each)", flush=True)
    for (label, side), r in routed["results"].items():
        first_times = [seconds for seconds, _, _ in r["first"]]
        first_queries = statistics.median(q for _, q, _ in r["first"])
        first_registry = max(reg for _, _, reg in r["first"])
        later = spread(r["later"])
        queries = "/".join(str(q) for q in sorted(r["queries"]))
        print(
            f"  {label:11} {side:8}  first {statistics.median(first_times) * 1000:6.1f} ms "
            f"({first_queries:.0f} queries, {first_registry} registry)   "
            f"later median {later['median'] * 1000:6.1f} ms p90 {later['p90'] * 1000:6.1f} ms "
            f"({queries} queries, {r['registry_later']} registry)   HTTP {'/'.join(map(str, sorted(r['status'])))}",
            flush=True,
        )

    beaten = beat(args.runs)
    print(
        f"beat: active_schemas() {fmt(beaten['listing'], 'ms', 1000)} for {beaten['schemas']} schemas; "
        f"one entry ({beaten['task']}) sent {beaten['sent']} times to {beaten['distinct']} panels "
        f"({'every active panel once' if beaten['all_panels'] else 'NOT every panel'}) "
        f"in {fmt(beaten['fanout'], 'ms', 1000)}",
        flush=True,
    )

    migrated = migrate_nothing()
    print(
        f"migrate, nothing to apply: {migrated['seconds']:.1f} s over {migrated['schemas']} schemas "
        f"({migrated['seconds'] / migrated['schemas']:.2f} s per schema)",
        flush=True,
    )
    size = database_size()
    print(
        f"database: {size['schemas']} schemas, {size['tables']['public']} tables in public, "
        f"{size['tables'][schema(1)]} in each child, {size['total'] / 2**20:.0f} MiB, "
        f"{size['pg_class']} catalog relations",
        flush=True,
    )

    rows = [
        ("child panels", f"{args.panels}"),
        ("onboarding, first", f"{first:.2f} s{template}"),
    ]
    if "others" in made:
        others = made["others"]
        rows += [
            (
                "onboarding, the others",
                f"median {others['median']:.2f} s, p90 {others['p90']:.2f} s, max {others['max']:.2f} s",
            ),
            ("onboarding, first 10 / last 10", f"{made['first10']:.2f} s / {made['last10']:.2f} s"),
        ]
    rows.append((f"onboarding, one more at {args.panels}", f"{probed['seconds']:.2f} s"))
    for (label, side), r in routed["results"].items():
        later = spread(r["later"])
        queries = "/".join(str(q) for q in sorted(r["queries"]))
        first_registry = max(reg for _, _, reg in r["first"])
        rows.append(
            (
                f"{label}, {side}",
                f"{later['median'] * 1000:.1f} ms (p90 {later['p90'] * 1000:.1f}), {queries} queries; "
                f"first request +{first_registry} registry, later {r['registry_later']}",
            )
        )
    rows += [
        ("active_schemas()", f"{beaten['listing']['median'] * 1000:.2f} ms"),
        (
            "beat: one entry to every panel",
            f"{beaten['fanout']['median'] * 1000:.1f} ms for {beaten['sent']} messages "
            f"({beaten['fanout']['median'] / max(beaten['sent'], 1) * 1e6:.0f} µs each)",
        ),
        (
            "migrate, nothing to apply",
            f"{migrated['seconds']:.1f} s "
            f"({migrated['seconds'] / migrated['schemas']:.2f} s x {migrated['schemas']} schemas)",
        ),
        (
            "database",
            f"{size['total'] / 2**20:.0f} MiB, {size['schemas']} schemas x {size['tables'][schema(1)]} tables",
        ),
        (
            "one empty child adds",
            f"{probed['database_delta'] / 2**20:.1f} MiB ({probed['relations'] / 2**20:.1f} MiB its own relations)",
        ),
        ("run", f"{time.monotonic() - started:.0f} s, load average {load_average()}"),
    ]
    width = max(len(name) for name, _ in rows)
    print("figures")
    for name, value in rows:
        print(f"  {name:{width}}  {value}")
    beat_ok = beaten["all_panels"] and beaten["sent"] == beaten["schemas"]
    routed_ok = all(r["registry_later"] == 0 and r["status"] == {200} for r in routed["results"].values())
    return 0 if beat_ok and routed_ok else 1


if __name__ == "__main__":
    sys.exit(main())
