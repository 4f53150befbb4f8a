"""Settings, all from the environment (12-factor), with safe defaults for a laptop.

`DEBUG` defaults to on for local use; outside debug a strong `SECRET_KEY` must be given and the site is HTTPS only.
"""
from __future__ import annotations

from datetime import timedelta
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
# Used only while DEBUG is on; refused outside debug, like any key that is missing or guessable.
DEVELOPMENT_SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="") or (DEVELOPMENT_SECRET_KEY if DEBUG else "")


def _refuse_weak_secret_key(key: str) -> None:
    """Outside debug a forged session or password-reset token must not be one guess away."""
    make_one = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    if not key:
        raise ImproperlyConfigured(f"SECRET_KEY must be set when DEBUG is off; {make_one}")
    if key == DEVELOPMENT_SECRET_KEY or key.startswith("django-insecure-"):
        raise ImproperlyConfigured(
            f"SECRET_KEY is a development placeholder, which anyone can read; set your own when DEBUG is off; {make_one}")
    if len(key) < 50 or len(set(key)) < 5:
        raise ImproperlyConfigured(
            f"SECRET_KEY is too weak ({len(key)} characters, {len(set(key))} different; at least 50 and 5 are "
            f"needed when DEBUG is off); {make_one}")


if not DEBUG:
    _refuse_weak_secret_key(SECRET_KEY)

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
    "axes",
    "advisor",
    "memory",
    "marketdata",
    "twin",
    "rest_framework",
    "rest_framework.authtoken",  # tokens for firms' own apps calling the twin API (manage.py drf_create_token USER)
]

# The twin's JSON API (twin/api.py): JSON only; each view names its own authentication.
REST_FRAMEWORK = {"DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
                  "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"]}

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
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
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

# --- Relational database (the system of record) -----------------------------------------------------
# SQLite is the embedded default (`make up` needs no server); production runs PostgreSQL:
# DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/NAME, with Django's connection settings and libpq's
# options as query parameters (`?sslmode=require&conn_max_age=0`).
# `make test` runs the integration tests on both; no other vendor is tested, so none is accepted.
SUPPORTED_DATABASE_ENGINES = ("django.db.backends.sqlite3", "django.db.backends.postgresql")
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"].get("ENGINE") not in SUPPORTED_DATABASE_ENGINES:
    raise ImproperlyConfigured(
        f"DATABASE_URL must start with sqlite:/// or postgres:// (got a {env.str('DATABASE_URL').split(':')[0]!r} URL)."
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # libpq otherwise waits on an unreachable or hung server for as long as TCP does: every page and
    # /healthz would hang instead of saying the database is down. `?connect_timeout=N` overrides it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    # A connection per request cost 6-10 ms of CPU in the web process and 10-15 in PostgreSQL, which
    # authenticates it and warms a new backend's catalog caches (BENCHMARKS.md, "Portal and chat: CPU per
    # request with and without a database connection per request"). Each process keeps its connection for
    # 60 s and checks it before reusing it, unless `?conn_max_age=` and `?conn_health_checks=` say otherwise.
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = str(DATABASES["default"].get("CONN_HEALTH_CHECKS", True)).lower() in (
        "true", "1", "yes", "on")  # the URL gives a string: "false" must not read as true
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; the timeout rides out short write locks.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )
    # A file, not memory, so that the Celery worker processes started by tests see the same data;
    # named after the main file so that two checkouts (or DATABASE_URLs) never share a test database.
    _main = Path(DATABASES["default"]["NAME"])
    DATABASES["default"]["TEST"] = {"NAME": str(_main.with_name(f"{_main.stem}-test{_main.suffix}"))}

# Each process's own cache: the chat page's rendered citations (one entry per round, templates/twin/chat.html)
# and a day's risk figures per portfolio (twin/services/context.py). Django's default of 300 entries was
# fewer than the rounds the 20-user load test shows within a minute, so every process kept evicting a third
# of them and rendering them again. A chat page shows at most twin.services.chat.PAGE_ROUNDS rounds: 5,000
# entries keep the pages of 250 conversations per process, a few KB each (about 20 MB at most).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                      "OPTIONS": {"MAX_ENTRIES": env.int("CACHE_MAX_ENTRIES", default=5000)}}}

AUTH_USER_MODEL = "advisor.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal-home"
LOGOUT_REDIRECT_URL = "login"
# Axes first: it refuses a locked-out username+address before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
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
# With EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend, one file per message here.
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
# For EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend.
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Advisor Twin <digests@localhost>")

# --- Security ------------------------------------------------------------------------------------
# Login throttling (django-axes): this many failed logins for one username from one address lock that
# pair out for LOGIN_LOCKOUT_MINUTES; other users, and the same user elsewhere, can still log in.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15.0))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False

