"""Celery workers keep their database connection between tasks, as web processes keep theirs
between requests: a poll batch does not start a new PostgreSQL backend each time."""

import time
from types import SimpleNamespace

import psycopg
import pytest
from django.db import connection

from panel.celery import _close_old_connections, app

TASK = SimpleNamespace(request=SimpleNamespace(is_eager=False))


def _conninfo() -> str:
    params = connection.get_connection_params()
    return psycopg.conninfo.make_conninfo(
        **{k: v for k, v in params.items() if k in ("host", "port", "user", "password", "dbname")}
    )


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_celerys_own_closing_comes_rarely():
    # Without it Celery's Django support closes every connection before and after each task.
    assert app.conf.get("CELERY_DB_REUSE_MAX") >= 100


@pytest.mark.django_db(transaction=True)
def test_a_healthy_connection_is_kept_and_a_stale_or_broken_one_is_closed():
    first = backend_pid()
    for _ in range(3):  # before and after a few tasks
        _close_old_connections(task=TASK)
    assert backend_pid() == first
    # Older than CONN_MAX_AGE: closed before the next task, which opens a new one.
    connection.close_at = time.monotonic() - 1
    _close_old_connections(task=TASK)
    assert connection.connection is None
    second = backend_pid()
    assert second != first
    # A connection that broke (here: its backend ended, as in a database restart) and failed a
    # query is not reused either.
    with psycopg.connect(_conninfo()) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [second])
    connection.errors_occurred = True
    _close_old_connections(task=TASK)
    assert backend_pid() != second


@pytest.mark.django_db
def test_an_eager_task_leaves_its_callers_connection_alone():
    # Run eagerly inside a request or a test's transaction: nothing is closed under it.
    first = backend_pid()
    _close_old_connections(task=SimpleNamespace(request=SimpleNamespace(is_eager=True)))
    assert connection.connection is not None and backend_pid() == first
