"""Celery tasks of childpanels.lifecycle (only load IDs and call a service)."""

__all__: list[str] = []
