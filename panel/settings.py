"""One settings module, configured from the environment.

Every variable is read and checked here, so a bad value stops start-up with a message that
names it instead of failing later inside a request or a task.
"""

import hashlib
import ipaddress
import os
import zoneinfo
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PANEL_VAR_DIR", BASE_DIR / "var"))
# Tests split over processes by pytest-xdist (`make test`): each worker gets a var directory and a
# Redis database of its own (REDIS_URL below); pytest-django already gives each its own test database.
_TEST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _TEST_WORKER:
    VAR_DIR = VAR_DIR / _TEST_WORKER
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use true or false.")


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}.")
    return value


def _url(name: str, default: str | None, schemes: tuple[str, ...]) -> str | None:
    raw = os.environ.get(name, default)
    if raw is None or raw == "":
        return None
    if raw.split("://", 1)[0] not in schemes or "://" not in raw:
        raise ImproperlyConfigured(f"{name} must be a URL starting with one of {', '.join(schemes)}://")
    return raw


def _networks(name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for part in os.environ.get(name, "").split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip()))
            except ValueError as exc:
                raise ImproperlyConfigured(
                    f"{name}: {part.strip()!r} is not a network such as 10.0.0.0/8 or 192.0.2.7 ({exc})."
                ) from None
    return tuple(networks)


DEBUG = _bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required unless DEBUG=true.")
    SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required unless DEBUG=true (comma-separated host names).")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Transport security -------------------------------------------------------------------
# Production is served over HTTPS only. These are off in DEBUG so that `make run` works on plain
# http://127.0.0.1; `manage.py check --deploy` with production settings reports nothing.
# Behind a reverse proxy that terminates TLS, set SECURE_PROXY_SSL_HEADER=true so that Django
# believes its X-Forwarded-Proto header; only do so when the proxy always sets (or strips) it.
if _bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", not DEBUG)
# Probes and scrapers talk plain HTTP to the process itself, inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = _int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = _bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = _bool("CSRF_COOKIE_SECURE", not DEBUG)
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every answer (django-csp). Scripts only from our own static files:
# no inline <script>, no on...= handlers, no eval (htmx runs with allowEval off, see base.html).
# Inline style attributes stay allowed (style-src-attr): templates and the Django admin use
# them, and they cannot run code; <style> elements and stylesheets come from us only.
# Payments leave through our own pay page, which names the one gateway it sends to in its own
# form-action (dashboard.views.payments); every other page posts only to us. Chart.js
# (backoffice reports) is a static file.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],  # data: for the two-factor set-up's QR code
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Our reverse proxies, as comma-separated CIDRs (e.g. 10.0.0.0/8,172.16.0.0/12). X-Forwarded-For
# is believed only when the direct peer is inside one of them, walking the header from the right
# past our own proxies (panel.security.forwarded_client). Empty (the default): REMOTE_ADDR alone,
# so a client cannot pick its own IP for rate limits, lockouts and /metrics.
TRUSTED_PROXIES = _networks("TRUSTED_PROXIES")
if os.environ.get("TRUSTED_PROXY_COUNT", "0").strip() not in {"", "0"}:
    # Counting hops trusted the header from anyone who could reach the process; refuse it
    # rather than silently change which address is the client's.
    raise ImproperlyConfigured(
        "TRUSTED_PROXY_COUNT is no longer used: set TRUSTED_PROXIES to the networks of your reverse "
        "proxies (comma-separated CIDRs such as 10.0.0.0/8) and remove TRUSTED_PROXY_COUNT."
    )
# allauth's rate limits read REMOTE_ADDR (set by ClientIPMiddleware) and never the header.
ALLAUTH_TRUSTED_PROXY_COUNT = 0
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = None
# Staff (the backoffice) must have two-factor authentication set up in production.
STAFF_REQUIRE_2FA = _bool("STAFF_REQUIRE_2FA", not DEBUG)

PANEL_NAME = os.environ.get("PANEL_NAME", "SMM Panel")
PANEL_CURRENCY = os.environ.get("PANEL_CURRENCY", "USD")
if len(PANEL_CURRENCY) != 3 or not PANEL_CURRENCY.isalpha() or not PANEL_CURRENCY.isupper():
    raise ImproperlyConfigured(f"PANEL_CURRENCY={PANEL_CURRENCY!r} must be a 3-letter ISO code such as USD.")

TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE={TIME_ZONE!r} is not a known time zone such as Europe/Berlin.") from None
USE_TZ = True
USE_I18N = True
# The languages the panel ships, each with a complete catalogue in locale/<code>/LC_MESSAGES (README
# "Languages"). PANEL_LANGUAGE is the default: visitors whose browser asks for none of these, the
# API's service names and every email to someone who never chose a language.
LANGUAGES = [
    ("en", "English"),
    ("ru", "Русский"),
    ("es", "Español"),
    ("pt-br", "Português (Brasil)"),
    ("tr", "Türkçe"),
    ("ar", "العربية"),
    ("hi", "हिन्दी"),
    ("id", "Bahasa Indonesia"),
]
LANGUAGE_CODE = os.environ.get("PANEL_LANGUAGE", "en").lower()
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfigured(
        f"PANEL_LANGUAGE={LANGUAGE_CODE!r} is not one of the shipped languages: {', '.join(dict(LANGUAGES))}."
    )
LOCALE_PATHS = [BASE_DIR / "locale"]
# Staff write service and category names per language; an empty one falls back to the default's.
MODELTRANSLATION_DEFAULT_LANGUAGE = LANGUAGE_CODE
MODELTRANSLATION_FALLBACK_LANGUAGES = (LANGUAGE_CODE,)
# The choice of a visitor who is not signed in (a signed-in customer's lives on their account).
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"

# Fernet keys for secrets stored in the database (provider API keys). Several keys may be given,
# comma-separated: the first encrypts, all decrypt, which is how a key is rotated.
_DEV_FIELD_KEY = "0cTBgyJy0vdR6OfmBGm0dn4gUjJ0zbpHdsDvM_L6Ikk="
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[_DEV_FIELD_KEY] if DEBUG else [])
if not FIELD_ENCRYPTION_KEY:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEY is required unless DEBUG=true. Make one with: "
        'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
    )
try:
    from cryptography.fernet import Fernet

    for _key in FIELD_ENCRYPTION_KEY:
        Fernet(_key)
except ValueError:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEY must be 32 url-safe base64-encoded bytes (a Fernet key)."
    ) from None

# Outbound calls to providers: private, loopback and link-local addresses are refused in
# production so that a provider URL cannot be used to reach internal services.
UPSTREAM_ALLOW_PRIVATE = _bool("UPSTREAM_ALLOW_PRIVATE", DEBUG)

INSTALLED_APPS = [
    # Before the admin (its documented place): service and category names per language (catalog.translation).
    "modeltranslation",
    "backoffice.apps.PanelAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sitemaps",
    "rest_framework",
    "django_htmx",
    "csp",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "axes",
    "hijack",
    "accounts",
    # Display currencies and their exchange rates (fixed by staff, or the ECB's daily feed).
    "currencies",
    "upstream",
    "catalog",
    "orders",
    "billing",
    "support",
    "notifications",
    "api",
    "dashboard",
    "site_pages",
    "captcha",
    "drf_spectacular",
    "adminapi",
    # Child panels as a business (buying, renewal, the parent as provider); registry: tenants.
    "childpanels",
    # Last: after each migrate it grants the staff roles the permissions of every app above.
    "backoffice",
]

MIDDLEWARE = [
    "panel.security.ClientIPMiddleware",
    "panel.observability.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: a signed-in user's choice (panel.i18n, below), else the cookie, else the browser's.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "panel.i18n.UserLanguageMiddleware",
    # The display currency: a signed-in customer's choice, else a visitor's cookie (currencies.display).
    "currencies.middleware.DisplayCurrencyMiddleware",
    # Records each signed-in session (allauth.usersessions) for the sessions page and "sign out everywhere".
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    # Marks a staff member signed in as a customer (request.user.is_hijacked) for the banner.
    "hijack.middleware.HijackUserMiddleware",
    # After the session and the user are known: staff keep working in maintenance mode.
    "backoffice.site_mode.MaintenanceMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a lockout into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "panel.urls"
WSGI_APPLICATION = "panel.wsgi.application"
ADMIN_URL = os.environ.get("ADMIN_URL", "admin/").strip("/") + "/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "panel.context_processors.panel",
                # After panel's: the backoffice's branding (site_pages.Branding) names the panel.
                "site_pages.context_processors.branding",
            ],
        },
    },
]

