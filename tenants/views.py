"""The certificate question a TLS front end asks before it serves a host name it has not seen.

Child panels on their owners' own domains need certificates the operator cannot list in advance.
Caddy's on-demand TLS (`on_demand_tls { ask http://127.0.0.1:8000/tls/allowed }`) asks
`GET <ask>?domain=<host>` before obtaining one and goes ahead only on a 2xx answer, so nobody can
make the install request certificates for names that are not ours. We answer 200 for a domain
that serves a live panel (and the parent's own host names), 404 otherwise. Only callers on the
same machine or network may ask: the answer tells which domains are panels.
"""

import ipaddress

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from panel.tenancy import parent_hosts

from .models import Domain, PanelStatus


def _nearby(request) -> bool:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return address.is_loopback or address.is_private


@never_cache
@require_GET
def tls_allowed(request):
    if not _nearby(request):
        return HttpResponseForbidden("forbidden\n", content_type="text/plain")
    domain = request.GET.get("domain", "").strip().rstrip(".").lower()
    if not domain or len(domain) > 253:
        return HttpResponse("no domain\n", status=400, content_type="text/plain")
    # The parent's own names, listed exactly: a pattern such as `.panels.example.com` (every
    # subdomain) would let anyone make us ask for certificates for random names.
    exact_parent_hosts = {host.lower() for host in parent_hosts() if host != "*" and not host.startswith(".")}
    served = settings.CHILD_PANELS and (
        Domain.objects.filter(domain=domain).exclude(tenant__status=PanelStatus.DELETED).exists()
    )
    if served or domain in exact_parent_hosts:
        return HttpResponse("ok\n", content_type="text/plain")
    return HttpResponse("unknown\n", status=404, content_type="text/plain")
