"""Settings, all from the environment (12-factor), with safe defaults for a laptop.

`DEBUG` defaults to on for local use; outside debug a `SECRET_KEY` must be given.
"""
from __future__ import annotations

from pathlib import Path

import environ
import plotly
from celery.schedules import crontab  # noqa: F401  (available for beat entries)
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "audit",
    "advisor",
    "memory",
    "marketdata",
    "twin",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
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
            ],
        },
    },
]
WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; the timeout rides out short write locks.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )
    # A file, not memory, so that the Celery worker processes started by tests see the same data;
    # named after the main file so that two checkouts (or DATABASE_URLs) never share a test database.
    _main = Path(DATABASES["default"]["NAME"])
    DATABASES["default"]["TEST"] = {"NAME": str(_main.with_name(f"{_main.stem}-test{_main.suffix}"))}

AUTH_USER_MODEL = "advisor.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal-home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# plotly.js from the installed plotly package (no CDN), served compressed and cached like our own files.
STATICFILES_DIRS = [("plotly", Path(plotly.__file__).resolve().parent / "package_data")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Static files are served from STATIC_ROOT, where collectstatic (run by `make up` and `make test`)
# put them with their compressed variants; finders would serve the uncompressed originals.
WHITENOISE_USE_FINDERS = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")

# --- Neo4j ---------------------------------------------------------------------------------------
# Any URI scheme the driver accepts works unchanged: bolt:// for one server, neo4j:// or neo4j+s://
# for a routing cluster or Aura. Unset, `make up`/`make test` start the project's own local server.
NEO4J_URI = env.str("NEO4J_URI", default="bolt://127.0.0.1:7687")
NEO4J_USER = env.str("NEO4J_USER", default="neo4j")
NEO4J_PASSWORD = env.str("NEO4J_PASSWORD", default="")
NEO4J_DATABASE = env.str("NEO4J_DATABASE", default="neo4j")
NEO4J_CONNECTION_TIMEOUT = env.float("NEO4J_CONNECTION_TIMEOUT", default=5.0)
# How long the driver retries a transaction on transient errors (a cluster electing a leader). Kept
# short: a page must say "memory unavailable" in seconds, and Celery tasks retry on their own.
NEO4J_RETRY_SECONDS = env.float("NEO4J_RETRY_SECONDS", default=2.0)

# --- Redis and Celery ----------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 900}
CELERY_TIMEZONE = TIME_ZONE
# One queue per kind of work, so each can be scaled on its own machines:
#   celery -A config worker -Q ingest      (memory ingestion)
#   celery -A config worker -Q quotes      (market data)
#   celery -A config worker -Q digests     (research digests)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [Queue("default"), Queue("ingest"), Queue("quotes"), Queue("digests")]
CELERY_TASK_ROUTES = {
    "memory.*": {"queue": "ingest"},
    "quotes.*": {"queue": "quotes"},
    "digests.*": {"queue": "digests"},
}
CELERY_BEAT_SCHEDULE = {
    "drain-memory-outbox": {
        "task": "memory.drain_outbox",
        "schedule": env.float("OUTBOX_SWEEP_SECONDS", default=30.0),
    },
    "refresh-remembered-quotes": {
        "task": "quotes.refresh_client_quotes",
        "schedule": env.float("QUOTE_REFRESH_SECONDS", default=60.0),
    },
    # Summaries and profile versions; idempotent, so the interval only sets how fresh they are.
    "consolidate-memory": {
        "task": "memory.consolidate",
        "schedule": env.float("CONSOLIDATE_SECONDS", default=3600.0),
    },
    # Decay and redundancy (memory/services/forgetting.py): a status with a reason, never a deletion.
    "forget-memory": {
        "task": "memory.forget",
        "schedule": env.float("FORGET_SECONDS", default=86400.0),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- The twin ------------------------------------------------------------------------------------
# Unset: the deterministic extractor and composer (no LLM). Set e.g. "openai:gpt-4.1-mini" or
# "ollama:qwen3" to drive extraction and advice through langchain's init_chat_model.
TWIN_LLM = env.str("TWIN_LLM", default="")
# "wordllama" (offline, weights ship in the wheel) or a dotted path to a langchain Embeddings class.
MEMORY_EMBEDDINGS = env.str("MEMORY_EMBEDDINGS", default="wordllama")
MEMORY_EMBEDDING_DIMENSIONS = env.int("MEMORY_EMBEDDING_DIMENSIONS", default=256)

# --- Market data ---------------------------------------------------------------------------------
# "replay" (real historical prices shipped in a package, played on a market clock) or "yfinance".
QUOTE_PROVIDER = env.str("QUOTE_PROVIDER", default="replay")
# The replay runs on today's calendar, this many years behind it (real prices of 2000-2013).
REPLAY_YEARS_BACK = env.int("REPLAY_YEARS_BACK", default=15)
# A move of at least this many percent since a client discussed a security becomes a memory event.
SIGNIFICANT_MOVE_PERCENT = env.float("SIGNIFICANT_MOVE_PERCENT", default=5.0)
PRICE_HISTORY_MAX_DAYS = env.int("PRICE_HISTORY_MAX_DAYS", default=800)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"neo4j": {"level": "WARNING"}, "yfinance": {"level": "WARNING"}},
}
