"""Fail at once, saying how to start it, when PostgreSQL or Redis is not reachable for the tests."""

import os
import socket
import sys
from urllib.parse import urlsplit

HINTS = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
}


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=3):
            return True
    except OSError:
        return False


def main() -> int:
    services = {
        "PostgreSQL": (os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/panel"), 5432),
        "Redis": (os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"), 6379),
    }
    down = [name for name, (url, port) in services.items() if not reachable(url, port)]
    for name in down:
        print(f"{name} is not reachable at {services[name][0]}. Start it with:\n  {HINTS[name]}", file=sys.stderr)
    return 1 if down else 0


if __name__ == "__main__":
    sys.exit(main())
