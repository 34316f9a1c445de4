"""Celery tasks: each loads IDs and calls a service; all are safe to run twice and concurrently."""

from celery import shared_task

from . import services, updates


@shared_task(name="notifications.dispatch_events")
def dispatch_events(keys: list[str]) -> None:
    services.events_dispatch(keys=keys)


@shared_task(name="notifications.deliver")
def deliver(delivery_id: int) -> str:
    return services.delivery_send(delivery_id=delivery_id)


@shared_task(name="notifications.sweep")
def sweep() -> dict:
    return services.deliveries_sweep()


@shared_task(name="notifications.staff_digest")
def staff_digest() -> int:
    return sum(services.staff_digest_send(channel) for channel in services.DIGEST_CHANNELS)


@shared_task(name="notifications.telegram_updates")
def telegram_updates() -> int:
    return services.telegram_updates_poll()


@shared_task(name="notifications.check_balances")
def check_balances() -> int:
    return services.balances_check()


@shared_task(name="notifications.catalog_scan")
def catalog_scan() -> int:
    return len(updates.catalog_scan())


@shared_task(name="notifications.updates_digest")
def updates_digest() -> int:
    return updates.updates_digest_send()


@shared_task(name="notifications.purge")
def purge() -> int:
    return services.events_purge()
