"""Public pages: landing, staff Markdown sanitised, SEO tags, sitemap, branding, the logo."""

import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from PIL import Image

from accounts.models import AuditLog
from site_pages.markdown import render_markdown
from site_pages.models import Branding, Page
from site_pages.selectors import brand
from site_pages.services import LogoRefused, branding_save, logo_png


def _png(size=(600, 300), colour=(200, 30, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>hello",
        "[click](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "<javascript:alert(1)>",
        '<img src=x onerror="alert(1)">',
        '<a href="https://ok.example" onclick="steal()">a</a>',
        "![pic](data:text/html;base64,PHNjcmlwdD4=)",
        '<iframe src="https://evil.example"></iframe>',
        '<div style="position:fixed">x</div>',
    ],
)
def test_markdown_drops_scripts_handlers_and_dangerous_links(source):
    # Raw HTML comes out as escaped text (harmless); what must never appear is live markup.
    html = render_markdown(source)
    elements = _elements(html)
    assert not any(tag in {"script", "iframe", "div", "style", "a", "img"} for tag, _ in elements), html
    for _tag, attrs in elements:
        for name, value in attrs:
            assert not name.startswith("on") and name != "style", html
            assert not (value or "").strip().lower().startswith(("javascript:", "data:")), html


def _elements(html: str) -> list:
    from html.parser import HTMLParser

    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collect().feed(html)
    return found


def test_the_sanitiser_runs_after_the_parser():
    # Whatever HTML reaches it (a parser bug, a plugin turned on later), nh3 has the last word.
    import nh3

    from site_pages.markdown import ATTRIBUTES, TAGS

    dirty = (
        '<p><a href="javascript:alert(1)" onclick="x()">a</a><script>bad()</script><img src="data:x" onerror="y"></p>'
    )
    clean = nh3.clean(dirty, tags=TAGS, attributes=ATTRIBUTES, url_schemes={"http", "https", "mailto"})
    assert "javascript" not in clean and "onclick" not in clean and "<script" not in clean
    assert "data:" not in clean and "onerror" not in clean


def test_markdown_keeps_formatting_and_safe_links():
    html = render_markdown("# Title\n\n**bold** [docs](https://example.com/a) and `code`\n\n- one\n- two")
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert '<a href="https://example.com/a" rel="nofollow noopener noreferrer">docs</a>' in html
    assert "<code>code</code>" in html and "<li>one</li>" in html


def test_visitors_land_on_the_public_page_and_customers_on_their_dashboard(client, customer):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == reverse("site_pages:landing")
    landing = client.get(reverse("site_pages:landing"))
    assert landing.status_code == 200
    body = landing.content.decode()
    assert reverse("account_signup") in body and reverse("account_login") in body
    client.force_login(customer)
    assert client.get("/").status_code == 200
    assert client.get(reverse("site_pages:landing"))["Location"] == reverse("dashboard:home")


def test_public_services_and_prices_only_when_staff_enable_them(client, make_service):
    service = make_service("Default")
    service.fixed_rate = Decimal("1.2345")
    service.save()
    body = client.get(reverse("site_pages:landing")).content.decode()
    assert 'id="public-services"' not in body and service.name not in body
    branding_save(actor_id=None, row=Branding(show_public_services=True))
    body = client.get(reverse("site_pages:landing")).content.decode()
    assert 'id="public-services"' in body
    assert service.name in body and "1.2345" in body


def test_pages_render_sanitised_markdown_with_their_seo_tags(client):
    Page.objects.create(
        kind="faq",
        slug="faq",
        title="Questions",
        body="## How fast?\n\nMinutes. <script>alert('x')</script> [bad](javascript:alert(1))",
        seo_title="FAQ: delivery times",
        seo_description="How fast orders start & finish.",
        published=True,
    )
    body = client.get(reverse("site_pages:faq")).content.decode()
    assert "<h2>How fast?</h2>" in body
    assert "<script>alert" not in body and 'href="javascript' not in body
    assert re.search(r"<title>FAQ: delivery times · [^<]+</title>", body)
    assert '<meta name="description" content="How fast orders start &amp; finish.">' in body
    assert '<link rel="canonical" href="http://testserver/faq/">' in body
    assert '<meta property="og:title" content="FAQ: delivery times">' in body


def test_unpublished_and_missing_pages_are_not_found(client):
    assert client.get(reverse("site_pages:terms")).status_code == 404
    Page.objects.create(kind="terms", slug="terms", title="Terms", body="Draft", published=False)
    Page.objects.create(kind="news", slug="soon", title="Soon", body="Draft", published=False)
    assert client.get(reverse("site_pages:terms")).status_code == 404
    assert client.get(reverse("site_pages:news_item", args=["soon"])).status_code == 404
    assert "Soon" not in client.get(reverse("site_pages:news")).content.decode()


