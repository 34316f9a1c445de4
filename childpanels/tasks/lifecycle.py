"""Celery tasks of childpanels.lifecycle (only load IDs and call a service).

Both are enqueued by name (childpanels.lifecycle.EXPORT_TASK, PURGE_TASK) on the commit of the
staff action that asked for them, from the parent, so they run in the parent's schema (the
registry's) and switch to the child's where they must. The services are imported when a task
runs: without PostgreSQL (the SQLite demo) the registry's models are not installed, and a worker
that imports every app's tasks must still start.
"""

from celery import shared_task

__all__ = ["panel_export_task", "panel_purge_task"]


@shared_task(name="childpanels.export_panel", time_limit=3600, soft_time_limit=3500)
def panel_export_task(panel_id: int) -> str:
    """Safe twice and concurrently: each run writes a file of its own and records it only if it
    is newer than the one recorded."""
    from ..lifecycle import LifecycleError, panel_export

    try:
        return str(panel_export(panel_id=panel_id))
    except LifecycleError:
        # Deleted or never built meanwhile: nothing to export, nothing to retry.
        return ""


@shared_task(name="childpanels.purge_panel", time_limit=1800, soft_time_limit=1700)
def panel_purge_task(panel_id: int) -> bool:
    """Safe twice and concurrently: DROP SCHEMA IF EXISTS and removing files already gone do nothing."""
    from ..lifecycle import panel_purge

    return panel_purge(panel_id=panel_id)
