import functools
import zoneinfo

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.utils import timezone

PAGE_SIZE = 25


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
    return Paginator(queryset, size).get_page(request.GET.get("page"))
