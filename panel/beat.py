"""Beat entries an app creates for itself after `migrate`, once.

Each entry is created only while no periodic task runs its task: staff may change its schedule,
rename or disable it in the backoffice (Periodic tasks), and migrating again must not undo that;
deleting it brings it back at the next migrate. Called from a post_migrate handler with the
migration state's `apps` (or, from `flush`, without: the live models).
"""


def beat_entry_ensure(
    *,
    apps=None,
    using: str = "default",
    name: str,
    task: str,
    description: str = "",
    every_minutes: int | None = None,
    crontab: dict | None = None,
) -> bool:
    """Create the entry `name` running `task` every `every_minutes` or on `crontab` (the fields of
    django-celery-beat's CrontabSchedule) unless one runs `task` already. True if created."""
    if apps is None:
        from django.apps import apps
    try:
        task_model = apps.get_model("django_celery_beat", "PeriodicTask")
        interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
        crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    except LookupError:
        return False
    tasks = task_model.objects.using(using)
    if tasks.filter(task=task).exists():
        return False
    if crontab is not None:
        schedule = {"crontab": crontab_model.objects.using(using).get_or_create(**crontab)[0]}
    else:
        intervals = interval_model.objects.using(using)
        interval = intervals.filter(every=every_minutes, period="minutes").order_by("pk").first()
        schedule = {"interval": interval or intervals.create(every=every_minutes, period="minutes")}
    _entry, created = tasks.get_or_create(name=name, defaults={"task": task, "description": description, **schedule})
    if created:
        # The migration-state model sends no signals: tell a running beat that its schedule changed.
        from django_celery_beat.models import PeriodicTasks

        PeriodicTasks.update_changed()
    return created
