"""Google sign-in (allauth's social accounts; the client ID and secret are a SocialApp that staff
add in the backoffice). Off until that app exists: the login page shows no Google button."""

from urllib.parse import urlsplit

from allauth.socialaccount.providers.google.views import GoogleOAuth2Adapter, oauth2_login


def google_login(request, *args, **kwargs):
    """allauth's Google login view. Its confirmation page posts to us and we answer with a
    redirect to Google's sign-in page; browsers check that redirect against the posting page's
    form-action, so this one page (and no other) also allows Google's sign-in origin."""
    response = oauth2_login(request, *args, **kwargs)
    parts = urlsplit(GoogleOAuth2Adapter.authorize_url)
    response._csp_update = {"form-action": [f"{parts.scheme}://{parts.netloc}"]}
    return response
