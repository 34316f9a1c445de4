import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")

from django.conf import settings

if settings.TENANCY:
    # Child panels: every task sent carries the sender's schema in its `_schema_name` header and
    # runs in that schema (tenant-schemas-celery); the parent's tasks carry `public`.
    from tenant_schemas_celery.app import CeleryApp

    app = CeleryApp("panel")
else:
    app = Celery("panel")
# Every CELERY_* setting in panel/settings.py configures the app.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _serve_metrics(**kwargs):
    # With CELERY_METRICS_PORT set, the worker serves its Prometheus metrics (panel/metrics.py).
    from panel.metrics import start_worker_exporter

    start_worker_exporter()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task=None, **kwargs):
    # What Django does around a web request: a connection that failed or outlived CONN_MAX_AGE
    # is closed, any other is kept for the next task (CELERY_DB_REUSE_MAX in panel/settings.py).
    # Not for a task run eagerly: it runs inside its caller's request or transaction.
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
