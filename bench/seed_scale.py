"""Seed the scale benchmark's database by SQL: N orders over N/100 customers, one with N/10.

    python bench/seed_scale.py [--orders 10000000]

The database (BENCH_SCALE_DATABASE_URL, default panel_bench_scale_<size>; the 10,000,000-order
one is panel_bench_scale) is created and migrated when missing and kept between runs: a seeded
database of the same size is only migrated, never seeded again. Orders are written by one
INSERT ... SELECT over generate_series with the table's secondary indexes dropped and rebuilt
afterwards (a sort per index instead of 10 million random inserts per index) and foreign-key
triggers off for the seeding session only; then the daily roll-ups are rebuilt and everything
is ANALYZEd.

The data: 5 providers, 200 services, 100 customers per 10,000 orders (one "whale" holding a tenth
of all orders), orders spread over the last two years in ID order (as placed), the newest 1 %
active (sent, due for a poll) and the rest final: 85 % Completed, 8 % Partial (half refunded),
7 % Canceled (refunded), links that are unique per order. Each customer has one deposit in the
ledger; the orders' charges have no ledger entries (page timings do not read them).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import common

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BIG = 10_000_000
PROVIDERS = 5
SERVICES = 200


def database_url(orders: int) -> str:
    default = "panel_bench_scale" if orders == BIG else f"panel_bench_scale_{orders}"
    return os.environ.get("BENCH_SCALE_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{default}")


def bench_env(orders: int) -> dict:
    return common.bench_env(
        database_url=database_url(orders),
        redis_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
    )


def ensure_database(orders: int) -> None:
    common.database_ensure(database_url(orders), bench_env(orders))


def seeded_size(cursor) -> int | None:
    cursor.execute("CREATE TABLE IF NOT EXISTS bench_seed (orders bigint NOT NULL, seeded_at timestamptz NOT NULL)")
    cursor.execute("SELECT orders FROM bench_seed")
    row = cursor.fetchone()
    return row[0] if row else None


def seed_catalog() -> tuple[list[int], list[int]]:
    """Providers and services through the ORM (the provider's key is encrypted by the model)."""
    from decimal import Decimal

    from catalog.models import Category, Service, UpstreamService
    from upstream.models import Provider

    providers = [
        Provider.objects.create(name=f"provider-{p}", api_url=f"http://127.0.0.1:9/p{p}/api/v2", api_key=f"key-{p}")
        for p in range(PROVIDERS)
    ]
    categories = [Category.objects.create(name=f"Category {c}", position=c) for c in range(10)]
    services = []
    for s in range(SERVICES):
        provider = providers[s % PROVIDERS]
        upstream = UpstreamService.objects.create(
            provider=provider,
            upstream_id=str(1000 + s),
            name=f"Upstream service {s}",
            type="Default",
            rate=Decimal("0.6"),
            min=10,
            max=100_000,
        )
        services.append(
            Service.objects.create(
                category=categories[s % len(categories)],
                upstream=upstream,
                name=f"Instagram followers #{s} (real, refill 30 days)",
                rate=Decimal("1"),
                min=10,
                max=100_000,
            )
        )
    return [s.pk for s in services], [s.upstream.provider_id for s in services]


def with_defaults(model, given: dict[str, str]) -> tuple[str, str, list]:
    """An INSERT's column list and values for `model`: the columns in `given` take its SQL
    expression, every other column the model's own default (a bound parameter), so a field added
    to the model later does not break the seed."""
    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(f'"{field.column}"')
        if field.name in given or field.column in given:
            values.append(given.get(field.name, given.get(field.column)))
            continue
        values.append("%s")
        default = field.get_default() if field.has_default() or not field.null else None
        params.append(field.get_db_prep_save(default, connection=connection_for(model)))
    return ", ".join(columns), ", ".join(values), params


def connection_for(model):
    from django.db import connections, router

    return connections[router.db_for_write(model)]


def seed(orders: int) -> None:
    import django

    django.setup()
    from django.db import connection

    with connection.cursor() as cursor:
        done = seeded_size(cursor)
        if done == orders:
            # Fresh statistics, as autovacuum keeps them on a live database: a migration may
            # have added an expression index since, whose statistics only ANALYZE gathers.
            cursor.execute("ANALYZE")
            print(f"seed: {orders:,} orders already there (kept between runs), analysed", flush=True)
            return
        if done is not None:
            raise SystemExit(f"seed: the database holds another size ({done:,}); drop it or choose its size")
    started = time.monotonic()
    customers = max(orders // 100, 10)
    service_ids, provider_of = seed_catalog()
    from django.contrib.auth.hashers import make_password

    from accounts.models import User

    staff_password = make_password("bench-staff")
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute("SET max_parallel_maintenance_workers = 2")
        columns, values, params = with_defaults(
            User,
            {
                "password": "%s",
                "is_superuser": "true",
                "username": "'bench-staff'",
                "is_staff": "true",
                "date_joined": "now() - interval '800 days'",
            },
        )
        cursor.execute(f"INSERT INTO accounts_user ({columns}) VALUES ({values})", [staff_password, *params])
        # Customer 1 is the whale (a tenth of all orders); usernames sort like their IDs.
        columns, values, params = with_defaults(
            User,
            {
                "password": "'!'",
                "username": "CASE WHEN g = 1 THEN 'whale' ELSE 'customer' || lpad(g::text, 7, '0') END",
                "date_joined": "now() - interval '800 days'",
                "email": "'c' || g || '@example.com'",
                "balance": "1000",
            },
        )
        cursor.execute(
            f"INSERT INTO accounts_user ({columns}) SELECT {values} FROM generate_series(1, %s) AS g",
            [*params, customers],
        )
        cursor.execute("SELECT min(id), max(id) FROM accounts_user WHERE NOT is_staff")
        first_customer, _ = cursor.fetchone()
        cursor.execute(
            """
            INSERT INTO accounts_ledgerentry (user_id, kind, amount, balance_after, memo, idempotency_key, created_at)
            SELECT id, 'deposit', 1000, 1000, 'Bench deposit', 'bench-deposit:' || id, date_joined
            FROM accounts_user WHERE NOT is_staff
            """
        )
        # Secondary indexes off while 10 million rows go in, rebuilt after (one sort each).
        cursor.execute(
            """
            SELECT indexname, indexdef FROM pg_indexes
            WHERE tablename = 'orders_order' AND indexname <> 'orders_order_pkey'
            """
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        # Foreign keys are checked by the ranges below, not by 40 million trigger calls.
        cursor.execute("SET session_replication_role = replica")
        active_from = orders - max(orders // 100, 1) + 1
        cursor.execute(
            """
            INSERT INTO orders_order (user_id, service_id, provider_id, upstream_service_id, source, link,
                quantity, runs, "interval", params, charge, cost_expected, cost_actual, refunded, status,
                start_count, remains, forward_state, upstream_order_id, upstream_error, attempts,
                needs_attention, attention_reason, next_check_at, last_checked_at, settled_at,
                completed_at, created_at, updated_at)
            SELECT
                CASE WHEN g %% 10 = 0 THEN %(first)s ELSE %(first)s + 1 + (g * 7919) %% (%(customers)s - 1) END,
                (%(services)s::bigint[])[1 + g %% %(nservices)s],
                (%(providers)s::bigint[])[1 + g %% %(nservices)s],
                (1000 + g %% %(nservices)s)::text,
                CASE WHEN g %% 3 = 0 THEN 'api' ELSE 'web' END,
                'https://www.instagram.com/p/' || md5(g::text) || '/',
                q, NULL, NULL, '{}'::jsonb,
                charge, round(charge * 0.6, 5), round(charge * 0.6, 5),
                CASE st WHEN 'Canceled' THEN charge WHEN 'Partial' THEN round(charge / 2, 5) ELSE 0 END,
                st, 100 + g %% 5000,
                CASE st WHEN 'Completed' THEN 0 WHEN 'Canceled' THEN q WHEN 'Partial' THEN q / 2 ELSE q END,
                'sent', (1000000 + g)::text, '', 1,
                g %% 100000 = 7, CASE WHEN g %% 100000 = 7 THEN 'Bench: needs a look' ELSE '' END,
                CASE WHEN st IN ('Pending', 'In progress') THEN now() - interval '1 minute' END,
                at + interval '5 minutes',
                CASE WHEN st IN ('Completed', 'Partial', 'Canceled') THEN at + interval '1 hour' END,
                CASE WHEN st IN ('Completed', 'Partial', 'Canceled') THEN at + interval '1 hour' END,
                at, at + interval '1 hour'
            FROM (
                SELECT g,
                    now() - interval '730 days' * (1 - g::float8 / %(orders)s) AS at,
                    (100 + g %% 1000)::bigint AS q,
                    ((1 + g %% 97)::numeric / 10)::numeric(18, 5) AS charge,
                    CASE
                        WHEN g >= %(active_from)s THEN CASE WHEN g %% 2 = 0 THEN 'In progress' ELSE 'Pending' END
                        WHEN g %% 100 < 85 THEN 'Completed'
                        WHEN g %% 100 < 93 THEN 'Partial'
                        ELSE 'Canceled'
                    END AS st
                FROM generate_series(1::bigint, %(orders)s::bigint) AS g
            ) AS s
            """,
            {
                "first": first_customer,
                "customers": customers,
                "services": service_ids,
                "providers": provider_of,
                "nservices": len(service_ids),
                "orders": orders,
                "active_from": active_from,
            },
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        print(f"seed: {orders:,} orders inserted in {time.monotonic() - started:.0f} s", flush=True)
        for _, definition in indexes:
            cursor.execute(definition)
        print(f"seed: indexes rebuilt at {time.monotonic() - started:.0f} s", flush=True)
        cursor.execute("INSERT INTO bench_seed (orders, seeded_at) VALUES (%s, now())", [orders])
    rebuild_rollups()
    with connection.cursor() as cursor:
        # Vacuumed so that reads of the orders and the customers' running totals per month are
        # index-only (visibility map set), as autovacuum would leave them on a live database.
        cursor.execute("VACUUM (ANALYZE) orders_order")
        cursor.execute("VACUUM (ANALYZE) orders_ordercustomermonth")
        cursor.execute("ANALYZE")
    print(f"seed: {orders:,} orders over {customers:,} customers in {time.monotonic() - started:.0f} s", flush=True)


def rebuild_rollups() -> None:
    try:
        from orders.rollups import rollup_rebuild
    except ImportError:
        return
    started = time.monotonic()
    rollup_rebuild()
    print(f"seed: daily roll-ups rebuilt in {time.monotonic() - started:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=int(os.environ.get("BENCH_ORDERS", "100000")))
    args = parser.parse_args()
    os.environ.update(bench_env(args.orders))
    os.environ["DJANGO_SETTINGS_MODULE"] = "panel.settings"
    ensure_database(args.orders)
    seed(args.orders)


if __name__ == "__main__":
    main()
