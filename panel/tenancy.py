"""Which panel the current code works for, for the code that keeps things outside the database.

Child panels (the `tenants` app) each live in a PostgreSQL schema of their own; django-tenants
points the connection's search_path at the panel of the request (by host name) or of the Celery
task (by its `_schema_name` header). The database needs nothing more. What lives elsewhere does:
cache keys, Redis counters, files under PANEL_VAR_DIR and the keys we send upstream. They ask
here. The parent panel is the `public` schema and keeps every name it had before child panels
existed, so an install without children behaves (and names things) exactly as before; on SQLite
(the no-services demo) there is only the parent.

Imports nothing of the panel's apps: it reads the connection only.
"""

from pathlib import Path

from django.conf import settings
from django.db import connection

PUBLIC_SCHEMA = "public"


def current_schema() -> str:
    """The schema the default connection works in: `public` for the parent (and on SQLite)."""
    return getattr(connection, "schema_name", None) or PUBLIC_SCHEMA


def is_child() -> bool:
    return current_schema() != PUBLIC_SCHEMA


def scoped(name: str, *, sep: str = ":") -> str:
    """`name` for the parent; `t<sep><schema><sep>name` for a child panel.

    Parent names never start with `t:` (the cache's own prefix and our Redis prefixes start
    with `panel`), so a child's name can never equal the parent's or another child's.
    """
    schema = current_schema()
    if schema == PUBLIC_SCHEMA:
        return name
    return f"t{sep}{schema}{sep}{name}"


def cache_key(key: str, key_prefix: str, version: int) -> str:
    """Django's CACHES KEY_FUNCTION: Django's own key for the parent, scoped for a child."""
    return scoped(f"{key_prefix}:{version}:{key}")


def var_dir() -> Path:
    """The panel's own folder for files (attachments): PANEL_VAR_DIR for the parent,
    PANEL_VAR_DIR/tenants/<schema> for a child panel."""
    base = Path(settings.VAR_DIR)
    schema = current_schema()
    if schema == PUBLIC_SCHEMA:
        return base
    return base / "tenants" / schema
