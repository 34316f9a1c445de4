"""Celery tasks of childpanels.lifecycle (only load IDs and call a service).

Both are enqueued on the commit of the staff action that asked for them, from the parent, so
they run in the parent's schema (the registry's) and switch to the child's where they must.
"""

from celery import shared_task

from ..lifecycle import EXPORT_TASK, PURGE_TASK, LifecycleError, panel_export, panel_purge

__all__ = ["panel_export_task", "panel_purge_task"]


@shared_task(name=EXPORT_TASK, time_limit=3600, soft_time_limit=3500)
def panel_export_task(panel_id: int) -> str:
    """Safe twice and concurrently: each run writes a file of its own and records it only if it
    is newer than the one recorded."""
    try:
        return str(panel_export(panel_id=panel_id))
    except LifecycleError:
        # Deleted or never made meanwhile: nothing to export, nothing to retry.
        return ""


@shared_task(name=PURGE_TASK, time_limit=1800, soft_time_limit=1700)
def panel_purge_task(panel_id: int) -> bool:
    """Safe twice and concurrently: DROP SCHEMA IF EXISTS and removing files already gone do nothing."""
    return panel_purge(panel_id=panel_id)
