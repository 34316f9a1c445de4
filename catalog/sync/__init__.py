"""Sync: bring our catalog in line with each provider's `services` list, in one set-based pass.

1. Fetch the list (outside any transaction; a slow provider holds no locks).
2. In one short transaction, under the provider's row lock (so two runs for one provider take
   turns and the second finds nothing left to do):
   - upsert every changed or new UpstreamService (bulk, ON CONFLICT on provider + upstream ID)
     and mark the ones no longer listed `present=False`;
   - for our services of this provider: follow cost, min, max and flags; disable and flag a
     service whose upstream vanished or changed type; recompute every rate from the rules,
     never below cost unless a loss-leader;
   - auto-import new upstream services when the provider's ProviderImport says so;
   - write the change log (ServiceChange) and the SyncRun.

Queries: a constant number, plus one per batch of 1,000 rows written; never one per
service. Nothing is ever deleted: orders keep pointing at the services they bought.

Modules: `listing` (fetch and normalise the list, raw digests), `apply` (the write pass: diff,
follow, auto-import, change log), `run` (one provider, or all, with the run record and lock).
"""

from .apply import (
    COMPARED_FIELDS,
    SERVICE_SYNC_FIELDS,
    UPSTREAM_FIELDS,
    SyncPass,
    SyncRefused,
    service_for_upstream,
)
from .listing import KNOWN_TYPES, MAX_RATE, MAX_UNITS, fetch, known_type, normalize, normalize_all
from .run import _lock_key as _lock_key  # the tests clear the lock by its key
from .run import sync_all, sync_provider, sync_provider_unless_running

__all__ = [
    "COMPARED_FIELDS",
    "KNOWN_TYPES",
    "MAX_RATE",
    "MAX_UNITS",
    "SERVICE_SYNC_FIELDS",
    "UPSTREAM_FIELDS",
    "SyncPass",
    "SyncRefused",
    "fetch",
    "known_type",
    "normalize",
    "normalize_all",
    "service_for_upstream",
    "sync_all",
    "sync_provider",
    "sync_provider_unless_running",
]
