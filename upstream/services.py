import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from .client import ApiV2Client, NotSent, UpstreamError
from .models import Provider
from .urlguard import UnsafeURL, check_url

logger = logging.getLogger(__name__)

_clients: dict[int, tuple[object, ApiV2Client]] = {}
_clients_lock = threading.Lock()


def provider_url_check(url: str) -> None:
    """Raise ValueError when staff may not point a provider at this URL."""
    check_url(url, allow_private=settings.UPSTREAM_ALLOW_PRIVATE)


def _guard(url: str) -> None:
    # Checked again before every request: DNS may have changed since the provider was saved.
    try:
        check_url(url, allow_private=settings.UPSTREAM_ALLOW_PRIVATE)
    except UnsafeURL as exc:
        raise NotSent("request", str(exc)) from None


def provider_client(provider: Provider) -> ApiV2Client:
    """A client on a pooled session, reused per process until the provider is edited."""
    with _clients_lock:
        cached = _clients.get(provider.pk)
        if cached and cached[0] == provider.updated_at:
            return cached[1]
        client = ApiV2Client(
            provider.api_url,
            provider.api_key,
            connect_timeout=float(provider.connect_timeout),
            read_timeout=float(provider.read_timeout),
            pool_size=max(provider.max_concurrency, 2),
            url_guard=_guard,
        )
        if cached:
            cached[1].close()
        _clients[provider.pk] = (provider.updated_at, client)
        return client


@contextlib.contextmanager
def provider_slot(provider: Provider, *, wait: float = 30.0) -> Iterator[bool]:
    """Hold one of the provider's `max_concurrency` request slots, across all workers.

    The slots are counters in the cache (Redis in production) with an expiry, so a worker that
    dies cannot hold a slot for longer than the expiry. Yields False when no slot freed up in time:
    the caller then postpones its work instead of overloading the provider.
    """
    deadline = time.monotonic() + wait
    held = None
    while held is None:
        for index in range(provider.max_concurrency):
            key = f"upstream:slot:{provider.pk}:{index}"
            if cache.add(key, 1, timeout=int(float(provider.read_timeout) + 30)):
                held = key
                break
        else:
            if time.monotonic() >= deadline:
                yield False
                return
            time.sleep(0.05)
    try:
        yield True
    finally:
        cache.delete(held)


@transaction.atomic
def provider_upsert(
    *,
    name: str,
    api_url: str,
    api_key: str | None = None,
    currency: str | None = None,
    exchange_rate: Decimal | None = None,
    markup_percent: Decimal | None = None,
    enabled: bool | None = None,
) -> tuple[Provider, bool]:
    provider_url_check(api_url)
    provider = Provider.objects.select_for_update().filter(name=name).first()
    created = provider is None
    if created:
        if not api_key:
            raise ValueError("A new provider needs an API key.")
        provider = Provider(name=name)
    provider.api_url = api_url
    if api_key:
        provider.api_key = api_key
    if currency:
        if len(currency) != 3 or not currency.isalpha():
            raise ValueError("The currency must be a 3-letter code such as USD.")
        provider.currency = currency.upper()
    if exchange_rate is not None:
        if exchange_rate <= 0:
            raise ValueError("The exchange rate must be positive.")
        provider.exchange_rate = exchange_rate
    if markup_percent is not None:
        provider.markup_percent = markup_percent
    if enabled is not None:
        provider.enabled = enabled
    provider.save()
    return provider, created


def provider_refresh_balance(*, provider_id: int) -> Provider:
    """Ask the provider for its balance (outside any transaction) and record it."""
    provider = Provider.objects.get(pk=provider_id)
    try:
        result = provider_client(provider).balance()
    except UpstreamError as exc:
        logger.warning("provider %s: balance check failed: %s", provider.name, exc)
        Provider.objects.filter(pk=provider.pk).update(last_error=f"balance: {exc}"[:500])
        provider.refresh_from_db()
        return provider
    low = result.balance < provider.low_balance_threshold
    Provider.objects.filter(pk=provider.pk).update(
        balance=result.balance, balance_checked_at=timezone.now(), low_balance=low, last_error=""
    )
    if low:
        logger.warning(
            "provider %s: balance %s %s is under the threshold %s",
            provider.name,
            result.balance,
            result.currency,
            provider.low_balance_threshold,
        )
    provider.refresh_from_db()
    return provider