def test_news_list_and_item(client):
    Page.objects.create(kind="news", slug="new-services", title="New services", body="*Fresh*", published=True)
    assert "New services" in client.get(reverse("site_pages:news")).content.decode()
    body = client.get("/news/new-services/").content.decode()
    assert "<em>Fresh</em>" in body and "<title>New services · " in body


def test_sitemap_lists_public_pages_and_published_content(client):
    Page.objects.create(kind="privacy", slug="privacy", title="Privacy", body="x", published=True)
    Page.objects.create(kind="news", slug="launch", title="Launch", body="x", published=True)
    Page.objects.create(kind="news", slug="hidden", title="Hidden", body="x", published=False)
    response = client.get("/sitemap.xml")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/xml")
    xml = response.content.decode()
    for path in ("/welcome/", "/news/", "/accounts/signup/", "/privacy/", "/news/launch/"):
        assert f"<loc>http://testserver{path}</loc>" in xml
    assert "/news/hidden/" not in xml and "/terms/" not in xml


def test_robots_txt_points_at_the_sitemap(client, settings):
    body = client.get("/robots.txt").content.decode()
    assert "Sitemap: http://testserver/sitemap.xml" in body
    assert settings.ADMIN_URL.strip("/") not in body


def test_branding_names_and_colours_the_dashboard_and_public_pages(client, customer, admin_client):
    admin_client.post(
        reverse("admin:site_pages_branding_add"),
        {
            "panel_name": "BoostHub",
            "tagline": "Growth for creators",
            "intro": "",
            "primary_colour": "#0f766e",
            "accent_colour": "#f59e0b",
            "logo": io.BytesIO(_png()),
        },
    )
    row = Branding.objects.get()
    assert (row.panel_name, row.primary_colour, row.logo_version) == ("BoostHub", "#0f766e", 1)
    assert AuditLog.objects.filter(action="branding.change").count() == 1
    public = client.get(reverse("site_pages:landing")).content.decode()
    assert "BoostHub" in public and "Growth for creators" in public
    assert 'style="--brand: #0f766e; --brand-2: #0f766e; --accent: #f59e0b;"' in public
    assert 'src="/brand/logo-1.png"' in public
    client.force_login(customer)
    dashboard = client.get("/").content.decode()
    assert "BoostHub" in dashboard and "--brand: #0f766e" in dashboard and 'src="/brand/logo-1.png"' in dashboard
    logo = client.get("/brand/logo-1.png")
    assert logo["Content-Type"] == "image/png" and logo["X-Content-Type-Options"] == "nosniff"
    with Image.open(io.BytesIO(logo.content)) as image:
        assert image.format == "PNG" and max(image.size) <= 256


def test_branding_refuses_bad_colours_and_non_images(admin_client):
    response = admin_client.post(
        reverse("admin:site_pages_branding_add"),
        {"panel_name": "X", "primary_colour": "red;}</style><script>", "accent_colour": "#000000",
         "logo": io.BytesIO(b"<svg onload=alert(1)>")},
    )  # fmt: skip
    assert response.status_code == 200
    assert not Branding.objects.exists()
    with pytest.raises(LogoRefused):
        logo_png(b"GIF89a not really")
    with pytest.raises(LogoRefused):
        logo_png(b"\x89PNG" + b"0" * (600 * 1024))
    assert brand().primary == "#4f46e5"


def test_branding_in_emails_through_the_template_tag():
    from django.template import Context, Template

    branding_save(actor_id=None, row=Branding(panel_name="MailBrand", primary_colour="#112233"))
    out = Template("{% load branding %}{% brand as b %}{{ b.name }} {{ b.primary }}").render(Context())
    assert out == "MailBrand #112233"


def test_emails_carry_the_branding():
    from django.template.loader import render_to_string

    branding_save(actor_id=None, row=Branding(panel_name="MailBrand", primary_colour="#112233"))
    html = render_to_string("email/base.html", {"unsubscribe_url": "https://x.example/u", "preferences_url": "/p"})
    assert "<title>MailBrand</title>" in html and "color:#112233" in html
    text = render_to_string("email/base.txt", {"panel_url": "https://panel.example"})
    assert "MailBrand · https://panel.example" in text


def test_the_maintenance_page_reads_the_branding_from_the_cache_only(client, admin_user, django_assert_num_queries):
    from backoffice.site_mode import maintenance_forget, maintenance_set

    branding_save(actor_id=None, row=Branding(panel_name="CachedBrand"))
    maintenance_set(actor_id=admin_user.pk, enabled=True, message="Back soon")
    maintenance_forget()
    brand()  # in the cache, as any page view leaves it
    with django_assert_num_queries(0):
        page = client.get("/welcome/")
    assert page.status_code == 503 and "CachedBrand" in page.content.decode()
    maintenance_set(actor_id=admin_user.pk, enabled=False, message="")
