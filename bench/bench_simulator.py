"""How many `status` calls of 100 order IDs per second the simulator answers.

The simulator runs in its own process (`python -m simulator`), as it would for the
demo; this process drives it with ApiV2Client from two threads, so the figure includes the
client's own cost, as a poller would see it.

    python bench/bench_simulator.py [--orders 10000] [--seconds 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from upstream.client import ApiV2Client  # noqa: E402


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux only)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_simulator() -> tuple[subprocess.Popen, str, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", "--balance", "100000000", "--speed", "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    match = re.search(r"(http://\S+/api/v2) key=(\S+)", line)
    if not match:
        process.kill()
        raise SystemExit(f"simulator did not start: {line!r}")
    return process, match.group(1), match.group(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    process, url, key = start_simulator()
    try:
        client = ApiV2Client(url, key, pool_size=max(args.threads, 4))
        service = next(s for s in client.services() if s.type == "Default" and not s.dripfeed)

        def place(n: int) -> str:
            return client.add(service=service.service, link=f"https://example.com/p/{n}", quantity=service.min)

        started = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            order_ids = list(pool.map(place, range(args.orders)))
        add_seconds = time.perf_counter() - started
        print(f"created {len(order_ids)} orders in {add_seconds:.1f} s ({len(order_ids) / add_seconds:.0f} adds/s)")

        latencies: list[float] = []
        lock = threading.Lock()
        deadline = time.perf_counter() + args.seconds

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            mine = []
            while time.perf_counter() < deadline:
                ids = rng.sample(order_ids, 100)
                t0 = time.perf_counter()
                answer = client.statuses(ids)
                mine.append(time.perf_counter() - t0)
                assert len(answer) == 100
            with lock:
                latencies.extend(mine)

        cpu_before = cpu_seconds(process.pid)
        started = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        cpu_after = cpu_seconds(process.pid)

        latencies.sort()
        p50 = statistics.median(latencies) * 1000
        p95 = latencies[int(len(latencies) * 0.95)] * 1000
        print(
            f"simulator: {len(latencies) / elapsed:.0f} status calls/s (100 IDs each), "
            f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, {args.threads} client threads, {elapsed:.1f} s"
        )
        if cpu_before is not None and cpu_after is not None:
            per_call = (cpu_after - cpu_before) / len(latencies) * 1000
            print(f"simulator process CPU: {per_call:.2f} ms per call (the rest of each call is the client's)")
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
