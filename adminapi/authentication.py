"""The Admin API's authentication: the `X-Api-Key` header, as the hosted leader's Admin API v2."""

from rest_framework import authentication, exceptions

from .services import token_lookup

HEADER = "X-Api-Key"


class StaffTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw = request.META.get("HTTP_X_API_KEY")
        if raw is None:
            return None
        token = token_lookup(raw.strip())
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid API key")
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to a request without a valid key.
        return HEADER
