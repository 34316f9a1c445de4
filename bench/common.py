"""What the benchmarks that keep a database of their own share: their settings and that database.

Each runs the panel with production-like settings (DEBUG off, no metrics endpoint, a fixed
encryption key) against its own PostgreSQL database and Redis database, so none disturbs another
or the test database.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bench_env(*, database_url: str, redis_url: str, **extra: str) -> dict:
    """The environment a benchmark runs the panel in; `extra` adds or overrides variables."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": "memory://",
        "DEBUG": "false",
        "SECRET_KEY": "bench-secret-key-not-for-production",
        # Nothing scrapes /metrics here; production requires a token or this switch.
        "METRICS_ENABLED": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "FIELD_ENCRYPTION_KEY": "0cTBgyJy0vdR6OfmBGm0dn4gUjJ0zbpHdsDvM_L6Ikk=",
        "UPSTREAM_ALLOW_PRIVATE": "true",
        "SECURE_SSL_REDIRECT": "false",
        "STAFF_REQUIRE_2FA": "false",
        "LOG_LEVEL": "WARNING",
        "PANEL_VAR_DIR": str(ROOT / "var" / "bench"),
        **extra,
    }


def database_ensure(url: str, env: dict) -> None:
    """Create the database at `url` when it is missing, then migrate it with `env`."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env={**os.environ, **env}, check=True)


# --- Where the CPU goes ---------------------------------------------------------------------


def _proc_stat(pid: str) -> tuple[str, int, int] | None:
    """(command name, parent pid, CPU ticks used) of a process, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return name, int(fields[1]), int(fields[11]) + int(fields[12])


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def cpu_ticks(trees: dict[str, int], *, database: str) -> dict[tuple[str, int], int]:
    """CPU ticks used so far, per (group, pid): each process tree in `trees` (group -> root pid)
    as its group, PostgreSQL (this benchmark's database's backends and the shared background
    processes such as the WAL writer, not other databases' backends) and Redis."""
    stats = {int(pid): stat for pid in os.listdir("/proc") if pid.isdigit() and (stat := _proc_stat(pid))}
    group_of = {root: group for group, root in trees.items()}
    for pid, (_, parent, _) in sorted(stats.items()):
        if pid not in group_of and parent in group_of:
            group_of[pid] = group_of[parent]
    used = {}
    for pid, (name, _, ticks) in stats.items():
        if pid in group_of:
            used[(group_of[pid], pid)] = ticks
        elif name == "postgres":
            command = _cmdline(pid)
            client = "(" in command or "[local]" in command
            if not client or f" {database} " in command:
                used[("postgres", pid)] = ticks
        elif name.startswith("redis-server"):
            used[("redis", pid)] = ticks
    return used


def cpu_between(before: dict, after: dict, groups) -> dict[str, float]:
    """CPU seconds per group between two cpu_ticks() snapshots. A process that ended meanwhile
    is left out (its last ticks are unknown), never counted as negative."""
    tick = os.sysconf("SC_CLK_TCK")
    used = dict.fromkeys(groups, 0.0)
    for (group, pid), ticks in after.items():
        if group in used:
            used[group] += (ticks - before.get((group, pid), 0)) / tick
    return used
