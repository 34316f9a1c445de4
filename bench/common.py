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
