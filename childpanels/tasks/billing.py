"""Celery tasks of childpanels.billing (only load IDs and call a service)."""

__all__: list[str] = []
