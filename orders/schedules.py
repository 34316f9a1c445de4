"""The default beat schedule, created once; staff edit it in the admin afterwards."""

DEFAULT_SCHEDULE = {
    # name: (task, every N seconds)
    "Poll order statuses": ("orders.poll_orders", 15),
    "Poll refill statuses": ("orders.poll_refills", 120),
    "Sweep stuck orders": ("orders.sweep", 60),
    "Reconcile": ("orders.reconcile", 3600),
    "Average completion times": ("orders.refresh_avg_times", 900),
    "Refresh provider balances": ("upstream.refresh_provider_balances", 900),
}


def ensure_default_schedule(**kwargs) -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for name, (task, seconds) in DEFAULT_SCHEDULE.items():
        if PeriodicTask.objects.filter(task=task).exists():
            continue
        every, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": every})
