"""What every Admin API class shares: the key, the role, the rate limit, JSON only, the answer's
envelope and errors as {"error": "...", "error_code": <HTTP status>}, never a bare 500 page."""

import logging
from datetime import UTC, date, datetime, time
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework import exceptions, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from orders.staff import ActionError

from .authentication import StaffTokenAuthentication
from .permissions import RolePermission
from .throttling import PerTokenThrottle

logger = logging.getLogger(__name__)

MAX_LIMIT = 500
MAX_OFFSET = 10**9
MAX_ID = 2**63 - 1


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object changed since you read it."


def ok(data: Any, code: int = status.HTTP_200_OK) -> Response:
    """The envelope of every successful answer, as the hosted leader's: data and error_code 0."""
    return Response({"data": data, "error_code": 0}, status=code)


def _text(detail: Any) -> str:
    """A DRF error detail (a string, a list, or messages by field) as one line."""
    if isinstance(detail, dict):
        parts = []
        for field, value in detail.items():
            message = _text(value)
            parts.append(message if field == "non_field_errors" else f"{field}: {message}")
        return "; ".join(parts)
    if isinstance(detail, list):
        return " ".join(_text(item) for item in detail)
    return str(detail)


def exception_handler(exc, context) -> Response:
    if isinstance(exc, ActionError):
        code = status.HTTP_409_CONFLICT if _is_conflict(exc) else status.HTTP_400_BAD_REQUEST
        return Response({"error": str(exc), "error_code": code}, status=code)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound("Not found.")
    response = drf_exception_handler(exc, context)
    if response is None:
        # A bug, not the caller's fault: logged with its traceback, answered as JSON.
        logger.exception("admin API: unexpected error in %s", context["view"].__class__.__name__)
        return Response({"error": "Internal error", "error_code": 500}, status=500)
    response.data = {"error": _text(getattr(exc, "detail", response.data)), "error_code": response.status_code}
    return response


def _is_conflict(exc: ActionError) -> bool:
    from orders.manual import ChangedMeanwhile, TakenByOther

    return isinstance(exc, ChangedMeanwhile | TakenByOther)


class AdminApiView(APIView):
    """Base of every Admin API class: `required_permissions` maps a method to what it needs."""

    authentication_classes = [StaffTokenAuthentication]
    permission_classes = [RolePermission]
    throttle_classes = [PerTokenThrottle]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    required_permissions: dict[str, tuple[str, ...]] = {}

    def get_exception_handler(self):
        return exception_handler

    def dispatch(self, request, *args, **kwargs):
        # Staff scripts read the panel's default language (service and category names, DRF's own
        # messages), whatever the caller's Accept-Language, cookie or account language; rendered here,
        # inside that language, rather than later by Django.
        with translation.override(settings.LANGUAGE_CODE):
            response = super().dispatch(request, *args, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        response["Content-Language"] = settings.LANGUAGE_CODE
        return response

    def permission_denied(self, request, message=None, code=None):
        if request.authenticators and not request.successful_authenticator:
            raise exceptions.NotAuthenticated("Send your token in the X-Api-Key header.")
        raise exceptions.PermissionDenied(message or "Your role does not allow this.")

    @property
    def actor_id(self) -> int:
        return self.request.user.pk


# --- Query parameters ------------------------------------------------------------------------------


def query(request, name: str, *, max_length: int = 200) -> str:
    value = request.query_params.get(name, "")
    if len(value) > max_length or "\x00" in value:
        raise exceptions.ValidationError({name: f"at most {max_length} characters, no NUL"})
    return value.strip()


def int_param(request, name: str, *, default: int | None = None, low: int = 0, high: int = MAX_ID) -> int | None:
    raw = query(request, name, max_length=20)
    if raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise exceptions.ValidationError({name: f"a whole number from {low} to {high}"})
    return int(raw)


def id_list(request, name: str, *, limit: int = 500) -> list[int] | None:
    raw = query(request, name, max_length=limit * 20)
    if raw == "":
        return None
    ids = []
    for part in raw.split(","):
        part = part.strip()
        if not part.isascii() or not part.isdigit() or int(part) > MAX_ID:
            raise exceptions.ValidationError({name: "comma-separated IDs"})
        ids.append(int(part))
    if len(ids) > limit:
        raise exceptions.ValidationError({name: f"at most {limit} IDs"})
    return ids


def bool_param(request, name: str) -> bool | None:
    raw = query(request, name, max_length=5).lower()
    if raw == "":
        return None
    if raw in ("1", "true", "yes"):
        return True
    if raw in ("0", "false", "no"):
        return False
    raise exceptions.ValidationError({name: "true or false"})


def moment_param(request, name: str, *, end: bool = False) -> datetime | None:
    """A date (the day's start, or with `end` the next day's start) or a date-time, or a Unix time."""
    raw = query(request, name, max_length=40)
    if raw == "":
        return None
    try:
        if raw.isascii() and raw.isdigit():
            return datetime.fromtimestamp(min(int(raw), 253_402_300_799), tz=UTC)
        day = parse_date(raw) if len(raw) == 10 else None
        if day is not None:
            if end:
                day = date.fromordinal(min(day.toordinal() + 1, date.max.toordinal()))
            moment = datetime.combine(day, time.min)
        else:
            moment = parse_datetime(raw)
            if moment is None:
                raise ValueError
    except (ValueError, OverflowError, OSError):
        raise exceptions.ValidationError({name: "a date (2026-01-31), a date-time (ISO 8601) or a Unix time"}) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def paged(request, queryset) -> tuple[list, dict[str, int]]:
    limit = int_param(request, "limit", default=100, low=1, high=MAX_LIMIT)
    offset = int_param(request, "offset", default=0, high=MAX_OFFSET)
    total = queryset.count()
    return list(queryset[offset : offset + limit]), {"count": total, "limit": limit, "offset": offset}
