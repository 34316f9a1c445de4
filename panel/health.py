"""Liveness, readiness and the heartbeats that readiness reads.

/healthz answers 200 as long as the process serves requests (for a load balancer or a container
restart policy). /readyz checks what the panel needs to do its work: the database, Redis, the
broker, a beat that ticked recently and a poll pass that ran recently; it answers 503 naming
what is down (for monitoring and alerting; a web process is still useful while beat is down,
so point load balancers at /healthz).

Heartbeats are timestamps in the cache (Redis, shared by every machine). Without Redis (the
no-services demo) they are files under PANEL_VAR_DIR, which all processes of one machine share.
"""

import time
from pathlib import Path
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django_celery_beat.schedulers import DatabaseScheduler

HEARTBEAT_PREFIX = "heartbeat:"


def _heartbeat_file(name: str) -> Path:
    folder = Path(settings.VAR_DIR) / "heartbeats"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def heartbeat(name: str) -> None:
    """Record that `name` (beat, poll) is alive now. Never raises: a heartbeat must not break
    the work it reports on."""
    now = time.time()
    try:
        if settings.REDIS_URL:
            cache.set(HEARTBEAT_PREFIX + name, now, timeout=24 * 3600)
        else:
            _heartbeat_file(name).write_text(str(now))
    except Exception:  # noqa: S110 - best effort by design
        pass


def heartbeat_age(name: str) -> float | None:
    """Seconds since the last heartbeat of `name`, or None if there never was one."""
    if settings.REDIS_URL:
        value = cache.get(HEARTBEAT_PREFIX + name)
    else:
        try:
            value = float(_heartbeat_file(name).read_text())
        except (OSError, ValueError):
            value = None
    return None if value is None else max(0.0, time.time() - float(value))


class HeartbeatScheduler(DatabaseScheduler):
    """django-celery-beat's scheduler, recording a heartbeat at most every 5 s while it ticks."""

    _last_beat = 0.0

    def tick(self, *args, **kwargs):
        now = time.monotonic()
        if now - self._last_beat >= 5:
            self._last_beat = now
            heartbeat("beat")
        return super().tick(*args, **kwargs)


# --- The views ------------------------------------------------------------------------------


@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return None


def _ping(url: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def _check_redis() -> str | None:
    if not settings.REDIS_URL:
        return None
    _ping(settings.REDIS_URL)
    return None


def _check_broker() -> str | None:
    url = settings.CELERY_BROKER_URL
    scheme = urlsplit(url).scheme
    if scheme in {"redis", "rediss"}:
        _ping(url)
    elif scheme == "filesystem":
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        if not folder.is_dir():
            return f"broker folder {folder} is missing"
    else:
        # The configured app (panel/celery.py) without importing it: it imports the metrics,
        # which read these heartbeats.
        from celery import current_app

        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    return None


def _check_age(name: str, limit: int) -> str | None:
    age = heartbeat_age(name)
    if age is None:
        return "no heartbeat yet"
    if age > limit:
        return f"last heartbeat {age:.0f} s ago (limit {limit} s)"
    return None


CHECKS = {
    "database": _check_database,
    "redis": _check_redis,
    "broker": _check_broker,
    "beat": lambda: _check_age("beat", settings.READY_BEAT_MAX_AGE),
    "poll": lambda: _check_age("poll", settings.READY_POLL_MAX_AGE),
}


@never_cache
def readyz(request):
    results = {}
    for name, check in CHECKS.items():
        try:
            problem = check()
        except Exception as exc:  # any failure is the answer
            problem = f"{type(exc).__name__}: {str(exc)[:200]}"
        results[name] = problem or "ok"
    down = {name: reason for name, reason in results.items() if reason != "ok"}
    ages = {}
    for name in ("beat", "poll"):
        try:
            age = heartbeat_age(name)
        except Exception:  # the cache being down is reported above
            age = None
        ages[name] = None if age is None else round(age, 1)
    payload = {"status": "down" if down else "ok", "checks": results, "ages": ages}
    return JsonResponse(payload, status=503 if down else 200)
