"""Production settings, login lockout, sessions never authenticating the API, proxy IPs."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from accounts.models import User
from accounts.services import api_key_rotate

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_reports_nothing_with_production_settings():
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECURE_", "SESSION_", "CSRF_"))
        and k not in {"DEBUG", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="panel.example.com",
        FIELD_ENCRYPTION_KEY="0cTBgyJy0vdR6OfmBGm0dn4gUjJ0zbpHdsDvM_L6Ikk=",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/panel",
        PANEL_VAR_DIR=str(ROOT / "var" / "test"),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.fixture
def member(db):
    user = User.objects.create(username="member", email="member@example.com")
    user.set_password("right-password-123")
    user.save()
    return user


def _login(ip: str, password: str):
    return Client(REMOTE_ADDR=ip).post("/accounts/login/", {"login": "member", "password": password})


def test_lockout_is_per_username_and_ip_so_a_victim_elsewhere_still_logs_in(member, settings):
    settings.ACCOUNT_RATE_LIMITS = False  # allauth's own limits are checked elsewhere; this is axes
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login("203.0.113.9", "wrong").status_code == 200  # the form again, with an error
    assert _login("203.0.113.9", "wrong").status_code == 429  # the limit-th failure locks
    assert _login("203.0.113.9", "right-password-123").status_code == 429  # the attacker's IP: locked
    assert _login("198.51.100.7", "right-password-123").status_code == 302  # the victim's: logged in


def test_a_success_resets_the_failure_count(member, settings):
    settings.ACCOUNT_RATE_LIMITS = False
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login("203.0.113.10", "wrong")
    assert _login("203.0.113.10", "right-password-123").status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login("203.0.113.10", "wrong")
    assert _login("203.0.113.10", "right-password-123").status_code == 302


def test_lockout_is_short(settings):
    assert settings.AXES_COOLOFF_TIME.total_seconds() <= 30 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert settings.AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT is False


def test_login_signup_and_reset_are_rate_limited(settings):
    limits = settings.ACCOUNT_RATE_LIMITS
    assert {"login_failed", "signup", "reset_password"} <= limits.keys()
    # Counted in the cache, which is Redis whenever REDIS_URL is set.
    assert "redis" in settings.CACHES["default"]["BACKEND"].lower()


def test_a_session_never_authenticates_the_api(member, client):
    client.force_login(member)
    answer = client.post("/api/v2", {"action": "balance"}).json()
    assert answer == {"error": "Invalid API key"}
    key = api_key_rotate(user=member)
    assert "balance" in Client().post("/api/v2", {"key": key, "action": "balance"}).json()


def _seen_ip(proxies, remote: str, forwarded: str | None = None) -> str:
    from ipaddress import ip_network

    from django.test import RequestFactory, override_settings

    from panel.security import ClientIPMiddleware

    seen = []
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    with override_settings(TRUSTED_PROXIES=tuple(ip_network(p) for p in proxies)):
        middleware = ClientIPMiddleware(lambda request: seen.append(request.META["REMOTE_ADDR"]))
    middleware(RequestFactory().get("/", REMOTE_ADDR=remote, **extra))
    return seen[0]


PROXIES = ["10.0.0.0/8", "2001:db8:f::/48"]


@pytest.mark.parametrize(
    "proxies, remote, forwarded, client",
    [
        # No proxies configured: the header is never believed.
        ([], "203.0.113.5", "1.2.3.4", "203.0.113.5"),
        # The peer is not one of our proxies: whatever it sends about itself is ignored.
        (PROXIES, "203.0.113.5", "1.2.3.4", "203.0.113.5"),
        (PROXIES, "203.0.113.5", "10.0.0.9, 127.0.0.1", "203.0.113.5"),
        # Our proxy appended the client's address: the rightmost entry.
        (PROXIES, "10.0.0.2", "198.51.100.7", "198.51.100.7"),
        # A client-written prefix is skipped: only the entry our proxy appended counts.
        (PROXIES, "10.0.0.2", "6.6.6.6, 198.51.100.7", "198.51.100.7"),
        # Two of our proxies in a row: walk past the inner one.
        (PROXIES, "10.0.0.2", "6.6.6.6, 198.51.100.7, 10.1.2.3", "198.51.100.7"),
        # IPv6, a port, and the IPv4-mapped form of a peer on a dual-stack socket.
        (PROXIES, "2001:db8:f::1", "2001:db8:1::5", "2001:db8:1::5"),
        (PROXIES, "::ffff:10.0.0.2", "198.51.100.7:4431", "198.51.100.7"),
        (PROXIES, "10.0.0.2", "[2001:db8:1::5]:443", "2001:db8:1::5"),
        # Our proxy without a header, or a header of only proxies: the last proxy we reached.
        (PROXIES, "10.0.0.2", None, "10.0.0.2"),
        (PROXIES, "10.0.0.2", "10.0.0.3", "10.0.0.3"),
        # Garbage where our proxy's entry should be: stop at the proxy rather than believe it.
        (PROXIES, "10.0.0.2", "1.2.3.4, not-an-ip", "10.0.0.2"),
    ],
)
def test_client_ip_believes_x_forwarded_for_only_from_trusted_proxies(proxies, remote, forwarded, client):
    assert _seen_ip(proxies, remote, forwarded) == client


def test_a_spoofed_header_does_not_escape_the_login_lockout(member, settings):
    """The lockout counts by the IP the middleware settles on; rotating X-Forwarded-For from an
    untrusted peer must not give each attempt a fresh counter."""
    from ipaddress import ip_network

    settings.ACCOUNT_RATE_LIMITS = False
    settings.TRUSTED_PROXIES = (ip_network("10.0.0.0/8"),)
    attacker = Client(REMOTE_ADDR="203.0.113.77")
    for n in range(settings.AXES_FAILURE_LIMIT):
        attacker.post(
            "/accounts/login/", {"login": "member", "password": "wrong"}, HTTP_X_FORWARDED_FOR=f"198.18.0.{n}"
        )
    answer = attacker.post(
        "/accounts/login/", {"login": "member", "password": "right-password-123"}, HTTP_X_FORWARDED_FOR="198.18.9.9"
    )
    assert answer.status_code == 429


def test_allauth_reads_the_same_client_ip(rf):
    from allauth.account.adapter import get_adapter

    request = rf.get("/", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert get_adapter(request).get_client_ip(request) == "203.0.113.5"


@pytest.mark.parametrize(
    "candidate, secure, expected",
    [
        ("/orders/?page=2", False, "/orders/?page=2"),
        ("http://testserver/orders/", False, "http://testserver/orders/"),
        ("https://evil.example/", False, "/fallback/"),
        ("//evil.example/path", False, "/fallback/"),
        ("https:evil.example", False, "/fallback/"),
        ("/\\evil.example", False, "/fallback/"),
        ("\\\\evil.example", False, "/fallback/"),
        ("javascript:alert(1)", False, "/fallback/"),
        (" https://evil.example/", False, "/fallback/"),
        ("http://testserver/orders/", True, "/fallback/"),  # https page: no downgrade to http
        ("", False, "/fallback/"),
        (None, False, "/fallback/"),
    ],
)
def test_safe_next_url_keeps_only_this_hosts_pages(rf, candidate, secure, expected):
    from panel.security import safe_next_url

    request = rf.get("/", secure=secure)
    assert safe_next_url(request, candidate, "/fallback/") == expected


def test_production_cookies_and_headers(settings, client, db):
    # The test settings are production settings (DEBUG=false), except that tests talk plain http.
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE
    assert settings.SECURE_HSTS_SECONDS >= 31_536_000
    response = client.get("/accounts/login/", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_every_page_carries_a_strict_content_security_policy(client, db):
    for path in ("/accounts/login/", "/api/", "/healthz"):
        policy = client.get(path)["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
        assert directives["script-src"] == "'self'", path  # no inline script, no eval
        assert "unsafe" not in directives["default-src"] + directives["style-src"]
        assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
        assert directives["base-uri"] == "'self'"
        assert directives["form-action"] == "'self'"


def test_templates_have_no_inline_script_or_event_handler():
    """What the policy would block: <script> without src, on...= handlers, htmx's hx-on (eval),
    javascript: URLs. Pages pass data to static scripts through data-* and json_script."""
    import re

    inline_script = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
    handler = re.compile(r"""\son[a-z]+\s*=\s*["']""", re.I)
    found = []
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        for pattern in (inline_script, handler, re.compile(r"hx-on|javascript:", re.I)):
            found += [f"{template.relative_to(ROOT)}: {m.group(0)}" for m in pattern.finditer(text)]
    assert not found
