import hmac
import ipaddress

from django.conf import settings
from django.contrib import admin
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.urls import include, path
from django.views.decorators.cache import never_cache
from hijack.views import ReleaseUserView
from prometheus_client import CONTENT_TYPE_LATEST

from panel.i18n import set_language

from . import metrics
from .health import healthz, readyz


@never_cache
def metrics_view(request):
    """Prometheus scrape endpoint: 404 when METRICS_ENABLED is off; a bearer token when
    METRICS_TOKEN is set (always, in production: settings refuse to start without one); without
    a token (DEBUG only) just loopback and private addresses (a scraper inside the network)."""
    if not settings.METRICS_ENABLED:
        raise Http404
    token = settings.METRICS_TOKEN
    if token:
        sent = request.META.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.encode()):
            return HttpResponseForbidden("forbidden\n", content_type="text/plain")
    else:
        try:
            address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            address = None
        if not settings.DEBUG or address is None or not (address.is_private or address.is_loopback):
            return HttpResponseForbidden("forbidden\n", content_type="text/plain")
    return HttpResponse(metrics.render(), content_type=CONTENT_TYPE_LATEST)


urlpatterns = [
    # First: Django tries patterns in order, and /api/v2 is the most called URL by far.
    path("api/", include("api.urls")),
    # The Admin API for staff scripts (adminapi/), at the hosted leader's path.
    path("adminapi/v2/", include("adminapi.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
    # Google sign-in's login page with its own form-action (site_pages.social), then allauth's pages.
    path("accounts/", include("site_pages.social_urls")),
    path("accounts/", include("allauth.urls")),
    # The optional sign-up and login captcha's pictures (PANEL_CAPTCHA).
    path("captcha/", include("captcha.urls")),
    # Back to staff after signing in as a customer; starting is a backoffice page (2FA-gated).
    path("hijack/release/", ReleaseUserView.as_view(), name="hijack_release"),
    # The language picker on every page posts here (panel.i18n: cookie, and the account when signed in).
    path("i18n/setlang/", set_language, name="set_language"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    # Child panels' TLS question (tenants.views): PostgreSQL installs only, where panels exist.
    *([path("", include("tenants.urls"))] if settings.TENANCY else []),
    # Public pages (landing, FAQ, terms, privacy, news, sitemap.xml) before the dashboard's.
    path("", include("site_pages.urls")),
    path("", include("dashboard.urls")),
]
