import contextlib
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TypeVar

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from panel.events import DomainEvent, emit
from panel.tenancy import current_schema
from upstream import metrics

from .client import ApiV2Client, CallHook, NotSent, UpstreamError
from .models import Provider, provider_url_check
from .urlguard import UnsafeURL, check_url, is_parent_api_host, resolve_allowed

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Keyed by panel and provider: child panels number their providers from 1 as the parent does.
_clients: dict[tuple[str, int], tuple[object, ApiV2Client, requests.Session]] = {}
_clients_lock = threading.Lock()


def _guard(url: str) -> None:
    # Checked again before every request, for a clear message when DNS has changed since the
    # provider was saved. The connection itself enforces the rule (see _CheckedConnectMixin).
    try:
        check_url(url, allow_private=settings.UPSTREAM_ALLOW_PRIVATE)
    except UnsafeURL as exc:
        failure = NotSent("request", str(exc))
        failure.refusal = exc  # its English is the failure's detail; failure_text translates it
        raise failure from None


def failure_text(exc: UpstreamError) -> str:
    """A failed call to a provider as staff read it: the URL guard's refusal in their language,
    anything else (a provider's answer, a network error) in the client's own words."""
    refusal = getattr(exc, "refusal", None)
    return refusal.translated() if isinstance(refusal, UnsafeURL) else str(exc)


# --- Connect-time SSRF check ----------------------------------------------------------------


class _CheckedConnectMixin:
    """Opens the socket only to addresses that were checked, resolving the name once.

    urllib3 normally resolves the host inside socket.create_connection; a name whose DNS answer
    changes between our check and that lookup (DNS rebinding) could then reach an internal
    address. Here the one lookup is checked and its addresses are the ones connected to. The
    host name itself is left alone, so the Host header, TLS SNI and certificate verification
    still use the provider's name.
    """

    def _new_conn(self) -> socket.socket:
        if settings.UPSTREAM_ALLOW_PRIVATE or is_parent_api_host(self._dns_host, self.port):
            return super()._new_conn()
        try:
            infos = resolve_allowed(self._dns_host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except UnsafeURL as exc:
            logger.warning("upstream connection refused: %s", exc)
            raise NewConnectionError(self, f"Refused by the SSRF guard: {exc}") from None
        error: OSError | None = None
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                if isinstance(self.timeout, int | float):
                    sock.settimeout(self.timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(address)
            except TimeoutError as exc:
                sock.close()
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                ) from exc
            except OSError as exc:
                sock.close()
                error = exc
                continue
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")


class _CheckedHTTPConnection(_CheckedConnectMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnectMixin, HTTPSConnection):
    pass


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class CheckedAdapter(HTTPAdapter):
    """requests adapter whose connections go through the SSRF check at connect time."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}


def upstream_session(pool_size: int) -> requests.Session:
    """A session for one provider: connect-time checks, no retries, no redirects followed (the
    client passes allow_redirects=False), and no proxy from the environment: through a proxy the
    proxy would pick the address, and the check could not hold."""
    session = requests.Session()
    # max_retries=0: the client never resends anything; retrying is the caller's call.
    adapter = CheckedAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = False
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    return session


# --- The client, with metrics ---------------------------------------------------------------


def _metered(provider_name: str) -> CallHook:
    """The client's on_call hook: each call's latency and outcome, counted per provider."""

    def on_call(action: str, outcome: str, seconds: float) -> None:
        metrics.UPSTREAM_SECONDS.labels(provider_name, action).observe(seconds)
        metrics.UPSTREAM_CALLS.labels(provider_name, action, outcome).inc()

    return on_call


def provider_client(provider: Provider) -> ApiV2Client:
    """A client on a pooled session, reused per process until the provider is edited."""
    key = (current_schema(), provider.pk)
    with _clients_lock:
        cached = _clients.get(key)
        if cached and cached[0] == provider.updated_at:
            return cached[1]
        pool_size = max(provider.max_concurrency, 2)
        session = upstream_session(pool_size)
        client = ApiV2Client(
            provider.api_url,
            provider.api_key,
            connect_timeout=float(provider.connect_timeout),
            read_timeout=float(provider.read_timeout),
            pool_size=pool_size,
            session=session,
            url_guard=_guard,
            on_call=_metered(provider.name),
        )
        if cached:
            cached[1].close()
            cached[2].close()
        _clients[key] = (provider.updated_at, client, session)
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


class NoFreeSlot(NotSent):
    """Every request slot of the provider stayed busy: the request was never sent."""

    def __init__(self, action: str, detail: str = "no free request slot") -> None:
        super().__init__(action, detail)


def provider_call(provider: Provider, action: str, call: Callable[[ApiV2Client], T], *, wait: float = 30.0) -> T:
    """`call(client)` while holding one of the provider's request slots; what it returns.

    Raises NoFreeSlot (a NotSent: nothing reached the provider) when no slot freed up within
    `wait` seconds, and whatever `call` raises (UpstreamError from the client). The slot is
    released however `call` ends. `action` names the call in NoFreeSlot, e.g. "status".
    A remote call: never inside a transaction.
    """
    with provider_slot(provider, wait=wait) as free:
        if not free:
            raise NoFreeSlot(action)
        return call(provider_client(provider))


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
    honours_idempotency_keys: bool | None = None,
    send_idempotency_key: bool | None = None,
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
    if honours_idempotency_keys is not None:
        provider.honours_idempotency_keys = honours_idempotency_keys
    if send_idempotency_key is not None:
        provider.send_idempotency_key = send_idempotency_key
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
        balance=result.balance,
        balance_checked_at=timezone.now(),
        low_balance=low,
        last_error="",
        # Detected, not configured: a panel on our software says it honours idempotency keys.
        advertises_idempotency_keys=result.honours_idempotency_keys,
    )
    if low:
        logger.warning(
            "provider %s: balance %s %s is under the threshold %s",
            provider.name,
            result.balance,
            result.currency,
            provider.low_balance_threshold,
        )
        # Staff hear of it once a day while it stays low.
        message = f"{provider.name}: balance {result.balance} {result.currency}, under {provider.low_balance_threshold}"
        emit(
            DomainEvent(
                kind="provider.balance_low",
                key=f"provider:{provider.pk}:balance-low:{timezone.now():%Y-%m-%d}",
                data={"provider": provider.pk, "message": message},
            )
        )
    provider.refresh_from_db()
    return provider