_DATABASE_URL = _url("DATABASE_URL", f"sqlite:///{VAR_DIR / 'panel.sqlite3'}", ("postgres", "postgresql", "sqlite"))
try:
    DATABASES = {"default": env.db_url_config(_DATABASE_URL)}
except (ImproperlyConfigured, KeyError, ValueError) as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a usable database URL: {exc}") from None
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = _int("CONN_MAX_AGE", 60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and _bool("DATABASE_PREPARED_STATEMENTS", True):
    # Lets the few hot queries that ask for it (the API's status read) run as prepared
    # statements; Django's own queries bind on the client and are never prepared. Turn off
    # behind a transaction-pooling PgBouncer without max_prepared_statements.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite is for the no-services demo: WAL and a busy timeout let the web server, worker
    # and beat share one file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# --- Child panels (tenants/) ---------------------------------------------------------------
# On PostgreSQL every panel is a schema of its own (django-tenants): the parent is `public`,
# each child panel a schema cloned from a kept-migrated template, chosen per request by host
# name (tenants.middleware, first in MIDDLEWARE) and per Celery task by a header
# (tenant-schemas-celery). Every app is in both SHARED_APPS and TENANT_APPS, so each schema holds
# all of the panel's tables and no query can fall through to the parent's; only the registry of
# panels (the tenants app) lives in `public` alone. SQLite (`make run` without services) has no
# schemas: a single panel, no children, and none of this is installed.
TENANCY = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if TENANCY:
    DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
    DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
    TENANT_MODEL = "tenants.Panel"
    TENANT_DOMAIN_MODEL = "tenants.Domain"
    # New children are cloned from this schema (tables and their seed rows), which
    # `migrate` keeps current along with every panel (tenants.management.commands.migrate).
    TENANT_BASE_SCHEMA = "panel_template"
    TENANT_CREATION_FAKES_MIGRATIONS = True
    # One `SET search_path` per connection and panel, not one per cursor.
    TENANT_LIMIT_SET_CALLS = True
    # Every app in every schema (TENANT_APPS); the registry of panels in `public` only. `tenants`
    # first: its `migrate` (every schema and the template) is the one run. django_tenants last: its
    # admin templates (a sidebar with an inline <style>, which our CSP refuses) must not replace
    # the admin's own.
    TENANT_APPS = list(INSTALLED_APPS)
    SHARED_APPS = ["tenants", *TENANT_APPS, "django_tenants"]
    INSTALLED_APPS = list(SHARED_APPS)
# Child panels answer on their own host names only with CHILD_PANELS=true (PostgreSQL). Off (the
# default), every request is the parent's, with no lookup at all: the install is as before.
CHILD_PANELS = _bool("CHILD_PANELS", False)
if CHILD_PANELS and not TENANCY:
    raise ImproperlyConfigured("CHILD_PANELS=true needs PostgreSQL (DATABASE_URL=postgres://...).")
if CHILD_PANELS:
    # First of all: the panel of the request's host name sets the schema every later step reads.
    MIDDLEWARE.insert(0, "tenants.middleware.PanelMiddleware")
    # Customers' own domains are registered while the site runs, so Django's fixed list cannot
    # name them: the configured hosts become the parent's (panel.tenancy.parent_hosts) and the
    # panel middleware refuses (400) any host that is neither one of them nor a panel's domain.
    PARENT_HOSTS = ALLOWED_HOSTS
    ALLOWED_HOSTS = ["*"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FORMS_URLFIELD_ASSUME_HTTPS = True

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
# Signing in as a customer (django-hijack): who may (backoffice.site_mode.may_sign_in_as), and
# no injected notification (it carries an inline script); base.html shows its own banner.
HIJACK_PERMISSION_CHECK = "backoffice.site_mode.may_sign_in_as"
HIJACK_INSERT_BEFORE = None
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username + IP before any password is checked.
    "panel.security.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
# Customers sign up and log in with email and password (django-allauth).
ACCOUNT_LOGIN_METHODS = {"email", "username"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = os.environ.get("ACCOUNT_EMAIL_VERIFICATION", "optional")
if ACCOUNT_EMAIL_VERIFICATION not in {"none", "optional", "mandatory"}:
    raise ImproperlyConfigured("ACCOUNT_EMAIL_VERIFICATION must be none, optional or mandatory.")
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# A captcha on sign-up and login (django-simple-captcha, drawn by the panel itself): off by default.
PANEL_CAPTCHA = _bool("PANEL_CAPTCHA", False)
ACCOUNT_FORMS = {"signup": "site_pages.forms.PanelSignupForm", "login": "site_pages.forms.PanelLoginForm"}
# allauth's emails (verification, password reset) carry the backoffice's panel name.
ACCOUNT_ADAPTER = "site_pages.adapter.PanelAccountAdapter"
CAPTCHA_LENGTH = 5
CAPTCHA_TIMEOUT = 10  # minutes
# Google sign-in: staff add a "Google" social application (client ID and secret) in the backoffice;
# without one no Google button shows. A Google account never takes over an existing panel account
# by email: the customer connects Google from their own account instead.
SOCIALACCOUNT_PROVIDERS = {"google": {"SCOPE": ["openid", "email", "profile"], "OAUTH_PKCE_ENABLED": True}}
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False
# Rate limits of sign-up, login and password reset, counted by allauth in the cache (Redis in
# production, so they hold across every web process and machine).
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
}

# django-axes: after AXES_FAILURE_LIMIT failed logins for one username from one IP, that
# combination is refused for AXES_COOLOFF_MINUTES. Locking the pair, never the username alone,
# means an attacker elsewhere cannot lock a customer out; the lock lapses on its own, and a
# success resets the count. Failures during a lockout do not extend it.
AXES_ENABLED = _bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = _int("AXES_FAILURE_LIMIT", 10, 1)
AXES_COOLOFF_TIME = timedelta(minutes=_int("AXES_COOLOFF_MINUTES", 15, 1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_CALLABLE = "panel.security.login_name"
AXES_CLIENT_IP_CALLABLE = "panel.security.client_ip"
AXES_VERBOSE = False
AXES_HTTP_RESPONSE_CODE = 429
# The downstream API's own limits (api/throttling.py): (requests, window in seconds).
API_RATE_LIMITS = {
    "key": (_int("API_RATE_LIMIT_PER_KEY", 1200, 1), _int("API_RATE_LIMIT_WINDOW", 60, 1)),
    "ip": (_int("API_RATE_LIMIT_PER_IP", 3000, 1), _int("API_RATE_LIMIT_WINDOW", 60, 1)),
}
# The Admin API's limit per staff token (adminapi/throttling.py), requests a minute.
ADMIN_API_RATE_PER_MINUTE = _int("ADMIN_API_RATE_PER_MINUTE", 600, 1)
# The Admin API's OpenAPI document (drf-spectacular), served at /adminapi/v2/openapi.json.
SPECTACULAR_SETTINGS = {
    "TITLE": "Admin API",
    "VERSION": "2",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}
# Panel software in the wild sends the API key in the query string (GET, or POST with URL
# parameters); false refuses keys in URLs, which end up in proxy and server logs.
API_ALLOW_KEY_IN_URL = _bool("API_ALLOW_KEY_IN_URL", True)
# Active sessions (allauth.usersessions): each session's IP, browser and last activity, listed at
# /accounts/sessions/ with "sign out other sessions".
USERSESSIONS_TRACK_ACTIVITY = True
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = os.environ.get("PANEL_NAME", "SMM Panel")

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG else "panel.storage.StaticStorage"
    },
}

# Redis: cache, rate limits and the Celery broker. Without it the panel still runs (demo mode):
# a local-memory cache and kombu's filesystem transport under var/.
REDIS_URL = _url("REDIS_URL", None, ("redis", "rediss", "unix"))
if REDIS_URL and _TEST_WORKER.removeprefix("gw").isdigit():
    # Worker gwN of a test run uses the database N+1 below the configured one (15 → 14, 13, ...).
    _base, _, _db = REDIS_URL.rpartition("/")
    if _db.isdigit() and _base.count("/") >= 2:
        REDIS_URL = f"{_base}/{(int(_db) - 1 - int(_TEST_WORKER[2:])) % 16}"
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "panel",
            # The parent's keys as before; a child panel's start with t:<schema>: (panel.tenancy).
            "KEY_FUNCTION": "panel.tenancy.cache_key",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_FUNCTION": "panel.tenancy.cache_key",
        }
    }

