import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")

app = Celery("panel")
# Every CELERY_* setting in panel/settings.py configures the app.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _serve_metrics(**kwargs):
    # With CELERY_METRICS_PORT set, the worker serves its Prometheus metrics (panel/metrics.py).
    from panel.metrics import start_worker_exporter

    start_worker_exporter()
