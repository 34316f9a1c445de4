"""allauth's emails (verification, password reset) under the panel's branding, in the language of
the account they are about."""

from types import SimpleNamespace

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.contrib.auth import get_user_model
from django.contrib.sites.shortcuts import get_current_site
from django.utils import translation
from django.utils.encoding import force_str

from panel.i18n import language_valid
from tenants.limits import customers_room

from .selectors import brand


def mail_language(email: str, context: dict) -> str:
    """The account's own language when it chose one; else the language the page that sent the
    email is in (a visitor signing up or asking for a reset reads the email in it)."""
    user = context.get("user")
    if user is None and email:
        user = get_user_model().objects.filter(email__iexact=email).only("language").first()
    return language_valid(getattr(user, "language", "")) or translation.get_language()


class PanelAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # A child panel whose plan's customer limit is reached takes no new customers (allauth
        # shows its "sign up closed" page, and the sign-up form refuses).
        customers = get_user_model().objects.filter(is_staff=False)
        free = customers_room(customers.count)
        if free is not None and free <= 0:
            return False
        return super().is_open_for_signup(request)

    def format_email_subject(self, subject: str) -> str:
        return f"[{brand().name}] {force_str(subject)}"

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # allauth's templates greet with current_site.name (the host name without the sites
        # framework): the branded name instead, on the same domain.
        request = allauth_context.request
        site = SimpleNamespace(name=brand().name, domain=get_current_site(request).domain)
        ctx = {"request": request, "email": email, **context, "current_site": site}
        with translation.override(mail_language(email, context)):
            message = self.render_mail(template_prefix, email, ctx)
        message.send()

    def save_user(self, request, user, form, commit=True):
        # A new account keeps the language it signed up in, so what the panel sends it later
        # (verification, notifications, written outside any request) is in that language.
        if not user.language:
            user.language = language_valid(getattr(request, "LANGUAGE_CODE", None)) or ""
        return super().save_user(request, user, form, commit=commit)