CELERY_BROKER_URL = _url("CELERY_BROKER_URL", REDIS_URL, ("redis", "rediss", "amqp", "amqps", "filesystem", "memory"))
if CELERY_BROKER_URL is None:
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # A task whose worker dies is redelivered after this many seconds; tasks are idempotent.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": _int("CELERY_VISIBILITY_TIMEOUT", 3600, 60)}
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django support closes every database connection before and after each task unless
# this is set: each poll batch then paid for a new PostgreSQL backend (a process started, caches
# cold, prepared statements gone). Workers keep their connections as web requests do instead:
# panel/celery.py closes one before and after a task only when it broke or is older than
# CONN_MAX_AGE (Django's close_old_connections); Celery's own closing comes every this many tasks.
CELERY_DB_REUSE_MAX = _int("CELERY_DB_REUSE_MAX", 1000, 0)
CELERY_TASK_TIME_LIMIT = _int("CELERY_TASK_TIME_LIMIT", 300, 10)
CELERY_TASK_SOFT_TIME_LIMIT = max(CELERY_TASK_TIME_LIMIT - 30, 5)
CELERY_TASK_ALWAYS_EAGER = _bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
# Separate queues so that slow upstream calls never delay polls or other work.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "orders.forward_*": {"queue": "forward"},
    "orders.poll_*": {"queue": "poll"},
    "notifications.*": {"queue": "notify"},
}
# Every queue declared, so a plain `celery -A panel worker` (no -Q) consumes them all; production
# runs dedicated workers with -Q (Procfile) so forwarding never waits behind polling.
CELERY_TASK_QUEUES = tuple(Queue(name) for name in ("default", "forward", "poll", "notify"))
# django-celery-beat's database scheduler, plus a heartbeat that /readyz reads.
CELERY_BEAT_SCHEDULER = "panel.health:HeartbeatScheduler"
if TENANCY:
    # The same schedule (read from `public`), each due task sent once per active panel.
    CELERY_BEAT_SCHEDULER = "tenants.beat:PanelsScheduler"
    # Tasks find their panel by the schema in their header; the lookup is kept this long.
    CELERY_TASK_TENANT_CACHE_SECONDS = 30
