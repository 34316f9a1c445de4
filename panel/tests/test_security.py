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


def test_client_ip_comes_from_the_trusted_proxy_hop_only(settings, rf):
    from panel.security import ClientIPMiddleware

    seen = []

    def view(request):
        seen.append(request.META["REMOTE_ADDR"])
        return None

    settings.TRUSTED_PROXY_COUNT = 0
    ClientIPMiddleware(view)(rf.get("/", HTTP_X_FORWARDED_FOR="1.2.3.4", REMOTE_ADDR="10.0.0.2"))
    settings.TRUSTED_PROXY_COUNT = 1
    ClientIPMiddleware(view)(rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 5.6.7.8", REMOTE_ADDR="10.0.0.2"))
    assert seen == ["10.0.0.2", "5.6.7.8"]


def test_production_cookies_and_headers(settings, client, db):
    # The test settings are production settings (DEBUG=false), except that tests talk plain http.
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE
    assert settings.SECURE_HSTS_SECONDS >= 31_536_000
    response = client.get("/accounts/login/", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
