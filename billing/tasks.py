"""Celery tasks of billing: they only call services."""

from celery import shared_task

from .payments import deposit_lookup, deposits_sweep


@shared_task(name="billing.sweep_deposits")
def sweep_deposits() -> int:
    """Ask the gateways about deposits still open after a few minutes (a lost notification, a
    customer who never came back). Safe twice and concurrently: report_apply credits once."""
    return deposits_sweep()


@shared_task(name="billing.lookup_deposit")
def lookup_deposit(deposit_id: int) -> str | None:
    return deposit_lookup(deposit_id=deposit_id)
