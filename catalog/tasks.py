import logging

from celery import shared_task

from upstream.models import Provider

from .sync import sync_provider_unless_running

logger = logging.getLogger(__name__)


@shared_task(name="catalog.sync_provider")
def sync_provider(provider_id: int) -> None:
    # Skipped while another worker syncs this provider (a cache lock that only saves work);
    # were both to run, the provider's row lock and the unique keys keep the result correct.
    try:
        sync_provider_unless_running(provider_id=provider_id)
    except Provider.DoesNotExist:
        logger.info("sync: provider %s was deleted before its sync ran", provider_id)


@shared_task(name="catalog.sync_all_providers")
def sync_all_providers() -> None:
    # One task per provider, so that one slow provider does not hold up the others.
    for provider_id in Provider.objects.filter(enabled=True).order_by("pk").values_list("pk", flat=True):
        sync_provider.delay(provider_id)
