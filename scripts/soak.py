"""`make soak`: load and chaos against a real stack on this machine, then check that nothing was
lost, doubled or left unexplained. Loopback only, bounded (about 5 minutes with the defaults).

The stack: gunicorn (3 processes), two Celery workers (queue `forward`; queues `poll,default`),
one beat, PostgreSQL (a fresh database `panel_soak` on the local cluster), a Redis of its own on
a spare port (so that restarting it disturbs nothing else) and the upstream simulator with faults
on (latency, errors, HTTP 500s, connections dropped after an order was accepted).

Load: a bounded threaded generator rather than locust. It needs no extra dependency (locust
brings gevent, whose monkey-patching we would rather keep away from this code), runs for a
fixed time with a fixed number of users, and records every request, so the percentiles are
exact. The mix: API status (single and multi-ID) 45 %, add 25 %, balance 8 %, services 2 %,
dashboard pages 20 %.

Chaos during the load: kill -9 the forward worker (its whole process group) and start it again;
restart Redis; make the simulator drop a third of connections after accepting an order.

Afterwards: wait for the queue to drain, run the sweeper with its clock moved past the sending
lease (what would happen five minutes later), then check_ledger, reconcile, the simulator's
order count against ours, and that every order is final or needs attention with a reason.
"""

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
WORK = ROOT / "var" / "soak"
WEB_PORT, SIM_PORT, REDIS_PORT = 18300, 18301, 16390
BASE = f"http://127.0.0.1:{WEB_PORT}"
SIM = f"http://127.0.0.1:{SIM_PORT}"
DB_NAME = "panel_soak"
PG = os.environ.get("SOAK_PG", "postgres://postgres@127.0.0.1:5432")
METRICS_TOKEN = secrets.token_urlsafe(32)
SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}
NORMAL_FAULTS = {
    "latency_ms": 30,
    "jitter_ms": 120,
    "error_rate": 0.01,
    "http_500_rate": 0.005,
    "drop_after_accept_rate": 0.01,
}


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Stack:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.procs: dict[str, subprocess.Popen] = {}
        self.argv: dict[str, list[str]] = {}
        self.held: set[str] = set()
        self.restarts: list[tuple[float, str, int]] = []
        self.lock = threading.Lock()
        self.supervising = False

    def supervise(self) -> None:
        """Restart any process that exits on its own, as `restart: unless-stopped` would."""
        self.supervising = True

        def loop() -> None:
            while self.supervising:
                with self.lock:
                    for name, proc in list(self.procs.items()):
                        if name not in self.held and proc.poll() is not None:
                            self.restarts.append((time.time(), name, proc.returncode))
                            log(f"{name} exited with {proc.returncode}; restarting it")
                            self._spawn(name, self.argv[name])
                time.sleep(1)

        threading.Thread(target=loop, daemon=True).start()

    def start(self, name: str, argv: list[str]) -> None:
        with self.lock:
            self.held.discard(name)
            self._spawn(name, argv)

    def _spawn(self, name: str, argv: list[str]) -> None:
        self.argv[name] = argv
        out = open(WORK / f"{name}.log", "ab")  # noqa: SIM115 - kept open for the process's life
        # A session of its own: kill -9 of the group takes a Celery worker's children too.
        self.procs[name] = subprocess.Popen(  # noqa: S603 - our own argv
            argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        with self.lock:
            self.held.add(name)
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> None:
        self.supervising = False
        for name in reversed(list(self.procs)):
            self.kill(name, signal.SIGTERM)

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(  # noqa: S603 - our own argv
            [PY, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300
        )
        if check and result.returncode != 0:
            raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def query(self, code: str):
        """Run Python inside Django; the code assigns `out`, printed as JSON."""
        program = "import json\n" + code + "\nprint('@@' + json.dumps(out, default=str))"
        result = self.manage("shell", "-c", program)
        line = [x for x in result.stdout.splitlines() if x.startswith("@@")][-1]
        return json.loads(line[2:])


def redis_argv() -> list[str]:
    return ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


def fresh_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up within {seconds} s")


# --- The load -------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: list[tuple[float, str, int, float]] = []  # (start, kind, status or -1, seconds)
        self.failures: list[str] = []  # what each request that got no answer failed with

    def add(self, start: float, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.rows.append((start, kind, status, seconds))

    def fail(self, start: float, kind: str, seconds: float, exc: Exception) -> None:
        with self.lock:
            self.rows.append((start, kind, -1, seconds))
            self.failures.append(f"{kind} at {start - self.rows[0][0]:.0f} s: {type(exc).__name__}: {exc}"[:300])


class User(threading.Thread):
    def __init__(self, n: int, customer: dict, services: list[dict], stop_at: float, rec: Recorder) -> None:
        super().__init__(daemon=True)
        self.n, self.customer, self.services, self.stop_at, self.rec = n, customer, services, stop_at, rec
        self.rand = random.Random(n)
        self.api = requests.Session()
        self.web = requests.Session()
        self.orders: list[str] = []
        self.placed = 0

    def call(self, kind: str, method: str, url: str, session: requests.Session, **kwargs) -> requests.Response | None:
        start = time.time()
        try:
            response = session.request(method, url, timeout=30, **kwargs)
        except requests.RequestException as exc:
            self.rec.fail(start, kind, time.time() - start, exc)
            return None
        self.rec.add(start, kind, response.status_code, time.time() - start)
        return response

    def login(self) -> None:
        self.web.get(f"{BASE}/accounts/login/", timeout=30)
        token = self.web.cookies.get("csrftoken", "")
        self.web.post(
            f"{BASE}/accounts/login/",
            data={
                "login": self.customer["username"],
                "password": self.customer["password"],
                "csrfmiddlewaretoken": token,
            },
            headers={"Referer": f"{BASE}/accounts/login/"},
            timeout=30,
        )

    def run(self) -> None:
        self.login()
        key = self.customer["key"]
        while time.monotonic() < self.stop_at:
            roll = self.rand.random()
            if roll < 0.45 and self.orders:
                ids = self.rand.sample(self.orders, min(len(self.orders), self.rand.choice([1, 1, 5, 20])))
                data = {"key": key, "action": "status"}
                data.update({"order": ids[0]} if len(ids) == 1 else {"orders": ",".join(ids)})
                self.call("api status", "POST", f"{BASE}/api/v2", self.api, data=data)
            elif roll < 0.70:
                service = self.rand.choice(self.services)
                self.placed += 1
                data = {
                    "key": key,
                    "action": "add",
                    "service": service["service"],
                    "link": f"https://example.com/soak/{self.n}/{self.placed}",
                    "quantity": service["min"],
                    "idempotency_key": f"soak-{self.n}-{self.placed}",
                }
                response = self.call("api add", "POST", f"{BASE}/api/v2", self.api, data=data)
                if response is not None and response.status_code == 200 and "order" in response.json():
                    self.orders.append(str(response.json()["order"]))
            elif roll < 0.78:
                self.call("api balance", "POST", f"{BASE}/api/v2", self.api, data={"key": key, "action": "balance"})
            elif roll < 0.80:
                self.call("api services", "POST", f"{BASE}/api/v2", self.api, data={"key": key, "action": "services"})
            else:
                page = self.rand.choice(["/", "/orders/", "/services/", "/funds/"])
                self.call("dashboard", "GET", f"{BASE}{page}", self.web)
            time.sleep(self.rand.uniform(0, 0.05))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- The run --------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=int(os.environ.get("SOAK_SECONDS", 150)))
    parser.add_argument("--users", type=int, default=int(os.environ.get("SOAK_USERS", 12)))
    parser.add_argument("--drain", type=int, default=150, help="seconds to wait for orders to finish")
    args = parser.parse_args()
    started = time.monotonic()

    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "metrics").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "SECURE_"))}
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEY="0cTBgyJy0vdR6OfmBGm0dn4gUjJ0zbpHdsDvM_L6Ikk=",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=f"{PG}/{DB_NAME}",
        REDIS_URL=f"redis://127.0.0.1:{REDIS_PORT}/0",
        # Loopback over plain http: no redirect to https, cookies without the Secure flag.
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        UPSTREAM_ALLOW_PRIVATE="true",  # the simulator is on loopback
        STAFF_REQUIRE_2FA="false",
        ORDER_POLL_MIN_SECONDS="2",
        CELERY_VISIBILITY_TIMEOUT="60",  # the killed worker's tasks come back within a minute
        API_RATE_LIMIT_PER_KEY="100000",
        API_RATE_LIMIT_PER_IP="100000",
        LOG_FORMAT="json",
        METRICS_TOKEN=METRICS_TOKEN,
        PANEL_VAR_DIR=str(WORK),
        PROMETHEUS_MULTIPROC_DIR=str(WORK / "metrics"),
        PATH=f"{Path(PY).parent}:{os.environ.get('PATH', '')}",
    )
    stack = Stack(env)
    rec = Recorder()
    chaos_log: list[tuple[float, str]] = []
    try:
        log("starting Redis, a fresh database, the simulator")
        stack.start("redis", redis_argv())
        fresh_database()
        stack.manage("migrate", "--noinput")
        stack.manage("collectstatic", "--noinput")
        stack.start(
            "simulator",
            [PY, "manage.py", "simulate_upstream", "--port", str(SIM_PORT), "--key", "demo-sim-key",
             "--speed", "20", "--seed", "3", "--balance", "1000000", "--services", "60"],
        )  # fmt: skip
        wait_for(f"{SIM}/_sim/stats", 30)
        requests.post(f"{SIM}/_sim/faults", json=NORMAL_FAULTS, timeout=5).raise_for_status()
        stack.manage("seed_demo", "--simulator-url", f"{SIM}/api/v2")
        stack.manage("seed_catalog", "Simulator", "--wait", "60")
        customers = []
        for n in range(args.users):
            password = secrets.token_urlsafe(12)
            result = stack.manage(
                # "--password=..." in one argument: a generated password may begin with "-".
                "create_customer", f"soak{n}", "--email", f"soak{n}@example.com", f"--password={password}",
                "--balance", "1000000",
            )  # fmt: skip
            customers.append({"username": f"soak{n}", "password": password, "key": result.stdout.split()[-1]})

        log("starting gunicorn, two workers and beat")
        stack.start(
            "web",
            [PY, "-m", "gunicorn", "panel.wsgi", "--bind", f"127.0.0.1:{WEB_PORT}", "--workers", "3",
             "--threads", "4", "--access-logfile", str(WORK / "access.log"),
             "--access-logformat", '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'],
        )  # fmt: skip
        worker_forward = [PY, "-m", "celery", "-A", "panel", "worker", "-Q", "forward", "-n", "forward@%h",
                          "--concurrency", "4", "--without-gossip", "--without-mingle",
                          "--loglevel", "INFO"]  # fmt: skip
        stack.start("worker-forward", worker_forward)
        stack.start(
            "worker-poll",
            [PY, "-m", "celery", "-A", "panel", "worker", "-Q", "poll,default", "-n", "poll@%h",
             "--concurrency", "2", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        )  # fmt: skip
        stack.start("beat", [PY, "-m", "celery", "-A", "panel", "beat", "--loglevel", "INFO",
                             "-s", str(WORK / "beat-schedule")])  # fmt: skip
        wait_for(f"{BASE}/healthz", 60)
        stack.supervise()
        catalog = requests.post(f"{BASE}/api/v2", data={"key": customers[0]["key"], "action": "services"}, timeout=30)
        services = [
            {"service": s["service"], "min": int(s["min"])}
            for s in catalog.json()
            if s["type"] == "Default" and int(s["min"]) <= 1000
        ][:20]
        if not services:
            raise SystemExit("no Default service to order from the catalog")

        log(f"load: {args.users} users for {args.duration} s, with chaos")
        t0 = time.time()
        stop_at = time.monotonic() + args.duration
        users = [User(n, customers[n], services, stop_at, rec) for n in range(args.users)]
        for user in users:
            user.start()

        def at(fraction: float) -> None:
            time.sleep(max(0.0, t0 + args.duration * fraction - time.time()))

        def event(text: str) -> None:
            chaos_log.append((time.time() - t0, text))
            log(text)

        at(0.2)
        event("kill -9 worker-forward (whole process group)")
        stack.kill("worker-forward", signal.SIGKILL)
        time.sleep(5)
        stack.start("worker-forward", worker_forward)
        event("worker-forward restarted")
        at(0.45)
        event("restart Redis")
        stack.kill("redis", signal.SIGTERM)
        stack.start("redis", redis_argv())
        event("Redis back")
        at(0.65)
        event("simulator drops 30 % of connections after accepting orders, for 15 s")
        requests.post(f"{SIM}/_sim/faults", json={"drop_after_accept_rate": 0.3}, timeout=5)
        time.sleep(15)
        requests.post(f"{SIM}/_sim/faults", json=NORMAL_FAULTS, timeout=5)
        event("simulator faults back to normal")
        for user in users:
            user.join()
        load_seconds = time.time() - t0

        log("drain: faults off, waiting for orders to finish")
        requests.post(f"{SIM}/_sim/faults", json={name: 0 for name in NORMAL_FAULTS}, timeout=5)
        open_orders_code = (
            "from orders.models import Order, ForwardState, ACTIVE_STATUSES\n"
            "out = {'queued': Order.objects.filter("
            "forward_state__in=[ForwardState.QUEUED, ForwardState.SENDING]).count()"
            # Unknown and not waiting for staff: being resent with the same idempotency key.
            " + Order.objects.filter(forward_state=ForwardState.UNKNOWN, needs_attention=False).count(),"
            " 'active': Order.objects.filter(forward_state=ForwardState.SENT, status__in=ACTIVE_STATUSES).count()}"
        )
        deadline = time.monotonic() + args.drain
        swept = False
        while time.monotonic() < deadline:
            state = stack.query(open_orders_code)
            if not state["queued"] and not state["active"]:
                break
            if not swept and time.monotonic() > deadline - args.drain + 20:
                # What the sweeper would do once the sending leases lapse (5 minutes on), when
                # the resends' backoff (up to 10 minutes) has passed too.
                stack.query(
                    "from datetime import timedelta\nfrom django.utils import timezone\n"
                    "from orders import maintenance, tasks\nfrom orders.models import Order, ForwardState\n"
                    "out = maintenance.sweep(enqueue_forward=tasks.forward_order.delay,"
                    " enqueue_refills=tasks.forward_refills.delay, enqueue_cancels=tasks.forward_cancels.delay,"
                    " now=timezone.now() + timedelta(minutes=6))\n"
                    "resending = Order.objects.filter(forward_state=ForwardState.UNKNOWN, needs_attention=False)\n"
                    "resending.update(next_attempt_at=timezone.now())\n"
                    "for order_id in resending.values_list('id', flat=True):\n"
                    "    tasks.forward_order.delay(order_id)"
                )
                swept = True
            time.sleep(3)

        log("checks")
        ledger = stack.manage("check_ledger", check=False)
        reconcile = stack.manage("reconcile", check=False)
        ours = stack.query(
            "from django.db.models import Count, Q\nfrom orders.models import Order, FINAL_STATUSES\n"
            "out = Order.objects.aggregate(total=Count('id'),"
            " sent=Count('id', filter=~Q(upstream_order_id='')),"
            " distinct_upstream=Count('upstream_order_id', distinct=True, filter=~Q(upstream_order_id='')),"
            " final=Count('id', filter=Q(status__in=FINAL_STATUSES)),"
            " attention=Count('id', filter=Q(needs_attention=True) & ~Q(status__in=FINAL_STATUSES)),"
            " attention_no_reason=Count('id', filter=Q(needs_attention=True, attention_reason='')),"
            " unexplained=Count('id', filter=~Q(status__in=FINAL_STATUSES) & Q(needs_attention=False)),"
            " unknown=Count('id', filter=Q(forward_state='unknown')))"
        )
        sim_stats = requests.get(f"{SIM}/_sim/stats", timeout=5).json()
        metrics_ok = requests.get(f"{BASE}/metrics", headers=SCRAPE, timeout=10).status_code == 200
        ready = requests.get(f"{BASE}/readyz", timeout=10)
    finally:
        stack.stop_all()

    rows = rec.rows
    latencies = [row[3] * 1000 for row in rows]
    fivexx = [row for row in rows if row[2] >= 500]
    failed = [row for row in rows if row[2] == -1]
    by_kind: dict[str, list[float]] = {}
    for _, kind, _, seconds in rows:
        by_kind.setdefault(kind, []).append(seconds * 1000)
    sim_orders = sim_stats["orders_created"]
    no_duplicates = (
        ours["sent"] == ours["distinct_upstream"] and ours["sent"] <= sim_orders <= ours["sent"] + ours["unknown"]
    )
    all_explained = ours["unexplained"] == 0 and ours["attention_no_reason"] == 0
    checks = {
        "check_ledger clean": ledger.returncode == 0,
        "reconcile clean": reconcile.returncode == 0,
        "no duplicate upstream orders": no_duplicates,
        "every order final or needs attention with a reason": all_explained,
        "no 5xx served (PostgreSQL stayed up)": not fivexx,
        "/metrics and /readyz answer": metrics_ok and ready.status_code == 200,
    }

    out = []
    out.append(f"Soak {time.strftime('%Y-%m-%d %H:%M')} UTC, {args.users} users, {load_seconds:.0f} s of load, "
               f"{time.monotonic() - started:.0f} s in all")  # fmt: skip
    out.append("")
    out.append("| requests | kind | req/s | p50 ms | p95 ms | p99 ms | 5xx | failed |")
    out.append("|---:|---|---:|---:|---:|---:|---:|---:|")
    for kind, values in sorted(by_kind.items()):
        n5 = sum(1 for row in fivexx if row[1] == kind)
        nf = sum(1 for row in failed if row[1] == kind)
        out.append(
            f"| {len(values)} | {kind} | {len(values) / load_seconds:.1f} | {statistics.median(values):.0f} | "
            f"{percentile(values, 0.95):.0f} | {percentile(values, 0.99):.0f} | {n5} | {nf} |"
        )
    out.append(
        f"| {len(rows)} | **all** | {len(rows) / load_seconds:.1f} | {statistics.median(latencies):.0f} | "
        f"{percentile(latencies, 0.95):.0f} | {percentile(latencies, 0.99):.0f} | {len(fivexx)} | {len(failed)} |"
    )
    out.append("")
    if rec.failures:
        out.extend(f"- no answer: {failure}" for failure in rec.failures)
        out.append("")
    out.append("| chaos at | event |")
    out.append("|---:|---|")
    out.extend(f"| {seconds:.0f} s | {text} |" for seconds, text in chaos_log)
    out.extend(
        f"| {when - t0:.0f} s | {name} exited on its own (code {code}); restarted by the supervisor |"
        for when, name, code in stack.restarts
    )
    out.append("")
    out.append("| figure | value |")
    out.append("|---|---:|")
    for name, value in [
        ("orders placed", ours["total"]),
        ("sent upstream (distinct upstream IDs)", f"{ours['sent']} ({ours['distinct_upstream']})"),
        ("orders the simulator created", sim_orders),
        ("final", ours["final"]),
        ("needs attention (not final), all with a reason", ours["attention"]),
        ("forwarding outcome unknown", ours["unknown"]),
        ("check_ledger", ledger.stdout.strip().splitlines()[-1] if ledger.stdout.strip() else ledger.returncode),
        ("reconcile", reconcile.stdout.strip().splitlines()[-1] if reconcile.stdout.strip() else reconcile.returncode),
    ]:
        out.append(f"| {name} | {value} |")
    out.append("")
    out.append("| check | result |")
    out.append("|---|---|")
    out.extend(f"| {name} | {'PASS' if ok else 'FAIL'} |" for name, ok in checks.items())
    text = "\n".join(out)
    print(text)
    (ROOT / "var" / "soak-summary.md").write_text(text + "\n")
    if fivexx:
        print("\n5xx responses (seconds into the load, kind, status):")
        for start, kind, status, _ in fivexx[:20]:
            print(f"  {start - t0:.1f} s {kind} {status}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
