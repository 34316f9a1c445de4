"""Who the client is (its IP behind proxies) and the login lockout (django-axes)."""

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next_url(request: HttpRequest, candidate: str | None, fallback: str) -> str:
    """`candidate` if it is a URL on this very host (a relative path such as "/orders/?page=2"),
    else `fallback`.

    For every redirect whose target comes from the client: a `next` parameter, a posted field,
    the Referer header. Other hosts, scheme-relative "//evil.example", "https:evil.example",
    backslash tricks and (on an HTTPS request) plain-http URLs are all refused, so a link to
    our login page cannot send someone on to a look-alike site after they sign in.
    """
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback


class ClientIPMiddleware:
    """Put the client's real address in REMOTE_ADDR when the panel runs behind proxies.

    With TRUSTED_PROXY_COUNT = N, the address our outermost proxy saw is the N-th entry from the
    right of X-Forwarded-For; anything left of it was written by the client and is ignored. Rate
    limits (the API's, allauth's) and lockouts all read REMOTE_ADDR, so they agree on one IP.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.count = settings.TRUSTED_PROXY_COUNT

    def __call__(self, request: HttpRequest):
        if self.count:
            hops = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
            if len(hops) >= self.count:
                request.META["REMOTE_ADDR"] = hops[-self.count]
        return self.get_response(request)


def client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def login_name(request: HttpRequest, credentials: dict | None) -> str | None:
    """The name a login attempt was made for: allauth passes `username` or `email`, the
    backoffice's form `username`; case-folded so that "Demo" and "demo" share one counter."""
    credentials = credentials or {}
    name = credentials.get("username") or credentials.get("email")
    if not name and request is not None:
        data = getattr(request, "POST", {})
        name = data.get("login") or data.get("username") or data.get("email")
    return name.strip().lower() if isinstance(name, str) else name


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' check, for logins made through a request.

    Logins without a request (the test client's `login()`, a management command) are not web
    logins: nobody can guess passwords through them, so there is nothing to lock.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
