"""Maintenance mode and signing in as a customer: what staff switch, and the middleware that
applies maintenance mode to every request.

Maintenance mode: while it is on, visitors and customers get the staff's message (a 503 page
with Retry-After), the downstream API answers {"error": "<message>"} with 503 (its usual error
shape; a client may retry later, nothing was done), and staff keep working: staff sessions, a
staff member signed in as a customer, the backoffice, the login pages, the Admin API, health and
metrics, payment notifications from gateways (money must never be turned away) and one-click
unsubscribes go through. Celery workers and beat are not HTTP: polling, settling, forwarding and
syncing carry on. Requests read the switch from the shared cache, at most every CACHE_SECONDS
per process, never from the database (see maintenance_state).

Signing in as a customer (django-hijack): only staff holding backoffice.sign_in_as, only an
active customer who is not staff; every start and end is an audit row.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from accounts.services import audit_record
from panel.tenancy import panel_name
from site_pages.selectors import brand_cached

from .models import Maintenance

logger = logging.getLogger(__name__)

PERM_MAINTENANCE = "backoffice.maintenance"
PERM_SIGN_IN_AS = "backoffice.sign_in_as"
CACHE_SECONDS = 5.0
RETRY_AFTER_SECONDS = 300
MAINTENANCE_MAX_LENGTH = 2000

_cached: tuple[float, bool, str] | None = None
CACHE_KEY = "maintenance:state"


def default_message() -> str:
    return _("We are carrying out scheduled maintenance. Please come back in a few minutes.")


def _stored() -> tuple[bool, str]:
    row = Maintenance.objects.filter(pk=1).values_list("enabled", "message").first()
    return (bool(row[0]), row[1]) if row else (False, "")


def maintenance_state(*, fresh: bool = False) -> tuple[bool, str]:
    """(on, message) as requests see it: from this process's copy (at most CACHE_SECONDS old),
    else from the shared cache (Redis), never from the database: a request costs no query.

    The database row is the durable, audited record; maintenance_set writes both, and the beat
    task backoffice.maintenance_sync copies the row into the cache every minute, so a cache that
    was flushed forgets the switch for at most a minute (off meanwhile: maintenance mode is a
    courtesy to customers, not a security boundary). `fresh` reads the database (staff pages)."""
    global _cached
    now = time.monotonic()
    if fresh:
        enabled, message = _stored()
    elif _cached is not None and now - _cached[0] < CACHE_SECONDS:
        return _cached[1], _cached[2]
    else:
        try:
            value = cache.get(CACHE_KEY)
        except Exception:  # the cache is down: serve the panel rather than fail every request
            logger.warning("maintenance: the cache cannot be read; treating maintenance mode as off")
            value = None
        enabled, message = value if isinstance(value, (list, tuple)) and len(value) == 2 else (False, "")
    _cached = (now, enabled, message)
    return enabled, message


def maintenance_forget() -> None:
    global _cached
    _cached = None


def _publish(enabled: bool, message: str) -> None:
    cache.set(CACHE_KEY, (enabled, message), timeout=None)
    maintenance_forget()


def maintenance_sync() -> bool:
    """Copy the stored switch into the shared cache (beat, every minute)."""
    enabled, message = _stored()
    _publish(enabled, message)
    return enabled


def maintenance_clear_cache() -> None:
    """Forget the shared copy (tests: the database rolls back, the cache does not)."""
    cache.delete(CACHE_KEY)
    maintenance_forget()


def maintenance_set(*, actor_id: int, enabled: bool, message: str) -> Maintenance:
    """Switch maintenance mode on or off with its message, audited."""
    # Browsers post textarea lines with CRLF; the API's JSON carries plain newlines.
    message = message.replace("\r\n", "\n").strip()[:MAINTENANCE_MAX_LENGTH]
    with transaction.atomic():
        row, _created = Maintenance.objects.select_for_update().get_or_create(pk=1)
        before = {"enabled": row.enabled, "message": row.message}
        row.enabled, row.message, row.updated_by_id = enabled, message, actor_id
        row.save()
        audit_record(
            actor_id=actor_id,
            action="maintenance.on" if enabled else "maintenance.off",
            obj=row,
            before=before,
            after={"enabled": enabled, "message": message},
        )
    _publish(enabled, message)
    return row


# --- Who gets through --------------------------------------------------------------------------


def _open_prefixes() -> tuple[str, ...]:
    static = settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/" + settings.STATIC_URL
    return (
        "/" + settings.ADMIN_URL,
        "/accounts/",
        "/adminapi/",
        "/hijack/",
        "/payments/",
        "/unsubscribe/",
        "/healthz",
        "/readyz",
        "/metrics",
        static,
    )


def is_staff_session(request) -> bool:
    """Staff, or staff signed in as a customer (the session remembers who they are)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    session = getattr(request, "session", None)
    return bool(session is not None and session.get("hijack_history"))


class MaintenanceMiddleware:
    """Answers visitors and customers with the maintenance message while the mode is on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        enabled, message = maintenance_state()
        if not enabled:
            return self.get_response(request)
        request.maintenance = True
        if request.path_info.startswith(_open_prefixes()) or is_staff_session(request):
            return self.get_response(request)
        path = request.path_info
        text = message or default_message()
        if path.startswith("/api/v2"):
            response = JsonResponse({"error": text}, status=503)
            response["Cache-Control"] = "no-store"
        else:
            # The branding's name when the cache has it: this page reads no database.
            cached = brand_cached()
            name = cached.name if cached is not None else panel_name()
            html = render_to_string("maintenance.html", {"message": text, "notice_name": name}, request=request)
            response = HttpResponse(html, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


# --- Signing in as a customer ------------------------------------------------------------------


def may_sign_in_as(*, hijacker, hijacked) -> bool:
    """django-hijack's permission check (HIJACK_PERMISSION_CHECK)."""
    if hijacked is None or not hijacked.is_active or hijacked.is_staff or hijacked.is_superuser:
        return False
    return bool(hijacker.is_active and hijacker.is_staff and hijacker.has_perm(PERM_SIGN_IN_AS))


def _audit_started(sender, request, hijacker, hijacked, **kwargs) -> None:
    audit_record(actor_id=hijacker.pk, action="customer.sign_in_as", obj=hijacked, after={"as": hijacked.username})


def _audit_ended(sender, request, hijacker, hijacked, **kwargs) -> None:
    audit_record(actor_id=hijacker.pk, action="customer.sign_in_as_end", obj=hijacked, before={"as": hijacked.username})


def connect_sign_in_as_audit() -> None:
    from hijack import signals

    signals.hijack_started.connect(_audit_started, dispatch_uid="backoffice.sign_in_as.started")
    signals.hijack_ended.connect(_audit_ended, dispatch_uid="backoffice.sign_in_as.ended")
