"""Chooses the panel of a request by its host name, before anything else reads the database."""

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpResponse, JsonResponse
from django.http.request import split_domain_port, validate_host
from django.template.loader import render_to_string
from django.utils import translation
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

from panel.tenancy import parent_hosts

from .lookup import panel_for_host
from .models import PanelStatus, SuspendedReason


def suspended_page(request, tenant) -> HttpResponse:
    """A suspended child's notice, in the visitor's language (this runs before LocaleMiddleware);
    the owner is told where to pay."""
    language = translation.get_language_from_request(request)
    parent_url = settings.PANEL_URL.rstrip("/") + "/child-panels/"
    context = {
        "notice_name": tenant.name,
        "unpaid": tenant.suspended_reason == SuspendedReason.UNPAID,
        "parent_url": parent_url,
    }
    with translation.override(language):
        body = render_to_string("tenants/suspended.html", context)
    response = HttpResponse(body, status=503)
    response["Retry-After"] = "3600"
    return response


class PanelMiddleware(TenantMainMiddleware):
    """A child panel's host name selects its schema; every other host is the parent's.

    The parent (`public`) needs no domain row: with no child panels every request is served as
    before. A suspended child keeps its data and answers 503: pages with a notice, the API in
    the protocol's error shape.
    """

    def get_tenant(self, domain_model, hostname):
        # The registry's answer from the cache (tenants.lookup): after the first request a host
        # name costs no query, and a change to the registry is seen at the next request.
        panel = panel_for_host(hostname)
        if panel is None:
            raise domain_model.DoesNotExist
        return panel

    def process_request(self, request):
        self.check_host(request)
        response = super().process_request(request)
        if response is not None:
            return response
        tenant = getattr(request, "tenant", None)
        if tenant is None or tenant.schema_name == get_public_schema_name():
            return None
        if tenant.status == PanelStatus.SUSPENDED:
            message = "This panel is suspended."
            if request.path.startswith("/api/"):
                return JsonResponse({"error": message}, status=503)
            return suspended_page(request, tenant)
        return None

    @staticmethod
    def check_host(request) -> None:
        """Django's ALLOWED_HOSTS check, widened to the registered panels' domains.

        Raises DisallowedHost (Django answers 400) for a host that is neither the parent's nor a
        panel's, so a forged Host header can no more reach the site than without child panels.
        """
        domain, _port = split_domain_port(request._get_raw_host())
        domain = domain.rstrip(".").lower()
        if domain and (validate_host(domain, parent_hosts()) or panel_for_host(domain) is not None):
            return
        raise DisallowedHost(f"Invalid HTTP_HOST header: {request._get_raw_host()!r}.")

    def no_tenant_found(self, request, hostname):
        # Not a child's host name: the parent panel, which has always answered every allowed host.
        return None
