"""Test-wide checks: the suite runs on PostgreSQL and Redis, never silently on SQLite."""

import pytest
from django.conf import settings

# The simulator, provider, catalog and customer fixtures every app's tests share.
pytest_plugins = ["testing.fixtures"]


def pytest_sessionstart(session):
    if not session.config.pluginmanager.hasplugin("django"):
        return  # e.g. the client and simulator tests run with -p no:django
    db = settings.DATABASES["default"]
    # django-tenants' backend (a schema per panel) is PostgreSQL's with the search_path set.
    if db["ENGINE"] not in {"django.db.backends.postgresql", "django_tenants.postgresql_backend"}:
        pytest.exit(f"Tests need PostgreSQL; DATABASE_URL points at {db['ENGINE']}.", returncode=3)
    import psycopg

    try:
        psycopg.connect(
            host=db["HOST"] or "127.0.0.1",
            port=db["PORT"] or 5432,
            user=db["USER"],
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.OperationalError as exc:
        pytest.exit(
            f"PostgreSQL is not reachable ({exc}). Start it with: "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            returncode=3,
        )
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
    except (redis.ConnectionError, TypeError, ValueError) as exc:
        pytest.exit(
            f"Redis is not reachable at {settings.REDIS_URL} ({exc}). Start it with: "
            'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
            returncode=3,
        )


@pytest.fixture(autouse=True)
def _no_language_left_active():
    """LocaleMiddleware leaves a request's language active in the thread that served it: every test
    starts and ends in the default language, so one test's Arabic request never reaches the next."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()
