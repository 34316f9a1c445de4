"""Bad configuration stops start-up with a message naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 50,
    "FIELD_ENCRYPTION_KEY": "0cTBgyJy0vdR6OfmBGm0dn4gUjJ0zbpHdsDvM_L6Ikk=",
    "ALLOWED_HOSTS": "panel.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/panel",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "METRICS_TOKEN": "scrape-token",
}


def start(code: str = "import django; django.setup()", **overrides: str | None) -> subprocess.CompletedProcess:
    dropped = {"CELERY_BROKER_URL", "PANEL_CURRENCY", "TRUSTED_PROXIES", "TRUSTED_PROXY_COUNT", "METRICS_ENABLED"}
    env = {k: v for k, v in os.environ.items() if k not in GOOD and k not in dropped}
    env.update(GOOD)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["DJANGO_SETTINGS_MODULE"] = "panel.settings"
    env["PANEL_VAR_DIR"] = str(ROOT / "var" / "test")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)


def test_good_configuration_starts():
    result = start()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"SECRET_KEY": None}, "SECRET_KEY is required"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS is required"),
        ({"FIELD_ENCRYPTION_KEY": None}, "FIELD_ENCRYPTION_KEY is required"),
        ({"FIELD_ENCRYPTION_KEY": "short"}, "Fernet key"),
        ({"PANEL_CURRENCY": "dollars"}, "PANEL_CURRENCY='dollars' must be a 3-letter"),
        ({"TIME_ZONE": "Mars/Olympus"}, "TIME_ZONE='Mars/Olympus' is not a known time zone"),
        ({"DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL must be a URL starting with one of postgres"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL must be a URL"),
        ({"CONN_MAX_AGE": "soon"}, "CONN_MAX_AGE='soon' is not a whole number"),
        ({"DATABASE_PREPARED_STATEMENTS": "often"}, "DATABASE_PREPARED_STATEMENTS='often' is not a boolean"),
        ({"TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"}, "TRUSTED_PROXIES: 'proxy.local' is not a network"),
        ({"TRUSTED_PROXIES": "10.0.0.1/8"}, "TRUSTED_PROXIES: '10.0.0.1/8' is not a network"),
        ({"TRUSTED_PROXY_COUNT": "1"}, "TRUSTED_PROXY_COUNT is no longer used: set TRUSTED_PROXIES"),
        ({"METRICS_TOKEN": None}, "METRICS_TOKEN is required unless DEBUG=true"),
        ({"METRICS_TOKEN": "  "}, "METRICS_TOKEN is required unless DEBUG=true"),
        ({"METRICS_ENABLED": "perhaps"}, "METRICS_ENABLED='perhaps' is not a boolean"),
    ],
)
def test_bad_values_stop_start_up_with_a_clear_message(overrides, message):
    result = start(**overrides)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


@pytest.mark.parametrize("value, threshold", [(None, "5"), ("true", "5"), ("false", "None")])
def test_prepared_statements_can_be_turned_off_for_pgbouncer(value, threshold):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default'].get('OPTIONS', {}).get('prepare_threshold'))"
    )
    result = start(code, DATABASE_PREPARED_STATEMENTS=value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == threshold


def test_debug_gives_dev_defaults_and_sqlite_with_the_embedded_broker():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.PANEL_CURRENCY)"
    )
    env = {k: v for k, v in os.environ.items() if k not in GOOD and k != "CELERY_BROKER_URL"}
    env.update({"DEBUG": "true", "DJANGO_SETTINGS_MODULE": "panel.settings", "PANEL_VAR_DIR": str(ROOT / "var" / "t")})
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://", "USD"]


def test_trusted_proxies_are_parsed_into_networks():
    code = "import django; django.setup(); from django.conf import settings as s; print(*s.TRUSTED_PROXIES)"
    result = start(code, TRUSTED_PROXIES=" 10.0.0.0/8, 172.16.0.0/12,192.0.2.7 ,2001:db8::/32")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["10.0.0.0/8", "172.16.0.0/12", "192.0.2.7/32", "2001:db8::/32"]
    result = start(code)
    assert result.returncode == 0 and result.stdout.strip() == ""


def test_metrics_may_be_turned_off_instead_of_given_a_token():
    code = "import django; django.setup(); from django.conf import settings as s; print(s.METRICS_ENABLED)"
    result = start(code, METRICS_TOKEN=None, METRICS_ENABLED="false")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
