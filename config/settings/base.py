"""Settings shared by every environment. Debug is off unless asked for: development runs with
`config.settings.local`, tests with `config.settings.test`, deployments with `config.settings.production`
(what the entry points choose when DJANGO_SETTINGS_MODULE is not set)."""

from copy import deepcopy
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured
from whitenoise.compress import Compressor

from config.env import BASE_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-secret-key-change-me-0123456789abcdef")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",  # `runserver` leaves static files to the middleware too
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "core",
    "auth_app",
    "models_app",
    "conversations_app",
    "admin_app",
    "explore_app",
    "gateway_app",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "core.middleware.RequestIdMiddleware",
    # Early, so that every answer a browser's script gets (errors and 503s too) carries the CORS headers.
    "corsheaders.middleware.CorsMiddleware",
    "core.middleware.JSONCompressionMiddleware",
    "core.exceptions.DatabaseUnavailableMiddleware",
    "core.http.UnstorableURLMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.static.StaticFilesMiddleware",  # WhiteNoise: static files with the security headers, nothing else
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.http.CommonMiddleware",  # Django's, with no slash redirects and JSON 404s for the API
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.AuditContextMiddleware",
    "core.middleware.ReadYourWritesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: PostgreSQL through psycopg 3 with Django's native connection pool -----------------
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://ollamanet:ollamanet@127.0.0.1:54329/ollamanet")
}
# Django's PostgreSQL backend (and its pool), with query counts and latencies exported to Prometheus,
# and a pool that replaces all its broken connections at once after a PostgreSQL restart.
DATABASES["default"]["ENGINE"] = "core.postgresql"
# PostgreSQL unreachable: a request waits at most DB_POOL_TIMEOUT for a connection, then answers 503
# `database_unavailable` (core.exceptions). Requests hold a connection for short steps only (streams
# give theirs back between steps), so a few seconds is plenty under load too. The pool checks a
# connection before handing it out (CONN_HEALTH_CHECKS), so the ones a PostgreSQL restart broke are
# replaced, not handed to requests; while PostgreSQL is away it retries connecting with a backoff it
# restarts every `reconnect_timeout` seconds, so it is back within seconds of PostgreSQL.
DATABASES["default"]["OPTIONS"] = {
    "pool": {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=20),
        "timeout": env.float("DB_POOL_TIMEOUT", default=2.0),
        "reconnect_timeout": 5.0,
    },
    "connect_timeout": env.int("DB_CONNECT_TIMEOUT", default=2),
}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A read replica (a hot standby streaming from the primary), when DATABASE_REPLICA_URL is set: the
# `replica` alias, same backend and pool options as the primary. Read-only views read from it where
# that is safe, everything else uses the primary (core.db_router). A user who wrote in the last
# REPLICA_READ_YOUR_WRITES_SECONDS reads from the primary, so they see their own writes at once.
DATABASE_REPLICA_ALIAS = "replica"
if env("DATABASE_REPLICA_URL", default=""):
    DATABASES[DATABASE_REPLICA_ALIAS] = {
        **env.db("DATABASE_REPLICA_URL"),
        "ENGINE": "core.postgresql",
        "OPTIONS": deepcopy(DATABASES["default"]["OPTIONS"]),
        "CONN_HEALTH_CHECKS": True,
        "REPLICA_OF": "default",
    }
