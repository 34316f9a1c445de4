"""Activates the display currency of each request (see currencies.display)."""

from .display import activate, deactivate

COOKIE = "currency"


def requested_currency(request) -> str:
    """A signed-in customer's choice on their account; a visitor's `currency` cookie. "" means the
    panel currency. Not checked here: currencies.display falls back to the panel currency for a
    code staff do not offer or that has no rate."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return getattr(user, "display_currency", "") or ""
    return request.COOKIES.get(COOKIE, "")[:3]


class DisplayCurrencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = activate(requested_currency(request))
        try:
            return self.get_response(request)
        finally:
            deactivate(token)
