"""Browser tests of the public face and the account pages (Debian's chromium through Playwright),
with screenshots at desktop and phone widths: the landing page signed out with staff branding,
FAQ, terms and news, sign-up with email verification, the sessions page, the branded dashboard."""

import io
import re
from decimal import Decimal

from django.core import mail
from django.core.cache import cache
from PIL import Image
from playwright.sync_api import expect

from accounts.models import User
from panel.tests.csp_watch import watch_csp
from site_pages.models import Branding, Page
from site_pages.services import branding_save
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot

pytestmark = BROWSER_MARKS

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
SIZES = (("desktop", DESKTOP), ("phone", PHONE))


def _logo() -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (128, 128), (15, 118, 110))
    for x in range(32, 96):
        for y in range(32, 96):
            image.putpixel((x, y), (245, 158, 11))
    image.save(out, format="PNG")
    return out.getvalue()


def _brand_and_content(make_service):
    service = make_service("Default")
    service.fixed_rate = Decimal("0.85")
    service.save()
    branding_save(
        actor_id=None,
        row=Branding(
            panel_name="BoostHub",
            tagline="Real growth for creators and agencies, delivered in minutes.",
            intro="Pay as you go, **no subscription**. [Read the FAQ](/faq/).",
            primary_colour="#0f766e",
            accent_colour="#f59e0b",
            show_public_services=True,
        ),
        logo=_logo(),
    )
    Page.objects.create(
        kind="faq", slug="faq", title="Frequently asked questions", published=True,
        seo_title="FAQ", seo_description="Delivery times, refills and refunds.",
        body="## How fast do orders start?\n\nMost start within minutes.\n\n## Do you refund?\n\n"
        "Whatever is not delivered goes back to your balance.<script>alert('x')</script>",
    )  # fmt: skip
    Page.objects.create(
        kind="terms", slug="terms", title="Terms of service", published=True,
        body="1. Orders are final once started.\n2. Balances are not withdrawable.\n\n[Privacy](/privacy/)",
    )  # fmt: skip
    Page.objects.create(
        kind="news", slug="tiktok-services", title="New TikTok services", published=True,
        seo_description="Views and likes with refill.", body="We added **TikTok** views and likes.",
    )  # fmt: skip
    return service


def test_public_pages_signed_out_with_branding(browser, live_server, make_service):
    service = _brand_and_content(make_service)
    for label, viewport in SIZES:
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.set_default_timeout(15_000)
        watch = watch_csp(page)
        page.goto(f"{live_server.url}/")
        assert page.url.endswith("/welcome/")
        expect(page.locator("#brand-name")).to_have_text("BoostHub")
        expect(page.locator("#public-services")).to_contain_text(service.name)
        expect(page.locator("#public-services")).to_contain_text("0.85")
        colour = page.evaluate("getComputedStyle(document.querySelector('#cta-signup')).backgroundColor")
        assert colour == "rgb(15, 118, 110)"
        assert page.locator("img.pub-logo").evaluate("img => img.naturalWidth") == 128
        assert page.title() == "BoostHub"
        screenshot(page, f"public-landing-{label}")
        watch.assert_clean("landing")

        page.goto(f"{live_server.url}/faq/")
        expect(page.locator("#page h2").first).to_have_text("How fast do orders start?")
        assert page.locator("#page script").count() == 0
        assert page.title() == "FAQ · BoostHub"
        assert (
            page.locator('meta[name="description"]').get_attribute("content") == "Delivery times, refills and refunds."
        )
        screenshot(page, f"public-faq-{label}")
        page.goto(f"{live_server.url}/terms/")
        expect(page.locator("#page")).to_contain_text("Orders are final once started.")
        screenshot(page, f"public-terms-{label}")
        page.goto(f"{live_server.url}/news/")
        page.click("text=New TikTok services")
        expect(page.locator("#page")).to_contain_text("We added TikTok views and likes.")
        screenshot(page, f"public-news-{label}")
        watch.assert_clean("public pages")
        context.close()


