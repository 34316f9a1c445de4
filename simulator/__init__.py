"""A complete API v2 provider in memory, for tests, the demo and benchmarks.

Standard library only (upstream.lines and upstream.names are too). The state lives in
`Simulator` (thread-safe, no I/O); `make_server` puts it behind a keep-alive HTTP/1.1 server.
Run it with `python manage.py simulate_upstream` or, without Django, `python -m simulator`.

How it behaves, where the protocol leaves a choice:

- Orders move Pending (~2 s) -> In progress (~10 s) -> final, divided by `speed`. Each order's
  timeline and outcome (80% Completed, 12% Partial, 8% Canceled) are drawn once at creation
  from a generator seeded by (seed, order ID), and its state is computed from the clock when
  asked, so a status costs O(1) and no background thread runs.
- Prices: rate per 1,000 (`charge = rate x quantity / 1000`), except Package and Custom
  Comments Package whose rate is the price of one package. Subscriptions cost
  `rate x max / 1000` per post for `posts` posts (1 when not given).
- Drip-feed: `quantity` is per run and min/max apply to each run; the order's total is
  quantity x runs and the charge covers all runs.
- Comment and list types: the quantity is the number of lines as upstream.lines.split_lines
  counts them (the panel's one definition of a line); a list it cannot split (a control
  character) is refused with {"error": ...}, as a provider would refuse it.
- Types are matched ignoring case, white space, `_` and `-` (upstream.names.name_key), so a
  service added as "custom_comments" is served under that spelling and sells like "Custom
  Comments".
- Balance: the charge is taken at creation. A Canceled order gives it all back, a Partial one
  gives back charge x remains / quantity, both at the moment the order turns final; the
  `charge` in its status is what was kept.
- Refills: for Completed orders of refill services; Pending (~2 s) -> In progress (~5 s) ->
  Completed. Cancels: for non-final orders of cancel services; the order turns Canceled at once
  and is refunded in full.
- `idempotency_key` (form field, or the Idempotency-Key header): the same key answers the same
  order and creates nothing.
- Money goes out as strings with five decimals.

Faults apply to /api/v2 only and are drawn from a generator seeded by `seed`: latency_ms plus
0..jitter_ms of delay; then at most one of timeout_rate (hold without answering for 60 s or
until shutdown), http_500_rate, html_rate (an HTML page with status 200), error_rate
({"error": "Service temporarily unavailable"}) and, for `add` only, drop_after_accept_rate
(create the order, then close the connection without answering) and hang_after_accept_rate
(create the order, then never answer: the client times out); out_of_funds refuses adds.

Control endpoints (no key; they only listen where the simulator listens, loopback by default):
GET/POST /_sim/faults (POST merges keys), GET /_sim/stats, POST /_sim/reset (forgets orders,
refills, idempotency keys and counters and restores the balance; keeps catalog and faults),
POST /_sim/services ({"remove": [ids], "update": {id: {field: value}}, "add": [services]});
{"update": {id: {"disabled": true}}} switches a service off: unlisted, and `add` answers
{"error": "Service not found or inactive"}.

Tests can pass `clock=` (a callable returning monotonic seconds) to move time by hand.

Modules: `state` (Simulator: orders, balance, idempotency, the clock), `orders` (order and
refill timelines, status answers), `catalog` (service types and the generated catalogue),
`validation` (checking an `add`), `faults`, `server` (HTTP), `cli` (the command line).
No Django: the simulator runs on its own, and the client's tests use it without Django.
"""

from .catalog import TYPES, generate_catalog
from .cli import add_arguments, main, serve
from .faults import FAULT_DEFAULTS
from .server import SimulatorServer, base_url, make_server, start_in_thread
from .state import Simulator

__all__ = [
    "FAULT_DEFAULTS",
    "TYPES",
    "Simulator",
    "SimulatorServer",
    "add_arguments",
    "base_url",
    "generate_catalog",
    "main",
    "make_server",
    "serve",
    "start_in_thread",
]
