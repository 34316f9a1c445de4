"""Celery tasks of the backoffice: thin wrappers, each safe to run twice."""

from celery import shared_task

from . import site_mode


@shared_task(name="backoffice.maintenance_sync")
def maintenance_sync() -> bool:
    return site_mode.maintenance_sync()
