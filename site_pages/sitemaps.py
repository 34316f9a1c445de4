from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from .models import Page
from .selectors import published_pages


class StaticSitemap(Sitemap):
    changefreq = "weekly"

    def items(self):
        return ["site_pages:landing", "site_pages:news", "account_signup", "account_login"]

    def location(self, item):
        return reverse(item)


class PageSitemap(Sitemap):
    changefreq = "weekly"

    def items(self):
        # One address per kind for FAQ, terms and privacy (the newest published), every news item.
        pages = list(published_pages().order_by("-published_at", "-id"))
        seen, shown = set(), []
        for page in pages:
            if page.kind == Page.Kind.NEWS or page.kind not in seen:
                seen.add(page.kind)
                shown.append(page)
        return shown

    def lastmod(self, page):
        return page.updated_at


SITEMAPS = {"static": StaticSitemap, "pages": PageSitemap}
