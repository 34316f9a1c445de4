"""The limits of the panel the current code works for: how many customers, services and staff
users a child panel's plan includes. The parent has none.

The numbers are the child's registry row (copied from the plan when it was bought, changed by
the parent's staff), read through tenants.lookup's cache, so checking a limit costs no registry
query on most requests. Counting what the panel has is the caller's (tenants sits below the apps
whose rows are counted).
"""

from dataclasses import dataclass

from panel.tenancy import current_schema, is_child


@dataclass(frozen=True)
class Limits:
    customers: int  # 0: no limit
    services: int
    staff: int


def current_limits() -> Limits | None:
    """The current child panel's limits; None for the parent (and on SQLite)."""
    if not is_child():
        return None
    # Imported here: without PostgreSQL (the SQLite demo) the registry is not installed, and
    # there is never a child panel to ask about.
    from .lookup import panel_for_schema

    panel = panel_for_schema(current_schema())
    if panel is None:
        return None
    return Limits(customers=panel.max_customers, services=panel.max_services, staff=panel.max_staff)


def room(limit: int, used: int) -> int | None:
    """How many more fit under `limit` with `used` taken: None when there is no limit (0)."""
    if not limit:
        return None
    return max(0, limit - used)


def customers_room(used) -> int | None:
    limits = current_limits()
    return None if limits is None else room(limits.customers, used() if callable(used) else used)


def services_room(used) -> int | None:
    limits = current_limits()
    return None if limits is None else room(limits.services, used() if callable(used) else used)


def staff_room(used) -> int | None:
    limits = current_limits()
    return None if limits is None else room(limits.staff, used() if callable(used) else used)
