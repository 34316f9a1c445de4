"""The command line: `python -m simulator` and `manage.py simulate_upstream` share it."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .faults import FAULT_DEFAULTS
from .server import base_url, make_server
from .state import Simulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `manage.py simulate_upstream` and `python -m simulator`."""
    parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default loopback).")
    parser.add_argument("--port", type=int, default=8081, help="Port (0 picks a free one).")
    parser.add_argument("--key", default="sim-key", help="The API key clients must send.")
    parser.add_argument("--services", type=int, default=300, help="Number of services in the catalog.")
    parser.add_argument("--speed", type=float, default=1.0, help="Time factor for order progress.")
    parser.add_argument("--seed", type=int, default=0, help="Seed for the catalog, outcomes and faults.")
    parser.add_argument("--balance", type=Decimal, default=Decimal("10000"), help="Starting balance.")
    parser.add_argument("--currency", default="USD")
    parser.add_argument("--latency-ms", type=float, default=0, help="Delay added to every API request.")
    parser.add_argument("--jitter-ms", type=float, default=0, help="Random extra delay, 0..N ms.")
    parser.add_argument("--error-rate", type=float, default=0, help='Share of {"error": ...} answers.')
    parser.add_argument("--http-500-rate", type=float, default=0, help="Share of HTTP 500 answers.")
    parser.add_argument("--html-rate", type=float, default=0, help="Share of HTML pages with status 200.")
    parser.add_argument(
        "--drop-after-accept-rate", type=float, default=0, help="Share of adds that create the order, then hang up."
    )
    parser.add_argument("--timeout-rate", type=float, default=0, help="Share of requests never answered.")
    parser.add_argument(
        "--hang-after-accept-rate",
        type=float,
        default=0,
        help="Share of adds that create the order, then never answer (the client times out).",
    )
    parser.add_argument("--out-of-funds", action="store_true", help='Every add answers "Not enough funds".')


def serve(options: Mapping[str, Any], *, stdout: Any = None) -> None:
    """Run a simulator from parsed options until Ctrl-C or SIGTERM."""
    stdout = stdout or sys.stdout
    faults = {
        name: options[name] for name in FAULT_DEFAULTS if name in options and options[name] != FAULT_DEFAULTS[name]
    }
    sim = Simulator(
        key=options["key"],
        services=options["services"],
        speed=options["speed"],
        seed=options["seed"],
        balance=options["balance"],
        currency=options["currency"],
        faults=faults,
    )
    server = make_server(sim, options["host"], options["port"])
    stdout.write(f"Simulator: {base_url(server)} key={sim.key} services={sim.service_count} speed={sim.speed}\n")
    if faults:
        stdout.write(f"Faults: {json.dumps(faults)}\n")
    stdout.flush()

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # Both signals explicitly: a process started in the background inherits an ignored SIGINT.
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    stdout.write("Simulator stopped.\n")
    stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulator", description="An API v2 provider simulator.")
    add_arguments(parser)
    serve(vars(parser.parse_args(argv)))