# Outside debug the site is HTTPS only. Behind a proxy that ends TLS, set TRUSTED_PROXY_SSL_HEADER=true
# (the proxy must set X-Forwarded-Proto), or SECURE_SSL_REDIRECT=false if the proxy redirects itself.
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers and probes ask for /healthz over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env.bool("TRUSTED_PROXY_SSL_HEADER", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

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
# The ingest workers' concurrency when the environment sets it (`--concurrency` on the command line wins
# for the worker, but beat cannot see it: set OUTBOX_DRAIN_PARTITIONS then).
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=None)
# How many drains of the outbox run at once: the beat sweep and a nudge send one drain per partition of
# the clients, [i, n], so n ingest worker processes take different records and never write one twice
# (memory.services.outbox.due_entries). Set it to the total concurrency of the ingest workers.
OUTBOX_DRAIN_PARTITIONS = env.int("OUTBOX_DRAIN_PARTITIONS", default=CELERY_WORKER_CONCURRENCY or 1)
if OUTBOX_DRAIN_PARTITIONS < 1:
    raise ImproperlyConfigured(f"OUTBOX_DRAIN_PARTITIONS must be 1 or more, got {OUTBOX_DRAIN_PARTITIONS}")
CELERY_BEAT_SCHEDULE = {
    **{f"drain-memory-outbox-{part}-of-{OUTBOX_DRAIN_PARTITIONS}": {
        "task": "memory.drain_outbox",
        "schedule": env.float("OUTBOX_SWEEP_SECONDS", default=30.0),
        "kwargs": {"partition": [part, OUTBOX_DRAIN_PARTITIONS]},
    } for part in range(OUTBOX_DRAIN_PARTITIONS)},
    # Chat rounds a client went back from before they were ingested: their memory leaves once it exists.
    "withdraw-pending-chat-memory": {
        "task": "twin.withdraw_pending_chat_memory",
        "schedule": env.float("OUTBOX_SWEEP_SECONDS", default=30.0),
    },
    "refresh-remembered-quotes": {
        "task": "quotes.refresh_client_quotes",
        "schedule": env.float("QUOTE_REFRESH_SECONDS", default=60.0),
    },
    # Creates each firm's due digests (per its hour and weekday); idempotent, so it can run often.
    "schedule-research-digests": {
        "task": "digests.schedule",
        "schedule": env.float("DIGEST_SCHEDULE_SECONDS", default=600.0),
    },
    # Records whose retention ended after an erasure request, unless under a legal hold.
    "purge-due-erasures": {
        "task": "records.purge_due_erasures",
        "schedule": env.float("ERASURE_PURGE_SECONDS", default=86400.0),
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
# Forget turns a summary quotes whole ('redundant'): they leave the candidate pool and are found again
# only through a summary that matches the question (memory/services/retrieval.py). On by default:
# measured, a simulated year of it shrinks the active graph and keeps recall (BENCHMARKS.md, "Memory levels").
MEMORY_FORGET_REDUNDANT = env.bool("MEMORY_FORGET_REDUNDANT", default=True)

# --- Market data ---------------------------------------------------------------------------------
# "replay" (real historical prices shipped in a package, played on a market clock) or "yfinance".
QUOTE_PROVIDER = env.str("QUOTE_PROVIDER", default="replay")
# The replay runs on today's calendar, this many years behind it (real prices of 1990-2022).
REPLAY_YEARS_BACK = env.int("REPLAY_YEARS_BACK", default=15)
# A move of at least this many percent since a client discussed a security becomes a memory event.
SIGNIFICANT_MOVE_PERCENT = env.float("SIGNIFICANT_MOVE_PERCENT", default=5.0)
PRICE_HISTORY_MAX_DAYS = env.int("PRICE_HISTORY_MAX_DAYS", default=800)

# --- Research digests (twin/digests) ---------------------------------------------------------------
DIGEST_DISCLOSURE = env.str("DIGEST_DISCLOSURE", default=(
    "This digest is for your information and is not a recommendation to buy or sell any security. "
    "Prices are past prices; past performance does not guarantee future results. Analyst views are opinions "
    "that can change and can be wrong. Investing involves risk, including the loss of the money invested. "
    "To stop receiving digests, tell your adviser or change your preference in the portal."))
# FINRA Rule 2210: a communication to more than 25 retail investors within any 30-day period is a retail
# communication and needs a principal's approval before it is sent.
DIGEST_RETAIL_THRESHOLD = env.int("DIGEST_RETAIL_THRESHOLD", default=25)
DIGEST_RETAIL_WINDOW_DAYS = env.int("DIGEST_RETAIL_WINDOW_DAYS", default=30)
# Profile facts (risk tolerance, horizon, goals, cash needs) older than this need confirming.
DIGEST_STALE_FACT_DAYS = env.int("DIGEST_STALE_FACT_DAYS", default=365)
# Goals whose target date falls within this many days are "coming due".
DIGEST_GOAL_DUE_DAYS = env.int("DIGEST_GOAL_DUE_DAYS", default=730)
# A digest still pending this long after its build was dispatched is dispatched again.
DIGEST_REDISPATCH_MINUTES = env.int("DIGEST_REDISPATCH_MINUTES", default=15)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"neo4j": {"level": "WARNING"}, "yfinance": {"level": "WARNING"}},
}
