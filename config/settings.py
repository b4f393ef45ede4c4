"""Tuneboard settings: one module, driven by environment variables.

Local defaults need nothing installed (SQLite in WAL mode, in-memory channel layer);
`DATABASE_URL` and `REDIS_URL` switch a deployment to PostgreSQL and Redis. A value
that cannot be parsed raises `ImproperlyConfigured` at start, never later.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envstr(name, default=""):
    return os.environ.get(name, default)


def envbool(name, default="0"):
    value = os.environ.get(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def envint(name, default, minimum=None):
    raw = os.environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def envlist(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DATA_DIR = Path(envstr("TUNEBOARD_DATA_DIR", str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = envbool("DEBUG", "0")


def _secret_key():
    """SECRET_KEY from the environment, else one generated once and kept in DATA_DIR."""
    if key := envstr("SECRET_KEY"):
        if len(key) < 32:
            raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long")
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "csp",
    "jobs",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
    # Sync-only and innermost, so the chain runs in one thread (see its docstring).
    "config.middleware.OneThreadPerRequest",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

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
                "jobs.web.access.project_menu",
                "jobs.web.views.collab.notification_menu",
            ],
            # The pages' template tags live in the web room, not in an app's templatetags.
            "libraries": {"tuneboard": "jobs.web.templatetags.tuneboard"},
        },
    },
]


def _databases():
    url = envstr("DATABASE_URL")
    if url:
        import dj_database_url

        pool = envint("TUNEBOARD_DB_POOL_SIZE", 8, minimum=0)
        try:
            config = dj_database_url.parse(
                url, conn_max_age=0 if pool else 60, conn_health_checks=not pool
            )
        except Exception as exc:  # dj-database-url raises several types for a bad URL
            raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}")
        if pool and config["ENGINE"] == "django.db.backends.postgresql":
            # A bounded pool per server process. Under ASGI each request runs in a new
            # thread, so without it every request opened a connection of its own (7 ms
            # of a 20 ms write); under a burst of writers requests wait for a pooled
            # connection instead of PostgreSQL refusing past max_connections.
            config.setdefault("OPTIONS", {})["pool"] = {
                "min_size": min(2, pool),
                "max_size": pool,
                "timeout": 30,
            }
        return {"default": config}
    return {
        "default": {
            "ENGINE": "config.sqlite3",
            "NAME": envstr("SQLITE_PATH", str(DATA_DIR / "tuneboard.sqlite3")),
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue on
                # the busy timeout instead of failing with "database is locked" on upgrade.
                "transaction_mode": "IMMEDIATE",
                "timeout": envint("SQLITE_BUSY_TIMEOUT", 30, minimum=1),
                # A 16 MiB page cache per connection: enough for the hot indexes; a
                # larger one shows up as server memory that a full export never returns.
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA temp_store=MEMORY;"
                    "PRAGMA cache_size=-16384;"
                ),
            },
            "TEST": {"NAME": envstr("SQLITE_TEST_PATH") or None},
        }
    }


DATABASES = _databases()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _channel_layers():
    url = envstr("REDIS_URL")
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ImproperlyConfigured(f"REDIS_URL must start with redis://, got {url!r}")
        return {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    "hosts": [url],
                    "capacity": envint("CHANNEL_CAPACITY", 200, minimum=10),
                    "expiry": 30,
                    "group_expiry": 86400,
                },
            }
        }
    return {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": envint("CHANNEL_CAPACITY", 200, minimum=10), "expiry": 30},
        }
    }


CHANNEL_LAYERS = _channel_layers()

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# `make run` collects static files into STATIC_ROOT under hashed names with gzip and
# brotli copies (config/storage.py); WhiteNoise serves the hashed ones as immutable.
# Until something is collected (a fresh clone's tests), pages name the plain files and
# WhiteNoise finds them in `static/`.
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "config.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG or not (STATIC_ROOT / "staticfiles.json").exists()

# Axes first: it refuses a locked-out sign-in before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Single sign-on with OpenID Connect (mozilla-django-oidc, jobs/web/oidc.py): off unless
# TUNEBOARD_OIDC_ISSUER is set. The provider's endpoints come from its discovery document
# (<issuer>/.well-known/openid-configuration) unless given one by one. Username and
# password sign-in stays on either way.
TUNEBOARD_OIDC_ISSUER = envstr("TUNEBOARD_OIDC_ISSUER").strip().rstrip("/")
TUNEBOARD_OIDC_PROVIDER_NAME = envstr("TUNEBOARD_OIDC_PROVIDER_NAME", "single sign-on").strip()
TUNEBOARD_OIDC_USERNAME_CLAIM = envstr("TUNEBOARD_OIDC_USERNAME_CLAIM", "preferred_username")
TUNEBOARD_OIDC_GROUPS_CLAIM = envstr("TUNEBOARD_OIDC_GROUPS_CLAIM", "groups")
_ROLES = ("viewer", "editor", "admin")


def _oidc_roles(raw):
    """TUNEBOARD_OIDC_ROLES: "group:project-slug:role,..." as (group, slug, role) triples."""
    triples = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        group, _, rest = item.rpartition(":")
        group, _, slug = group.rpartition(":")
        role = rest.strip().lower()
        if not group.strip() or not slug.strip() or role not in _ROLES:
            raise ImproperlyConfigured(
                f"TUNEBOARD_OIDC_ROLES: {item!r} is not group:project-slug:role "
                f"(role one of {', '.join(_ROLES)})"
            )
        triples.append((group.strip(), slug.strip(), role))
    return triples


TUNEBOARD_OIDC_ROLES = _oidc_roles(envstr("TUNEBOARD_OIDC_ROLES"))
OIDC_RP_CLIENT_ID = envstr("TUNEBOARD_OIDC_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = envstr("TUNEBOARD_OIDC_CLIENT_SECRET")
OIDC_RP_SCOPES = envstr("TUNEBOARD_OIDC_SCOPES", "openid email profile")
OIDC_RP_SIGN_ALGO = envstr("TUNEBOARD_OIDC_SIGN_ALGO", "RS256")
# Explicit endpoints (blank: from discovery).
OIDC_OP_AUTHORIZATION_ENDPOINT = envstr("TUNEBOARD_OIDC_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = envstr("TUNEBOARD_OIDC_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = envstr("TUNEBOARD_OIDC_USERINFO_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = envstr("TUNEBOARD_OIDC_JWKS_ENDPOINT")
OIDC_USE_PKCE = True
OIDC_TIMEOUT = envint("TUNEBOARD_OIDC_TIMEOUT", 10, minimum=1)
OIDC_AUTHENTICATION_CALLBACK_URL = "jobs:oidc-callback"
LOGIN_REDIRECT_URL_FAILURE = "/login/?sso=failed"
if TUNEBOARD_OIDC_ISSUER:
    if not TUNEBOARD_OIDC_ISSUER.startswith(("https://", "http://")):
        raise ImproperlyConfigured("TUNEBOARD_OIDC_ISSUER must be an http(s) URL")
    if not (OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET):
        raise ImproperlyConfigured(
            "TUNEBOARD_OIDC_ISSUER needs TUNEBOARD_OIDC_CLIENT_ID and TUNEBOARD_OIDC_CLIENT_SECRET"
        )
    if OIDC_RP_SIGN_ALGO.startswith("HS"):
        raise ImproperlyConfigured("TUNEBOARD_OIDC_SIGN_ALGO must be an RS or ES algorithm")
    AUTHENTICATION_BACKENDS.append("jobs.web.oidc.SignInBackend")

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# A 10 000-point batch with keys and times is about 1 MB of JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("TUNEBOARD_MAX_BODY_BYTES", 4 * 1024 * 1024, minimum=1024)
TUNEBOARD_MAX_POINTS_PER_BATCH = 10_000
TUNEBOARD_MAX_LOG_LINES_PER_BATCH = 5_000
TUNEBOARD_PUBLIC_READ = envbool("TUNEBOARD_PUBLIC_READ", "0")
# WebSockets: inbound messages are small control frames (a ping); outbound, a viewer
# whose unread pushes pass the backlog limit is dropped (it reconnects and catches up).
TUNEBOARD_WS_MAX_MESSAGE_BYTES = envint("TUNEBOARD_WS_MAX_MESSAGE_BYTES", 4096, minimum=64)
TUNEBOARD_WS_MAX_BACKLOG_BYTES = envint(
    "TUNEBOARD_WS_MAX_BACKLOG_BYTES", 4 * 1024 * 1024, minimum=64 * 1024
)
# HTTP requests one server process runs in Django at once; the others wait on the event
# loop. Each running request holds a thread, and threads past a few only contend for
# the GIL with the event loop that delivers live pushes (config/asgi.py).
TUNEBOARD_HTTP_CONCURRENCY = envint("TUNEBOARD_HTTP_CONCURRENCY", 4, minimum=1)
TUNEBOARD_ALERT_WEBHOOK = envstr("TUNEBOARD_ALERT_WEBHOOK")
if TUNEBOARD_ALERT_WEBHOOK and not TUNEBOARD_ALERT_WEBHOOK.startswith(("http://", "https://")):
    raise ImproperlyConfigured("TUNEBOARD_ALERT_WEBHOOK must be an http:// or https:// URL")
TUNEBOARD_STALL_MINUTES = envint("TUNEBOARD_STALL_MINUTES", 10, minimum=1)
# Alert rules and channels (docs/alerts.md). Webhook and Slack targets on private or
# loopback addresses are refused unless allowed here (against SSRF).
TUNEBOARD_ALERT_ALLOW_PRIVATE = envbool("TUNEBOARD_ALERT_ALLOW_PRIVATE", "0")
# The server's public address, for absolute links to job pages in alert messages.
TUNEBOARD_BASE_URL = envstr("TUNEBOARD_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
if not TUNEBOARD_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured("TUNEBOARD_BASE_URL must be an http:// or https:// URL")
# Email alerts go through Django's SMTP backend with these settings.
EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "0")
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", "0")
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set EMAIL_USE_TLS or EMAIL_USE_SSL, not both")
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "tuneboard@localhost")
# Daemons run as threads of the server (config/daemons.py): sampler, simulator, alerts,
# trash (the purge of jobs deleted TRASH_DAYS ago).
TUNEBOARD_EMBEDDED_DAEMONS = envlist("TUNEBOARD_EMBEDDED_DAEMONS")
if unknown := set(TUNEBOARD_EMBEDDED_DAEMONS) - {"sampler", "simulator", "alerts", "trash"}:
    raise ImproperlyConfigured(
        f"TUNEBOARD_EMBEDDED_DAEMONS: unknown {', '.join(sorted(unknown))}; "
        "choose from sampler, simulator, alerts, trash"
    )
# Seconds between two passes of the embedded alert watcher (the time conditions of alert
# rules, deliveries and their retries); `manage.py watch_alerts --interval` for the daemon.
TUNEBOARD_ALERTS_INTERVAL = envint("TUNEBOARD_ALERTS_INTERVAL", 15, minimum=1)
# PDF reports (jobs/reports/pdf.py): the headless Chromium that prints them (default: the
# `chromium` on PATH; none means format=pdf answers 501) and how long a print may take.
TUNEBOARD_CHROMIUM = envstr("TUNEBOARD_CHROMIUM")
TUNEBOARD_REPORT_PDF_SECONDS = envint("TUNEBOARD_REPORT_PDF_SECONDS", 60, minimum=5)

# Behind a reverse proxy every request comes from the proxy's address: name the header the
# proxy sets to the client's (X-Real-IP, or X-Forwarded-For, whose right-most entry is
# taken). Only that header is trusted; unset, REMOTE_ADDR is the client.
TUNEBOARD_CLIENT_IP_HEADER = envstr("TUNEBOARD_CLIENT_IP_HEADER")

# Sign-in lockout (django-axes, jobs/accounts/lockout.py): an account is locked after
# TUNEBOARD_SIGNIN_FAILURES wrong passwords within the lockout time, from anywhere; a
# client address after TUNEBOARD_SIGNIN_ADDRESS_FAILURES, whatever the usernames.
TUNEBOARD_SIGNIN_FAILURES = envint("TUNEBOARD_SIGNIN_FAILURES", 5, minimum=1)
TUNEBOARD_SIGNIN_LOCKOUT_MINUTES = envint("TUNEBOARD_SIGNIN_LOCKOUT_MINUTES", 15, minimum=1)
TUNEBOARD_SIGNIN_ADDRESS_FAILURES = envint(
    "TUNEBOARD_SIGNIN_ADDRESS_FAILURES",
    4 * TUNEBOARD_SIGNIN_FAILURES,
    minimum=TUNEBOARD_SIGNIN_FAILURES,
)
AXES_FAILURE_LIMIT = TUNEBOARD_SIGNIN_FAILURES
AXES_COOLOFF_TIME = timedelta(minutes=TUNEBOARD_SIGNIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_HANDLER = "jobs.accounts.lockout.SigninAttemptHandler"
AXES_CLIENT_IP_CALLABLE = "jobs.accounts.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "jobs.web.views.auth.signin_locked"
# The lock lasts the configured time from the failure that set it: further tries while
# locked (even the right password) neither count nor extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False

# Invalid bearer tokens (jobs/api/auth.py): after TUNEBOARD_TOKEN_FAILURES from one client
# address within TUNEBOARD_TOKEN_LOCKOUT_MINUTES, that address gets 429 with Retry-After
# for the rest of that window. Counted in the default cache (local memory, per process).
TUNEBOARD_TOKEN_FAILURES = envint("TUNEBOARD_TOKEN_FAILURES", 10, minimum=1)
TUNEBOARD_TOKEN_LOCKOUT_MINUTES = envint("TUNEBOARD_TOKEN_LOCKOUT_MINUTES", 5, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "jobs.api.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["jobs.api.permissions.ReadOrTokenWrite"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "jobs.api.http.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_THROTTLE_RATES": {"ingest": envstr("TUNEBOARD_INGEST_RATE", "6000/min")},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Tuneboard API",
    "DESCRIPTION": "Report and read fine-tuning jobs: metrics, logs, stages, status, resources.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "jobs.models.JobStatus",
        "StageStatusEnum": "jobs.models.StageStatus",
        "StageNameEnum": "jobs.models.StageName",
    },
}

# TLS: on by default for a deployment (DEBUG off and a non-loopback host name), off for
# the local `make run` on 127.0.0.1, and settable either way with TUNEBOARD_TLS.
_LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
TUNEBOARD_TLS = envbool(
    "TUNEBOARD_TLS", "1" if not DEBUG and set(ALLOWED_HOSTS) - _LOOPBACK else "0"
)
if TUNEBOARD_TLS:
    SECURE_SSL_REDIRECT = True
    # The reverse proxy terminates TLS and says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "1")
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "1")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content Security Policy (django-csp): the site's own scripts, styles, images and sockets
# only. The few inline <script> and <style> elements carry the response's nonce
# (`request.csp_nonce`); style attributes are refused, so templates set no `style=`.
# 'self' covers ws:/wss: to the same host (CSP Level 3; checked in Chromium by the E2E
# suite). The favicon and Swagger UI's icons are data: images.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'", NONCE],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
