"""Celery tasks of childpanels.provider (only load IDs and call a service)."""

from celery import shared_task

__all__ = ["wire_panel"]


@shared_task(name="childpanels.wire_panel")
def wire_panel(panel_id: int) -> int:
    """Wire (again) a child panel to the parent: safe to run twice and concurrently (the panel's
    row lock makes two wirings take turns; a kept key is not replaced). Returns the provider ID."""
    # Imported here: the service reads the registry of panels, which the single-panel SQLite
    # demo does not install, while Celery imports every task module at start.
    from ..provider import provider_wire

    return provider_wire(panel_id=panel_id).provider_id
