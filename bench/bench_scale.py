"""Scale benchmark: every backoffice page at N orders, every dashboard page of the customer holding
a tenth of them, each with its time (median and spread of several runs) and its query count.

    python bench/bench_scale.py [--orders 10000000] [--runs 5]
    BENCH_ORDERS=10000000 make bench

The database is seeded once by bench/seed_scale.py (by SQL, kept between runs, ANALYZEd); the
default size is small (100,000 orders) so `make bench` stays short. Pages are requested through
Django's test client in this process against that database (no network, no browser): the figure
is the server's time to build the page, which is what grows with the table. The first request of
each page is a warm-up and not counted; the query count and the time PostgreSQL took for them
come from one extra request. "Django CPU" is this process's CPU time per request (median): on a
busy shared machine it moves far less than the wall time, which includes waiting for a core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import seed_scale  # noqa: E402

BACKOFFICE_MS = 300
DASHBOARD_MS = 150


def pages(orders: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    from django.conf import settings
    from django.utils import timezone

    from accounts.models import User
    from orders.models import Order
    from upstream.models import Provider

    admin = "/" + settings.ADMIN_URL
    whale = User.objects.get(username="whale")
    provider = Provider.objects.order_by("id").first()
    # An order in the middle of the table, and a part of its link (the md5 in the middle).
    middle = Order.objects.filter(pk__gte=orders // 2).order_by("pk").values("pk", "link").first()
    part = middle["link"].split("/p/")[1][8:20]
    customer = User.objects.filter(username__startswith="customer").order_by("id").values_list("username", flat=True)[5]
    today = timezone.localdate()
    month = f"start={today - timedelta(days=29)}&end={today}"  # the reports' default period
    year = f"start={today - timedelta(days=364)}&end={today}"
    backoffice = [
        ("home", admin),
        ("orders, unfiltered", f"{admin}orders/order/"),
        ("orders, page 3", f"{admin}orders/order/?p=2"),
        ("orders by status", f"{admin}orders/order/?status__exact=Partial"),
        ("orders by provider", f"{admin}orders/order/?provider__id__exact={provider.pk}"),
        ("orders by customer", f"{admin}orders/order/?customer={customer}"),
        ("orders, search by link", f"{admin}orders/order/?q={part}"),
        ("orders, search by ID", f"{admin}orders/order/?q={middle['pk']}"),
        ("order page", f"{admin}orders/order/{middle['pk']}/change/"),
        ("customer page (the whale)", f"{admin}accounts/user/{whale.pk}/change/"),
        ("customers list", f"{admin}accounts/user/"),
        ("report, 30 days by day", f"{admin}backoffice/reports/?{month}&by=day"),
        ("report, year by day", f"{admin}backoffice/reports/?{year}&by=day"),
        ("report, year by provider", f"{admin}backoffice/reports/?{year}&by=provider"),
        ("report, year by service", f"{admin}backoffice/reports/?{year}&by=service"),
        ("report, 30 days by provider", f"{admin}backoffice/reports/?{month}&by=provider"),
        ("report, 30 days by customer", f"{admin}backoffice/reports/?{month}&by=customer"),
        ("report, year by customer", f"{admin}backoffice/reports/?{year}&by=customer"),
        ("report CSV, year by day", f"{admin}backoffice/reports.csv?{year}&by=day"),
    ]
    whale_order = Order.objects.filter(user=whale).order_by("-id").values_list("pk", flat=True)[5]
    # Part of a link of one of the whale's older orders (the md5 in the middle, as above).
    whale_link = Order.objects.filter(user=whale).order_by("id").values_list("link", flat=True)[1000]
    whale_part = whale_link.split("/p/")[1][8:20] if "/p/" in whale_link else whale_link[-12:]
    dashboard = [
        ("home", "/"),
        ("new order", "/order/"),
        ("orders", "/orders/"),
        ("orders, page 3", "/orders/?page=3"),
        ("orders, Partial", "/orders/?status=Partial"),
        ("orders, search by ID", f"/orders/?q={whale_order}"),
        ("orders, search by link", f"/orders/?q={whale_part}"),
        ("order", f"/orders/{whale_order}/"),
        ("refills", "/refills/"),
        ("funds", "/funds/"),
        ("account", "/account/"),
        ("services", "/services/"),
        ("tickets", "/tickets/"),
    ]
    return backoffice, dashboard


def measure(client, url: str, runs: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)
    status = response.status_code
    times, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return {
        "status": status,
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "queries": len(queries.captured_queries),
        "cpu": statistics.median(cpu),
        "sql": sum(float(query["time"]) for query in queries.captured_queries) * 1000,
    }


def run_pages(title: str, client, pages_: list[tuple[str, str]], runs: int, limit: int, only: str) -> bool:
    """Measure and print each page as it goes; False if any is over the target or not 200."""
    print(f"{title} (target < {limit} ms)", flush=True)
    ok = True
    for name, url in pages_:
        if only not in name:
            continue
        r = measure(client, url, runs)
        over = r["median"] >= limit or r["status"] != 200
        ok = ok and not over
        print(
            f"  {name:28} {r['median']:8.1f} ms  (min {r['min']:.1f}, max {r['max']:.1f})  "
            f"{r['queries']:3d} queries  SQL {r['sql']:6.1f} ms  Django CPU {r['cpu']:6.1f} ms  HTTP {r['status']}"
            + ("  [OVER]" if over else ""),
            flush=True,
        )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=int(os.environ.get("BENCH_ORDERS", "100000")))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="", help="only pages whose name contains this")
    parser.add_argument("--part", choices=["all", "backoffice", "dashboard"], default="all")
    args = parser.parse_args()
    os.environ.update(seed_scale.bench_env(args.orders))
    os.environ["DJANGO_SETTINGS_MODULE"] = "panel.settings"
    seed_scale.ensure_database(args.orders)
    seed_scale.seed(args.orders)

    from django.conf import settings
    from django.test import Client

    # No collectstatic here: static names are served as they are.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    from accounts.models import User

    backoffice, dashboard = pages(args.orders)
    staff = Client()
    staff.force_login(User.objects.get(username="bench-staff"))
    customer = Client()
    customer.force_login(User.objects.get(username="whale"))
    whale_orders = args.orders // 10
    ok = True
    if args.part != "dashboard":
        title = f"backoffice at {args.orders:,} orders"
        ok = run_pages(title, staff, backoffice, args.runs, BACKOFFICE_MS, args.only)
    if args.part != "backoffice":
        title = f"dashboard of a customer with {whale_orders:,} orders"
        ok = run_pages(title, customer, dashboard, args.runs, DASHBOARD_MS, args.only) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