DATABASE_ROUTERS = ["core.db_router.ReplicaRouter"]
DATABASE_REPLICA_READS = True  # the tests turn it on only where they exercise the replica
REPLICA_READ_YOUR_WRITES_SECONDS = env.float("REPLICA_READ_YOUR_WRITES_SECONDS", default=5.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: Redis through django-redis, short socket timeouts so a dead Redis never hangs a request
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:63799/0")
CACHES = {
    "default": {
        "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",  # django-redis, with hit/miss metrics
        "LOCATION": env("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="ollamanet"),
        "TIMEOUT": 300,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": env.float("CACHE_SOCKET_CONNECT_TIMEOUT", default=0.25),
            "SOCKET_TIMEOUT": env.float("CACHE_SOCKET_TIMEOUT", default=0.25),
            "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
        },
    }
}

# Cache-aside reads (core/cache.py): how long a process skips Redis after a failure, how long a reader
# waits for another one computing the same cold key, and the per-resource TTLs (seconds) of Explore.
CACHE_OUTAGE_COOLDOWN = env.float("CACHE_OUTAGE_COOLDOWN", default=5.0)
CACHE_LOCK_WAIT = env.float("CACHE_LOCK_WAIT", default=2.0)
EXPLORE_CACHE_TTLS = env.dict(
    "EXPLORE_CACHE_TTLS",
    cast={"value": int},
    default={"default": 300, "models": 300, "search": 120, "model": 600, "tags": 600},
)

# --- Auth --------------------------------------------------------------------------------------------
AUTH_USER_MODEL = "auth_app.User"
AUTHENTICATION_BACKENDS = ["auth_app.backends.EmailOrUsernameBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
LOGIN_LOCKOUT_THRESHOLD = env.int("LOGIN_LOCKOUT_THRESHOLD", default=5)
LOGIN_LOCKOUT_WINDOW = timedelta(minutes=env.int("LOGIN_LOCKOUT_WINDOW_MINUTES", default=15))
LOGIN_LOCKOUT_DURATION = timedelta(minutes=env.int("LOGIN_LOCKOUT_DURATION_MINUTES", default=15))
# Personal API keys: default quotas of a user's API use (per user; staff override them per user and
# per key). 0: unlimited.
API_KEY_REQUESTS_PER_MINUTE = env.int("API_KEY_REQUESTS_PER_MINUTE", default=60)
API_KEY_TOKENS_PER_DAY = env.int("API_KEY_TOKENS_PER_DAY", default=0)
# Who may sign up: `open` (anyone), `approval` (accounts wait for staff to approve them), `closed`
# (only staff create accounts).
REGISTRATION_MODE = env("REGISTRATION_MODE", default="open").strip().lower()
if REGISTRATION_MODE not in {"open", "approval", "closed"}:
    raise ImproperlyConfigured("REGISTRATION_MODE must be one of: open, approval, closed.")
# Uniqueness of username/e-mail is a partial, case-insensitive constraint among alive users, which
# Django's check cannot see; the custom backend is what makes the W004 a warning, not an error.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="OllamaNet <no-reply@ollamanet.local>")
FRONTEND_URL = env("FRONTEND_URL", default="http://127.0.0.1:8000")
# The page of the front end that asks for the new password; {uid} and {token} are filled in.
PASSWORD_RESET_URL = env(
    "PASSWORD_RESET_URL", default=FRONTEND_URL.rstrip("/") + "/reset-password?uid={uid}&token={token}"
)

# --- i18n / static / media ------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
# Collected by `manage.py collectstatic` (`make run` does it) and served by WhiteNoise (core/static.py):
# names carry a hash of the content and are cached for ever; gzip and brotli variants sit beside them.
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / ".local" / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Only the hashed names are kept (pages refer to nothing else; development finds the originals in the
# apps), and source maps, which only a browser's developer tools fetch, are not compressed: this
# halves and halves again what collectstatic compresses.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, "map")
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / ".local" / "media"))
MEDIA_URL = "media/"

# --- Domain settings ------------------------------------------------------------------------------------
OLLAMA_URL = env("OLLAMA_URL", default="http://127.0.0.1:11434")
# The model that titles new conversations (empty: the conversation's own model).
TITLE_MODEL = env("TITLE_MODEL", default="")
# Several Ollama servers (comma-separated URLs), in order of preference; empty: the one OLLAMA_URL.
OLLAMA_URLS = env.list("OLLAMA_URLS", default=[])
# The pool (core/ollama/pool/): a healthy server's models are read again after this many seconds;
# a failing one is checked again after the backoff, doubled per failure up to the maximum; each
# process's view of the servers' state is read from Redis again when older than OLLAMA_POOL_VIEW_SECONDS.
OLLAMA_POOL_REFRESH_SECONDS = 30.0
OLLAMA_POOL_BACKOFF_SECONDS = 2.0
OLLAMA_POOL_BACKOFF_MAX_SECONDS = 60.0
OLLAMA_POOL_VIEW_SECONDS = 2.0
OLLAMA_CONNECT_TIMEOUT = env.float("OLLAMA_CONNECT_TIMEOUT", default=3.0)
OLLAMA_READ_TIMEOUT = env.float("OLLAMA_READ_TIMEOUT", default=300.0)
# Chat: a streaming answer shows it is alive this often (seconds); one silent for longer than the read
# timeout plus the margin is taken for dead (its process crashed) and marked interrupted by a periodic
# sweep. An outcome that could not be stored (PostgreSQL down) is retried this long in the background.
CHAT_HEARTBEAT_SECONDS = env.float("CHAT_HEARTBEAT_SECONDS", default=60.0)
CHAT_STALE_MARGIN_SECONDS = env.float("CHAT_STALE_MARGIN_SECONDS", default=120.0)
CHAT_RECORD_RETRY_SECONDS = env.float("CHAT_RECORD_RETRY_SECONDS", default=600.0)
# Answers outlive their request (conversations_app/services/runs.py): how long an answer's Redis Stream
# is kept after its last event, and how often a running answer looks for a stop asked from elsewhere.
CHAT_RUN_STREAM_TTL_SECONDS = env.int("CHAT_RUN_STREAM_TTL_SECONDS", default=3600)
CHAT_RUN_STOP_POLL_SECONDS = env.float("CHAT_RUN_STOP_POLL_SECONDS", default=0.5)
# The context (tokens) a chat is budgeted to when neither the message's options (`num_ctx`) nor a
# smaller trained context of the model say otherwise: what Ollama itself uses when not told.
CHAT_DEFAULT_CONTEXT_TOKENS = env.int("CHAT_DEFAULT_CONTEXT_TOKENS", default=4096)
# The share of a message's context budget the conversation's documents may take (the rest is history).
CHAT_DOCUMENTS_SHARE = env.float("CHAT_DOCUMENTS_SHARE", default=0.5)
# Server-Sent Events: a comment at least this often (seconds) while nothing else is sent.
SSE_KEEPALIVE_SECONDS = env.float("SSE_KEEPALIVE_SECONDS", default=15.0)
# Seconds /health/ready waits for each dependency (PostgreSQL's connect takes at least 2 s to time out).
HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", default=1.0)
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
# An attachment still `pending` this long after its upload had its text extraction lost (the task
# queue was down): a periodic sweep queues it again.
ATTACHMENT_REQUEUE_MINUTES = env.int("ATTACHMENT_REQUEUE_MINUTES", default=10)
# Largest request body the ASGI application accepts at all: an attachment plus multipart overhead.
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", default=ATTACHMENT_MAX_BYTES + 1024 * 1024)
# Uploaded files above this size are spooled to a temporary file, not kept in memory; the attachment
# limit itself is enforced while the body streams in (conversations_app.api.uploads).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Request bodies other than uploaded files (form fields, raw bodies read through request.body).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
TRASH_RETENTION_DAYS = env.int("TRASH_RETENTION_DAYS", default=30)
# Deleted accounts (and everything they held) are purged for good this many days after the deletion.
ACCOUNT_RETENTION_DAYS = env.int("ACCOUNT_RETENTION_DAYS", default=30)
# Imports (POST /api/v1/conversations/import/): the largest upload, and the largest imported during the
# request (201); larger files are imported by a background task (202 and a job to poll).
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=200 * 1024 * 1024)
IMPORT_SYNC_MAX_BYTES = env.int("IMPORT_SYNC_MAX_BYTES", default=1024 * 1024)
# Seconds an account export's signed download link works.
EXPORT_LINK_MAX_AGE = env.int("EXPORT_LINK_MAX_AGE", default=24 * 60 * 60)
# Model pulls (staff inference API): progress is written at most once per whole percent or per
# interval (seconds); the progress stream (SSE) polls a pull this often and lasts at most this long; a
# queued or running pull without progress for this long is taken for dead (its worker is gone).
INFERENCE_PULL_PROGRESS_INTERVAL = 0.5
INFERENCE_PULL_EVENTS_POLL_INTERVAL = 0.5
INFERENCE_PULL_EVENTS_MAX_SECONDS = 600
INFERENCE_PULL_STALE_SECONDS = 900
DEMO_ADMIN_PASSWORD = env("DEMO_ADMIN_PASSWORD", default="")
DEMO_USER_PASSWORD = env("DEMO_USER_PASSWORD", default="")

from config.settings.celery import *  # noqa: E402, F403
from config.settings.cors import *  # noqa: E402, F403
from config.settings.drf import *  # noqa: E402, F403
from config.settings.jwt import *  # noqa: E402, F403
from config.settings.logging import *  # noqa: E402, F403
