"""Rate limit per staff token (DRF throttling, counted in the cache: Redis in production)."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class PerTokenThrottle(SimpleRateThrottle):
    scope = "adminapi"

    def get_rate(self) -> str:
        return f"{settings.ADMIN_API_RATE_PER_MINUTE}/min"

    def get_cache_key(self, request, view) -> str | None:
        token = getattr(request, "auth", None)
        if token is None:
            return None  # refused by authentication anyway
        return self.cache_format % {"scope": self.scope, "ident": f"token-{token.pk}"}
