"""The notification tasks' beat schedule, created once; staff edit it in the admin afterwards."""

from django.conf import settings

DEFAULT_SCHEDULE = {
    # name: (task, every N seconds)
    "Notifications: send due deliveries": ("notifications.sweep", 30),
    "Notifications: staff digest": ("notifications.staff_digest", None),
    "Notifications: low balances": ("notifications.check_balances", 60),
    "Notifications: Telegram messages to the bot": ("notifications.telegram_updates", 10),
    "Notifications: catalog updates feed": ("notifications.catalog_scan", 300),
    "Notifications: catalog updates email digest": ("notifications.updates_digest", 86400),
    "Notifications: purge old events": ("notifications.purge", 86400),
}


def ensure_default_schedule(**kwargs) -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for name, (task, seconds) in DEFAULT_SCHEDULE.items():
        if PeriodicTask.objects.filter(task=task).exists():
            continue
        every, _ = IntervalSchedule.objects.get_or_create(
            every=seconds or settings.NOTIFY_DIGEST_MINUTES * 60, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": every})
