"""Google sign-in (allauth's social accounts; the client ID and secret are a SocialApp that staff
add in the backoffice). Off until that app exists: the login page shows no Google button, and
Google's addresses answer 404 (allauth itself fails with a server error when the app is missing,
which a child panel, with no Google app of its own, would show to anyone who typed the URL)."""

from functools import wraps
from urllib.parse import urlsplit

from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.google import views as google_views
from allauth.socialaccount.providers.google.views import GoogleOAuth2Adapter, oauth2_login
from django.http import Http404


def _google_configured(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not SocialApp.objects.filter(provider="google").exists():
            raise Http404("Google sign-in is not set up.")
        return view(request, *args, **kwargs)

    return wrapped


@_google_configured
def google_login(request, *args, **kwargs):
    """allauth's Google login view. Its confirmation page posts to us and we answer with a
    redirect to Google's sign-in page; browsers check that redirect against the posting page's
    form-action, so this one page (and no other) also allows Google's sign-in origin."""
    response = oauth2_login(request, *args, **kwargs)
    parts = urlsplit(GoogleOAuth2Adapter.authorize_url)
    response._csp_update = {"form-action": [f"{parts.scheme}://{parts.netloc}"]}
    return response


google_callback = _google_configured(google_views.oauth2_callback)
google_login_by_token = _google_configured(google_views.login_by_token)
