"""Which panel the current code works for, for the code that keeps things outside the database.

Child panels (the `tenants` app) each live in a PostgreSQL schema of their own; django-tenants
points the connection's search_path at the panel of the request (by host name) or of the Celery
task (by its `_schema_name` header). The database needs nothing more. What lives elsewhere does:
cache keys, Redis counters, files under PANEL_VAR_DIR and the keys we send upstream. They ask
here. The parent panel is the `public` schema and keeps every name it had before child panels
existed, so an install without children behaves (and names things) exactly as before; on SQLite
(the no-services demo) there is only the parent.

A child also has an identity of its own that code outside a request needs: its address (for
links in emails, webhooks and Telegram texts) and its currency (prices, balances, the ledger).
`panel_url()` and `panel_currency()` answer for the current schema; the parent's answers are the
settings PANEL_URL and PANEL_CURRENCY, as before.

Imports nothing of the panel's apps: it reads the connection, and asks the registry through a
resolver the `tenants` app registers when it is ready.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection

PUBLIC_SCHEMA = "public"
# Cache keys that name the whole install (the registry of panels) rather than one panel: they
# are the same whichever schema asks, so the registry's entries are shared and invalidated once.
INSTALL_PREFIX = "install:"

# schema -> that child's registry row (an object with `currency` and `primary_host`), or None.
_resolver: Callable[[str], Any] | None = None


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
    """Django's CACHES KEY_FUNCTION: Django's own key for the parent, scoped for a child.

    Keys starting with INSTALL_PREFIX are the install's (the panels' registry) and are never
    scoped: a child's request and the parent's save of its row must meet on the same key."""
    if key.startswith(INSTALL_PREFIX):
        return f"{key_prefix}:{version}:{key}"
    return scoped(f"{key_prefix}:{version}:{key}")


def var_dir() -> Path:
    """The panel's own folder for files (attachments): PANEL_VAR_DIR for the parent,
    PANEL_VAR_DIR/tenants/<schema> for a child panel."""
    base = Path(settings.VAR_DIR)
    schema = current_schema()
    if schema == PUBLIC_SCHEMA:
        return base
    return base / "tenants" / schema


def register_panel_resolver(resolver: Callable[[str], Any] | None) -> None:
    """The tenants app's schema -> registry row lookup (cached), set in its AppConfig.ready()."""
    global _resolver
    _resolver = resolver


def current_panel() -> Any | None:
    """The child panel's registry row for the current schema, or None for the parent.

    In a request the middleware has put the row on the connection (with `primary_host`), so this
    costs nothing; in a Celery task or a schema_context it is the registry's cached lookup."""
    schema = current_schema()
    if schema == PUBLIC_SCHEMA:
        return None
    tenant = getattr(connection, "tenant", None)
    if getattr(tenant, "schema_name", None) == schema and hasattr(tenant, "primary_host"):
        return tenant
    return _resolver(schema) if _resolver is not None else None


def panel_currency() -> str:
    """The 3-letter code the current panel keeps its prices, balances and ledger in: the child's
    own (chosen when it was bought), else settings.PANEL_CURRENCY."""
    panel = current_panel()
    currency = getattr(panel, "currency", "") if panel is not None else ""
    return currency or settings.PANEL_CURRENCY


def panel_name() -> str:
    """The current panel's name where no branding says otherwise: the name a child was bought
    with, else settings.PANEL_NAME. Pages and emails use the branding (site_pages), which falls
    back to this."""
    panel = current_panel()
    name = getattr(panel, "name", "") if panel is not None else ""
    return name or settings.PANEL_NAME


def panel_url() -> str:
    """The current panel's public address, without a trailing slash, for links in what it sends.

    A child's is its primary domain with PANEL_URL's scheme and port: every panel is served by
    the same web server, so a child on `acme.localhost` in development is reached on the port the
    parent uses, and in production both are behind the same TLS front."""
    parent = settings.PANEL_URL.rstrip("/")
    panel = current_panel()
    host = getattr(panel, "primary_host", "") if panel is not None else ""
    if not host:
        return parent
    parts = urlsplit(parent)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def parent_hosts() -> list[str]:
    """The host names the parent answers (Django's ALLOWED_HOSTS patterns).

    With CHILD_PANELS on, settings move the configured ALLOWED_HOSTS here and let Django accept
    any host, because customers' own domains cannot be listed before they are bought; the panel
    middleware then accepts a host only if it is one of these or a registered panel's domain.
    """
    return list(getattr(settings, "PARENT_HOSTS", None) or settings.ALLOWED_HOSTS)