def test_sign_up_with_email_verification(browser, live_server, settings, db):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    cache.clear()
    for label, viewport in SIZES:
        name = f"verify{label}"
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.set_default_timeout(15_000)
        watch = watch_csp(page)
        page.goto(f"{live_server.url}/welcome/")
        page.click("#cta-signup")
        page.fill("input[name=email]", f"{name}@example.com")
        page.fill("input[name=username]", name)
        page.fill("input[name=password1]", "a-Long-pass-123")
        page.fill("input[name=password2]", "a-Long-pass-123")
        screenshot(page, f"account-signup-{label}")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/accounts/confirm-email/$"))
        screenshot(page, f"account-verification-sent-{label}")
        message = [m for m in mail.outbox if m.to == [f"{name}@example.com"]][-1]
        link = re.search(r"(http://[^\s]+/accounts/confirm-email/[^\s]+/)", message.body).group(1)
        page.goto(link)
        screenshot(page, f"account-confirm-email-{label}")
        page.click("button[type=submit]")
        page.wait_for_url(lambda address: "/confirm-email/" not in address)
        assert User.objects.get(username=name).emailaddress_set.get().verified
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", name)
        page.fill("input[name=password]", "a-Long-pass-123")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/$"))
        expect(page.locator("#balance")).to_be_visible()
        watch.assert_clean("sign-up")
        context.close()


def test_sessions_page_and_branded_dashboard(browser, live_server, customer, make_service):
    _brand_and_content(make_service)
    for label, viewport in SIZES:
        other = page_logged_in_as(browser, live_server, customer, viewport=viewport)
        other.goto(f"{live_server.url}/")
        page = page_logged_in_as(browser, live_server, customer, viewport=viewport)
        watch = watch_csp(page)
        page.goto(f"{live_server.url}/")
        expect(page.locator(".sidebar .brand")).to_contain_text("BoostHub")
        assert page.locator(".sidebar img.brand-logo").count() == 1
        colour = page.evaluate("getComputedStyle(document.body).getPropertyValue('--brand').trim()")
        assert colour == "#0f766e"
        screenshot(page, f"branding-dashboard-{label}")
        page.goto(f"{live_server.url}/accounts/sessions/")
        expect(page.locator("table")).to_contain_text("Current")
        # Both of this loop's sign-ins are listed (and the previous width's, which survived its own clean-up).
        assert page.locator("tbody tr").count() >= 2
        screenshot(page, f"account-sessions-{label}")
        page.click("main button[type=submit]")
        page.goto(f"{live_server.url}/accounts/sessions/")
        assert page.locator("tbody tr").count() == 1
        response = other.goto(f"{live_server.url}/orders/")
        assert "/accounts/login/" in other.url, response.url
        watch.assert_clean("sessions")
        other.context.close()
        page.context.close()


def test_sign_in_page_with_captcha_and_google(browser, live_server, settings, monkeypatch, db):
    from allauth.socialaccount.models import SocialApp
    from allauth.socialaccount.providers.google.views import GoogleOAuth2Adapter

    from .fake_google import FakeGoogle

    cache.clear()
    settings.PANEL_CAPTCHA = True
    person = {"sub": "4242", "email": "gbrowser@example.com", "email_verified": True, "name": "G Browser"}
    fake = FakeGoogle(client_id="browser-client", client_secret="browser-secret", person=person)
    monkeypatch.setattr(GoogleOAuth2Adapter, "authorize_url", f"{fake.url}/o/oauth2/v2/auth")
    monkeypatch.setattr(GoogleOAuth2Adapter, "access_token_url", f"{fake.url}/token")
    SocialApp.objects.create(provider="google", name="Google", client_id=fake.client_id, secret=fake.client_secret)
    try:
        for label, viewport in SIZES:
            context = browser.new_context(viewport=viewport)
            page = context.new_page()
            page.set_default_timeout(15_000)
            watch = watch_csp(page)
            page.goto(f"{live_server.url}/accounts/login/")
            captcha = page.locator("img.captcha")
            expect(captcha).to_be_visible()
            assert captcha.evaluate("img => img.naturalWidth") > 0
            screenshot(page, f"account-login-captcha-google-{label}")
            watch.assert_clean("login page")
            page.click("a[href*='/accounts/google/login/']")
            page.wait_for_url(re.compile(r".*/accounts/google/login/.*"))
            screenshot(page, f"account-google-confirm-{label}")
            page.click("main button[type=submit]")
            page.wait_for_url(re.compile(rf"^{re.escape(live_server.url)}/$"))
            expect(page.locator("#balance")).to_be_visible()
            watch.assert_clean("google sign-in")
            context.close()
        assert User.objects.filter(email="gbrowser@example.com").count() == 1
    finally:
        fake.close()
