"""allauth's emails (verification, password reset) under the panel's branding."""

from types import SimpleNamespace

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.contrib.sites.shortcuts import get_current_site
from django.utils.encoding import force_str

from .selectors import brand


class PanelAccountAdapter(DefaultAccountAdapter):
    def format_email_subject(self, subject: str) -> str:
        return f"[{brand().name}] {force_str(subject)}"

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # allauth's templates greet with current_site.name (the host name without the sites
        # framework): the branded name instead, on the same domain.
        request = allauth_context.request
        site = SimpleNamespace(name=brand().name, domain=get_current_site(request).domain)
        ctx = {"request": request, "email": email, **context, "current_site": site}
        self.render_mail(template_prefix, email, ctx).send()
