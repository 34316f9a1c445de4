"""Which panel a host name or a schema belongs to, kept in Django's cache between registry changes.

Every request on an install with child panels starts by asking the registry which panel its host
name names (tenants.middleware); Celery tasks and mail ask which address and currency their
schema's panel has (panel.tenancy). Both read the registry rarely and change it more rarely
still, so its answers are cached, including "no panel" for the parent's other host names.

One generation token (an install-wide cache key) stamps every entry. Saving or deleting a Panel
or a Domain replaces the token (tenants.signals), which turns every entry stale at once: a
suspension, a new domain or a moved domain is seen at the next request, whatever host names it
touched. A cache read is one round trip (the token and the entry come in one `get_many`).
"""

import uuid
from typing import Any

from django.core.cache import cache
from django.db import connection

from panel.tenancy import INSTALL_PREFIX

from .models import Domain, Panel

GENERATION_KEY = f"{INSTALL_PREFIX}tenants:generation"
# The registry's entries are invalidated when it changes; the timeout bounds only how long an
# entry survives a change made without signals (a queryset update() that forgot
# registry_changed()) and how long unused host names occupy the cache.
ENTRY_SECONDS = 300


def registry_changed() -> None:
    """Make every cached host and schema lookup stale. Called on every save and delete of a Panel
    or Domain; code that changes them with queryset update() calls it itself."""
    cache.set(GENERATION_KEY, uuid.uuid4().hex, None)


def _generation(found: dict) -> str:
    generation = found.get(GENERATION_KEY)
    if generation is None:
        # Evicted or never set: start one (add, so concurrent starters agree on a single token).
        cache.add(GENERATION_KEY, uuid.uuid4().hex, None)
        generation = cache.get(GENERATION_KEY)
    return generation


def _row(panel: Panel) -> dict[str, Any]:
    return {field.attname: getattr(panel, field.attname) for field in Panel._meta.concrete_fields}


def _panel(entry: dict) -> Panel:
    """A Panel as if loaded from the database (saving it updates its row), with its primary host."""
    row = entry["panel"]
    panel = Panel.from_db(connection.alias, list(row), list(row.values()))
    panel.primary_host = entry["host"]
    return panel


def _primary_host(panel: Panel) -> str:
    domain = Domain.objects.filter(tenant=panel).order_by("-is_primary", "domain").values_list("domain", flat=True)
    return domain.first() or ""


def _cached(key: str, load) -> Panel | None:
    found = cache.get_many([GENERATION_KEY, key])
    generation = _generation(found)
    entry = found.get(key)
    if entry is None or entry.get("generation") != generation:
        panel = load()
        entry = {
            "generation": generation,
            "panel": _row(panel) if panel is not None else None,
            "host": _primary_host(panel) if panel is not None else "",
        }
        # Stamped with the token read before the registry was: a change in between replaced the
        # token, so this entry is already stale rather than wrongly fresh.
        cache.set(key, entry, ENTRY_SECONDS)
    return _panel(entry) if entry["panel"] is not None else None


def panel_for_host(hostname: str) -> Panel | None:
    """The child panel a host name serves, or None (the parent's host names). Reads `public`."""

    def load() -> Panel | None:
        domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
        return domain.tenant if domain is not None else None

    return _cached(f"{INSTALL_PREFIX}tenants:host:{hostname}", load)


def panel_for_schema(schema_name: str) -> Panel | None:
    """The registry row of the child panel in `schema_name`, or None. Works from any schema: the
    registry's tables are in `public`, which is on every panel's search_path."""

    def load() -> Panel | None:
        return Panel.objects.filter(schema_name=schema_name).first()

    return _cached(f"{INSTALL_PREFIX}tenants:schema:{schema_name}", load)
