import functools
import re
import unicodedata
import zoneinfo

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.utils import timezone

PAGE_SIZE = 25
# The largest primary key (BigAutoField) and the deepest page anyone can ask for.
MAX_ID = 2**63 - 1
MAX_PAGE = 1_000_000
# A number is ASCII digits, optionally signed: int() alone would also take "١٢", "1_000", " 1 "
# inside other text, and numbers of thousands of digits.
_WHOLE = re.compile(r"[+-]?[0-9]{1,40}")


def whole(raw) -> int | None:
    """A whole number as typed (ASCII digits, at most 40 of them), or None; ranges are the caller's."""
    if isinstance(raw, (list, tuple)):
        raw = raw[-1] if raw else None
    if raw is None or isinstance(raw, bool):
        return None
    text = str(raw).strip()
    return int(text) if _WHOLE.fullmatch(text) else None


def bounded(raw, *, low: int, high: int) -> int | None:
    """A whole number within [low, high], or None."""
    value = whole(raw)
    return value if value is not None and low <= value <= high else None


def parse_id(raw) -> int | None:
    """A row ID from a query string or a form: a positive number a primary key can hold, or None."""
    return bounded(raw, low=1, high=MAX_ID)


def search_text(raw, max_length: int = 200) -> str:
    """A search box's text: stripped, cut to `max_length`, control characters dropped (none
    belongs in a search, and PostgreSQL refuses NUL in a query parameter)."""
    text = "" if raw is None else str(raw)[: max_length * 4]
    text = "".join(char for char in text if unicodedata.category(char) != "Cc")
    return text.strip()[:max_length]


def customer_view(view):
    """Logged-in pages, with dates shown in the customer's own time zone."""

    @login_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            timezone.activate(zoneinfo.ZoneInfo(request.user.timezone or "UTC"))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.activate(zoneinfo.ZoneInfo("UTC"))
        try:
            return view(request, *args, **kwargs)
        finally:
            timezone.deactivate()

    return wrapper


def paginate(request, queryset, size: int = PAGE_SIZE):
    """One page of `queryset`; a page number that is not one is page 1, past the end the last page."""
    number = bounded(request.GET.get("page"), low=1, high=MAX_PAGE) or 1
    return Paginator(queryset, size).get_page(number)
