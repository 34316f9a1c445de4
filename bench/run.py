"""`make bench`: every benchmark in turn, each in its own process, printing its figures.

Each benchmark uses its own PostgreSQL database (created and migrated when missing) so none
disturbs another or the test database. The scale benchmark's size comes from BENCH_ORDERS
(default 100,000, seeded in seconds; BENCH_ORDERS=10000000 is the full one, seeded once in a few
minutes and kept). BENCH_ONLY=scale (a word of a title) runs only the matching benchmarks.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    ("simulator throughput", ["bench_simulator.py"]),
    ("catalog sync", ["bench_sync.py"]),
    ("order polling", ["bench_poll.py"]),
    ("downstream API", ["bench_api.py"]),
    ("scale: pages at BENCH_ORDERS orders", ["bench_scale.py"]),
    ("child panels: onboarding and routing at BENCH_PANELS panels", ["bench_children.py"]),
]


def main() -> int:
    failed = []
    only = os.environ.get("BENCH_ONLY", "")
    for title, args in BENCHES:
        if only and only not in title:
            continue
        print(f"== {title}", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(HERE / args[0]), *args[1:]], cwd=HERE.parent)
        print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
        if result.returncode:
            failed.append(title)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
