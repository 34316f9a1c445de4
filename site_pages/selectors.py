"""Reads for the public pages and the branding every page and email uses."""

from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import QuerySet

from panel.tenancy import panel_name

from .models import Branding, Page

BRAND_CACHE_KEY = "site_pages:brand:v1"


@dataclass(frozen=True)
class Brand:
    name: str
    tagline: str
    intro: str
    primary: str
    accent: str
    logo_version: int
    show_public_services: bool

    @property
    def style(self) -> str:
        """CSS custom properties for a style attribute (CSP allows style attributes, not <style>);
        the colours were validated as #rrggbb when saved, so nothing else can reach the page."""
        return f"--brand: {self.primary}; --brand-2: {self.primary}; --accent: {self.accent};"


def brand_cached() -> Brand | None:
    """The branding if the cache has it, without touching the database (the maintenance page)."""
    return cache.get(BRAND_CACHE_KEY)


def brand() -> Brand:
    """The branding, from the cache (one read per change, not per page)."""
    cached = brand_cached()
    if cached is not None:
        return cached
    row = Branding.objects.defer("logo_png").filter(pk=1).first() or Branding()
    value = Brand(
        name=row.panel_name or panel_name(),
        tagline=row.tagline,
        intro=row.intro,
        primary=row.primary_colour,
        accent=row.accent_colour,
        logo_version=row.logo_version,
        show_public_services=row.show_public_services,
    )
    cache.set(BRAND_CACHE_KEY, value, 3600)
    return value


def brand_forget() -> None:
    cache.delete(BRAND_CACHE_KEY)


def published_pages() -> QuerySet[Page]:
    return Page.objects.filter(published=True)


def page_of_kind(kind: str) -> Page | None:
    return published_pages().filter(kind=kind).order_by("-published_at", "-id").first()