# Django's LOGGING (JSON in production) also formats the worker's and beat's lines.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    # The Admin API (adminapi/) documents itself with drf-spectacular.
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# Card payments through Stripe Checkout: both set, or neither (then the card method is hidden).
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
if bool(STRIPE_SECRET_KEY) != bool(STRIPE_WEBHOOK_SECRET):
    raise ImproperlyConfigured("Set both STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET, or neither.")

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "panel@localhost")
# SMTP (Django's EMAIL_* settings), for the smtp backend.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _int("EMAIL_PORT", 25, 1)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set EMAIL_USE_TLS (STARTTLS, port 587) or EMAIL_USE_SSL (port 465), not both.")
EMAIL_TIMEOUT = _int("EMAIL_TIMEOUT", 15, 1)

# Notifications (notifications/): the panel's public address for links in emails, the staff
# address list for the alert digest (every NOTIFY_DIGEST_MINUTES), how long failed deliveries
# are retried, and the webhook receivers' time limits (seconds).
PANEL_URL = _url("PANEL_URL", "http://127.0.0.1:8000", ("http", "https"))

# Child panels (childpanels/): the domain whose subdomains customers may pick for a panel they buy
# (empty: only their own domains; point a wildcard DNS record and certificate at the install),
# and the parent's API v2 address that children order from (the loopback: the parent's own API,
# by default at PANEL_URL).
CHILD_PANEL_DOMAIN = os.environ.get("CHILD_PANEL_DOMAIN", "").strip().strip(".").lower()
CHILD_PARENT_API_URL = _url("CHILD_PARENT_API_URL", PANEL_URL.rstrip("/") + "/api/v2", ("http", "https"))
NOTIFY_STAFF_EMAILS = env.list("NOTIFY_STAFF_EMAILS", default=[])
NOTIFY_DIGEST_MINUTES = _int("NOTIFY_DIGEST_MINUTES", 5, 1)
NOTIFY_RETRY_HOURS = _int("NOTIFY_RETRY_HOURS", 24, 1)
WEBHOOK_CONNECT_TIMEOUT = _int("WEBHOOK_CONNECT_TIMEOUT", 5, 1)
WEBHOOK_READ_TIMEOUT = _int("WEBHOOK_READ_TIMEOUT", 10, 1)
# The Bot API's address (tests point it at a local fake) and its time limits (seconds).
TELEGRAM_API_URL = _url("TELEGRAM_API_URL", "https://api.telegram.org", ("http", "https"))
TELEGRAM_CONNECT_TIMEOUT = _int("TELEGRAM_CONNECT_TIMEOUT", 5, 1)
TELEGRAM_READ_TIMEOUT = _int("TELEGRAM_READ_TIMEOUT", 15, 1)

