"""A database cursor for the few hot statements that Django's own cursors make expensive.

Django's psycopg cursors bind parameters on the client: every value is quoted into the statement's
text (an array of 100 numbers is quoted element by element) and every statement is parsed and
planned afresh. `prepared_cursor()` binds on the server and prepares each statement once per
connection, so a statement with a constant text (arrays instead of a row of parameters per item)
costs its planning once and its parameters almost nothing. Used by the downstream API's status
read and by polling's batch write; everything else stays on Django's cursors.
"""

from contextlib import contextmanager

import psycopg
from django.db import connection
from django.db.backends.utils import CursorDebugWrapper


class _PreparingCursor(psycopg.Cursor):
    """Binds parameters on the server and prepares each statement (once per connection), unless
    prepared statements are off (DATABASE_PREPARED_STATEMENTS=false: the connection then has no
    prepare threshold, as behind a transaction-pooling PgBouncer)."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        if prepare is None and self.connection.prepare_threshold is not None:
            prepare = True
        return super().execute(query, params, prepare=prepare, binary=binary)


class _DebugWrapper(CursorDebugWrapper):
    """Logs the statement's own text: Django reads the text of a client-bound query back from the
    driver, which has none for a server-bound one (the log would hold None)."""

    @contextmanager
    def debug_sql(self, sql=None, params=None, use_last_executed_query=False, many=False):
        with super().debug_sql(sql, params, use_last_executed_query=False, many=many):
            yield


def prepared_cursor():
    """A cursor on Django's connection whose statements are bound on the server and prepared; it
    is wrapped like Django's own, so its statements are logged and counted all the same.

    PostgreSQL only. Planning the API's status query costs PostgreSQL about as much as running it
    (pgbench: 0.34 ms a call unprepared, 0.19 ms prepared)."""
    # Opening (and closing) a cursor the usual way first: with child panels that is what points
    # the connection's search_path at the current panel's schema (django-tenants does it in
    # _cursor(), which a raw psycopg cursor skips; without it this read could see the tables of
    # the panel the connection served last). No statement once the path is already set.
    connection.cursor().close()
    raw = _PreparingCursor(connection.connection)
    return _DebugWrapper(raw, connection) if connection.queries_logged else connection.make_cursor(raw)


def _array_type(field) -> str:
    # The column's type without its length or precision: a cast to varchar(200) would cut a
    # longer value short silently, while assigning to the column refuses it as an INSERT does.
    return field.db_type(connection).split("(", 1)[0].strip()


def bulk_insert(model, objs: list, *, ignore_conflicts: bool = False) -> None:
    """`model.objects.bulk_create(objs)` as one prepared statement on PostgreSQL: INSERT ... SELECT
    FROM unnest(one array per column), bound in binary, so its text is the same for 3 rows or 300
    and no value is quoted on the client (bulk_create's VALUES list of a row of parameters per
    object is parsed afresh for every batch size). Defaults and auto_now_add are applied as
    bulk_create applies them; the objects get their primary keys (not with `ignore_conflicts`,
    where a row may not be inserted). Elsewhere it is bulk_create.
    """
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs, ignore_conflicts=ignore_conflicts)
        return
    meta = model._meta
    fields = [field for field in meta.concrete_fields if field is not meta.auto_field]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    arrays = ", ".join(f"%b::{_array_type(field)}[]" for field in fields)
    # Table and column names come from the model; every value is a bound parameter.
    sql = f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns}) SELECT * FROM unnest({arrays})"  # noqa: S608
    returning = meta.auto_field is not None and not ignore_conflicts
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    elif returning:
        sql += f" RETURNING {connection.ops.quote_name(meta.auto_field.column)}"
    params = [[field.get_db_prep_save(field.pre_save(obj, True), connection) for obj in objs] for field in fields]
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        if returning:
            for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                setattr(obj, meta.auto_field.attname, pk)
                obj._state.adding = False
                obj._state.db = connection.alias
