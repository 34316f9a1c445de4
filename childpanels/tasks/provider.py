"""Celery tasks of childpanels.provider (only load IDs and call a service)."""

__all__: list[str] = []
