"""Per-key and per-IP rate limits for API v2, counted in Redis.

Fixed windows: one counter per (scope, who, window number), incremented (and given an expiry when
new) by one Lua script in a single round trip, before the request touches the database. The key's
counter is named by a hash of the key as sent, so it is counted before (and without) looking the
key up, and unknown keys still count against their IP. Without Redis (the no-services demo) the
Django cache counts instead.

Limits come from settings.API_RATE_LIMITS: {"key": (requests, seconds), "ip": (requests, seconds)}.
"""

import hashlib
import threading
import time

import redis
from django.conf import settings
from django.core.cache import cache

from panel.tenancy import scoped

DEFAULT_LIMITS = {"key": (1200, 60), "ip": (3000, 60)}
PREFIX = "panel:api:rl"

# INCR each counter, set its expiry when it is new; answers the counts. Atomic in Redis, so a
# counter can never be left without an expiry.
COUNT_SCRIPT = """
local counts = {}
for i, name in ipairs(KEYS) do
  local count = redis.call('INCR', name)
  if count == 1 then redis.call('EXPIRE', name, ARGV[i]) end
  counts[i] = count
end
return counts
"""

_client: redis.Redis | None = None
_script = None
_client_lock = threading.Lock()


def _redis() -> redis.Redis | None:
    global _client, _script
    url = getattr(settings, "REDIS_URL", None)
    if not url:
        return None
    if _client is None:
        with _client_lock:
            if _client is None:
                client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
                _script = client.register_script(COUNT_SCRIPT)
                _client = client
    return _client


def limits() -> dict[str, tuple[int, int]]:
    return {**DEFAULT_LIMITS, **(getattr(settings, "API_RATE_LIMITS", None) or {})}


def _counter_keys(raw_key: str | None, ip: str, now: float) -> list[tuple[str, int, int]]:
    keys = []
    current = limits()
    who = {"ip": ip or "-"}
    if raw_key:
        who["key"] = hashlib.sha256(raw_key.encode("utf-8", "replace")).hexdigest()[:32]
    for scope, name in who.items():
        allowed, window = current[scope]
        # Each panel counts its own requests (panel.tenancy: a child's names start t:<schema>:).
        keys.append((scoped(f"{PREFIX}:{scope}:{name}:{int(now // window)}"), allowed, window))
    return keys


def over_limit(*, raw_key: str | None, ip: str) -> int | None:
    """Count this request; returns the seconds to wait if a limit is exceeded, else None.

    If Redis cannot be reached the request is let through: rate limits protect the panel, they
    must not take the API down with them.
    """
    now = time.time()
    counters = _counter_keys(raw_key, ip, now)
    client = _redis()
    try:
        if client is not None:
            counts = _script(keys=[name for name, _, _ in counters], args=[window + 1 for _, _, window in counters])
        else:
            counts = []
            for name, _, window in counters:
                cache.add(name, 0, timeout=window + 1)
                try:
                    counts.append(cache.incr(name))
                except ValueError:
                    counts.append(1)
    except (redis.RedisError, OSError):
        return None
    for count, (_, allowed, window) in zip(counts, counters, strict=True):
        if count > allowed:
            return max(1, int(window - now % window))
    return None


def reset() -> None:
    """Forget every counter (tests)."""
    client = _redis()
    if client is not None:
        names = [*client.scan_iter(f"{PREFIX}:*", count=1000), *client.scan_iter(f"t:*:{PREFIX}:*", count=1000)]
        if names:
            client.delete(*names)
    else:
        cache.clear()