# Sent upstream with every order as its idempotency key ("<prefix>-<order id>"), so that two
# panels of ours chained together never place the same order twice.
PANEL_IDEMPOTENCY_PREFIX = os.environ.get(
    "PANEL_IDEMPOTENCY_PREFIX", "panel-" + hashlib.sha256(SECRET_KEY.encode()).hexdigest()[:10]
)
# Seconds between status checks of a young order; older orders are checked less often.
ORDER_POLL_MIN_SECONDS = _int("ORDER_POLL_MIN_SECONDS", 30, 1)

# Money: amounts carry 5 decimal places, as the protocol shows them ("0.27819").
MONEY_PLACES = Decimal("0.00001")

# Display currencies (currencies/): pages show money converted at a rate staff type in or fetched
# daily from the European Central Bank's reference rates, at this address (tests point it at a
# local fake), with these time limits (seconds). The ledger and the API stay in PANEL_CURRENCY.
ECB_RATES_URL = _url("ECB_RATES_URL", "https://www.ecb.europa.eu", ("http", "https"))
RATES_CONNECT_TIMEOUT = _int("RATES_CONNECT_TIMEOUT", 5, 1)
RATES_READ_TIMEOUT = _int("RATES_READ_TIMEOUT", 20, 1)

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r} must be DEBUG, INFO, WARNING, ERROR or CRITICAL.")
# json: one JSON object a line (production default), for a log shipper; plain: for people.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain" if DEBUG else "json").lower()
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be json or plain.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # Blanks API keys and key=/token=/password= values: on every handler, first.
        "redact": {"()": "panel.observability.RedactFilter"},
        # Adds order_id, provider and request_id from the current context to every record.
        "context": {"()": "panel.observability.ContextFilter"},
    },
    "formatters": {
        "plain": {"()": "panel.observability.PlainFormatter"},
        "json": {"()": "panel.observability.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact", "context"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's defaults give `django` and `django.server` (runserver's "GET /api/v2?key=..."
        # lines) handlers of their own that skip the redaction: everything goes to the root's.
        "django": {"handlers": [], "propagate": True},
        "django.server": {"handlers": [], "propagate": True, "level": "INFO"},
        # Celery gives its task logger (and billiard's) a handler of its own unless it has one.
        "celery.task": {"handlers": ["console"], "propagate": False},
        "multiprocessing": {"handlers": ["console"], "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # One line per login failure is enough; axes' own lines repeat what the request log says.
        "axes": {"level": "WARNING"},
    },
}

# Prometheus metrics at /metrics, read with "Authorization: Bearer <METRICS_TOKEN>". Production
# (DEBUG off) refuses to start without a token unless METRICS_ENABLED=false, which makes /metrics
# answer 404. Only in DEBUG may a token-less /metrics be read, from loopback and private addresses.
METRICS_ENABLED = _bool("METRICS_ENABLED", True)
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip()
if METRICS_ENABLED and not METRICS_TOKEN and not DEBUG:
    raise ImproperlyConfigured(
        "METRICS_TOKEN is required unless DEBUG=true: set it to a long random string (the scraper "
        "sends it as a bearer token), or set METRICS_ENABLED=false to turn /metrics off."
    )
# /readyz: the beat heartbeat and the last poll pass must be younger than these (seconds).
READY_BEAT_MAX_AGE = _int("READY_BEAT_MAX_AGE", 120, 5)
READY_POLL_MAX_AGE = _int("READY_POLL_MAX_AGE", 300, 5)
