from celery import shared_task

from .models import Provider
from .services import provider_refresh_balance


@shared_task(name="upstream.refresh_provider_balance")
def refresh_provider_balance(provider_id: int) -> None:
    provider_refresh_balance(provider_id=provider_id)


@shared_task(name="upstream.refresh_provider_balances")
def refresh_provider_balances() -> None:
    # Fan out so that one slow provider does not delay the others; reading a balance twice is harmless.
    for provider_id in Provider.objects.filter(enabled=True).values_list("id", flat=True):
        refresh_provider_balance.delay(provider_id)
