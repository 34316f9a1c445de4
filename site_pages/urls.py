from django.contrib.sitemaps.views import sitemap
from django.urls import path

from . import views
from .sitemaps import SITEMAPS

app_name = "site_pages"

urlpatterns = [
    path("welcome/", views.landing, name="landing"),
    path("faq/", views.faq, name="faq"),
    path("terms/", views.terms, name="terms"),
    path("privacy/", views.privacy, name="privacy"),
    path("news/", views.news, name="news"),
    path("news/<slug:slug>/", views.news_item, name="news_item"),
    path("brand/logo-<int:version>.png", views.logo, name="logo"),
    path("robots.txt", views.robots_txt, name="robots"),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
]
