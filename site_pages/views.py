"""Public pages for visitors: landing, FAQ, terms, privacy, news, the logo."""

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from catalog.models import PricingSettings
from catalog.pricing import FLAT_TYPES, list_rate
from catalog.selectors import sellable_services

from .markdown import render_markdown
from .models import Branding, Page
from .selectors import brand, page_of_kind, published_pages

PUBLIC_SERVICES = 12


@require_GET
def landing(request):
    if request.user.is_authenticated:
        return redirect("dashboard:home")
    value = brand()
    services = []
    if value.show_public_services:
        pricing = PricingSettings.load()
        for service in sellable_services()[:PUBLIC_SERVICES]:
            service.public_rate = list_rate(service, pricing)
            service.flat = service.type in FLAT_TYPES
            services.append(service)
    context = {
        "intro_html": render_markdown(value.intro),
        "services": services,
        "news": list(published_pages().filter(kind=Page.Kind.NEWS)[:3]),
        "seo_title": value.name,
        "seo_description": value.tagline,
    }
    return render(request, "site_pages/landing.html", context)


def _page(request, page: Page | None):
    if page is None:
        raise Http404
    context = {
        "page": page,
        "body_html": render_markdown(page.body),
        "seo_title": page.seo_title or page.title,
        "seo_description": page.seo_description,
    }
    return render(request, "site_pages/page.html", context)


@require_GET
def faq(request):
    return _page(request, page_of_kind(Page.Kind.FAQ))


@require_GET
def terms(request):
    return _page(request, page_of_kind(Page.Kind.TERMS))


@require_GET
def privacy(request):
    return _page(request, page_of_kind(Page.Kind.PRIVACY))


@require_GET
def news(request):
    items = list(published_pages().filter(kind=Page.Kind.NEWS)[:50])
    context = {"items": items, "seo_title": None, "seo_description": brand().tagline}
    return render(request, "site_pages/news.html", context)


@require_GET
def news_item(request, slug: str):
    return _page(request, get_object_or_404(published_pages(), kind=Page.Kind.NEWS, slug=slug))


@require_GET
@cache_control(public=True, max_age=3600)
def robots_txt(request):
    # Names no private address (the staff site's path is a setting and stays unadvertised).
    lines = [
        "User-agent: *",
        "Disallow: /accounts/",
        "Disallow: /api/",
        "Disallow: /captcha/",
        f"Sitemap: {request.build_absolute_uri(reverse('site_pages:sitemap'))}",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain")


@require_GET
@cache_control(public=True, max_age=86400)
def logo(request, version: int):
    # The version is in the address, so a new logo is a new URL and the old one may be cached long.
    row = Branding.objects.filter(pk=1).only("logo_png").first()
    if row is None or not row.logo_png:
        raise Http404
    response = HttpResponse(bytes(row.logo_png), content_type="image/png")
    response["X-Content-Type-Options"] = "nosniff"
    return response
