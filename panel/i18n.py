"""The user's language: chosen once, remembered on the account (signed in) or in a cookie (visitor).

Django's LocaleMiddleware reads the cookie and the browser's Accept-Language; this middleware, after
authentication, puts a signed-in user's own choice above both, so a customer sees their language on
every device. `set_language` is Django's view of the same name (it validates the code, sets the
cookie and refuses off-site `next` URLs) that also saves the choice on the account.
"""

from django.conf import settings
from django.utils import translation
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language


def language_valid(code: str | None) -> str | None:
    """The shipped language `code` names (case-insensitive), else None."""
    if not code:
        return None
    code = code.strip().lower()
    return code if code in dict(settings.LANGUAGES) else None


def language_of(user) -> str:
    """The language to write to `user` in (emails, notifications): theirs, else the panel's."""
    return language_valid(getattr(user, "language", "")) or settings.LANGUAGE_CODE


class UserLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        chosen = language_valid(getattr(user, "language", "")) if user is not None and user.is_authenticated else None
        if chosen and chosen != request.LANGUAGE_CODE:
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
        return self.get_response(request)


@require_POST
def set_language(request):
    response = django_set_language(request)
    chosen = language_valid(request.POST.get("language"))
    user = request.user
    if chosen and user.is_authenticated and getattr(user, "language", None) != chosen:
        user.language = chosen
        user.save(update_fields=["language"])
    return response
