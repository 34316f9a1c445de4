"""Celery tasks of currencies: they only call services."""

from celery import shared_task

from .services import rates_fetch


@shared_task(name="currencies.fetch_rates")
def fetch_rates() -> str:
    """The daily feed fetch (beat). Safe twice and concurrently: rates are upserted per day and
    the alerts carry one key per day."""
    return rates_fetch().summary()
