"""Base settings from the environment (django-environ); embedded Postgres and Redis by default."""

from __future__ import annotations

import importlib.util
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config import embedded
from config.env import BASE_DIR, env

DATA_DIR = Path(env("FINRAG_DATA_DIR", default=str(BASE_DIR / ".data")))

# Offline defaults for the tokenizers and model libraries (there is no network).
_llama_core = importlib.util.find_spec("llama_index.core")
if _llama_core and _llama_core.submodule_search_locations:
    _tiktoken_cache = (
        Path(next(iter(_llama_core.submodule_search_locations))) / "_static" / "tiktoken_cache"
    )
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(_tiktoken_cache))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SECRET_KEY = env("SECRET_KEY", default="dev-insecure-finrag-key-change-me-in-production-0123456789")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_prometheus",
    "django_htmx",
    "axes",
    "accounts",
    "retrieval",
    "agents",
    "billing",
    "monitoring",
]

# Every middleware is async-capable, so under ASGI the chain runs on the event loop; the
# config.middleware versions keep static files and metrics off executor threads (see there).
MIDDLEWARE = [
    # First: probes and scrapes pass whatever Host they send (ALLOWED_HOSTS), over plain HTTP.
    "monitoring.middleware.health_check_middleware",
    "config.middleware.AsyncPrometheusBeforeMiddleware",
    # Outermost of ours: every error under /api/ leaves in the house JSON format.
    "accounts.middleware.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.AsyncWhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.AsyncPrometheusAfterMiddleware",
    # Sign-in throttling (django-axes): last, as its documentation asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

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

# --- Database: DATABASE_URL, or the embedded PostgreSQL 18 + pgvector under .data/postgres.
if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db_url("DATABASE_URL")}
    DATABASE_SOURCE = "DATABASE_URL"
else:
    _pg = embedded.postgres_start(DATA_DIR / "postgres")
    DATABASES = {"default": _pg.database_settings}
    DATABASE_SOURCE = f"embedded PostgreSQL + pgvector in {_pg.data_dir}"
# 0 under ASGI: Django runs each request's sync code on a thread of its own, so a persistent
# connection per thread is never reused and piles up until max_connections is reached (the load
# test saw "too many clients" with 60). Each answer in flight holds one connection meanwhile.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A connection pool per web worker (psycopg_pool, Django's "pool" option): without it every
# request opened a connection and Postgres forked a backend for it, which then rebuilt its
# catalogue caches; that was a third of the database's CPU per answer (bench/rest_cpu). Each
# answer in flight holds one pooled connection until its request ends, so the pool is sized for
# a worker's concurrent answers; a request that finds it full waits up to DB_POOL_TIMEOUT, then
# gets the house 503. gunicorn turns it on for its workers (config/gunicorn.py), which it forks
# before Django loads; Celery's prefork children would inherit a parent's pool, so other
# processes keep plain connections (0 = off). CONN_HEALTH_CHECKS makes the pool check each
# connection it hands out, so a restarted Postgres costs no failed request.
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=0)
if DB_POOL_MAX_SIZE > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django's pool refuses persistent connections
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(env.int("DB_POOL_MIN_SIZE", default=2), DB_POOL_MAX_SIZE),
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
        "max_idle": 60.0,
    }
DATABASES["default"].setdefault("TEST", {})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: REDIS_URL, else the service on 127.0.0.1:6379, else an embedded redis-server.
if env("REDIS_URL", default=""):
    REDIS_URL: str = env("REDIS_URL")
    REDIS_SOURCE = "REDIS_URL"
else:
    _redis = embedded.redis_choose(DATA_DIR / "redis")
    REDIS_URL = _redis.url
    REDIS_SOURCE = _redis.description

CACHES: dict[str, Any] = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "finrag",
    }
}

CHANNEL_LAYERS: dict[str, Any] = {
    "default": {
        "BACKEND": "config.channel_layers.ReconnectingRedisChannelLayer",
        # redis-py 8.1 reads with a 5 s socket timeout by default, the same 5 s that
        # channels_redis blocks in BZPOPMIN, so idle websockets died; read longer than that.
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
            "prefix": "finrag:asgi",
        },
    }
}


def _celery_url(url: str) -> str:
    # Celery/kombu spell a unix-socket Redis as redis+socket://
    if url.startswith("unix://"):
        return "redis+socket://" + url.removeprefix("unix://")
    return url


CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=_celery_url(REDIS_URL))
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "UTC"
# Ingestion of one document: deliveries in all (retries and redeliveries after a lost worker
# included) before it is marked failed, and its time limits in seconds (soft: the task stops and
# marks it failed; hard: the worker process is killed; 0 turns the soft limit off). A file that
# kills the worker must not be redelivered forever and stall every tenant's ingestion.
INGEST_TASK_MAX_ATTEMPTS = env.int("INGEST_TASK_MAX_ATTEMPTS", default=3)
INGEST_TASK_SOFT_TIME_LIMIT = env.int("INGEST_TASK_SOFT_TIME_LIMIT", default=900)
INGEST_TASK_TIME_LIMIT = env.int("INGEST_TASK_TIME_LIMIT", default=960)
# A document still "processing" this long after its time limit has no worker on it (a worker
# killed with its whole process group, a lost message): the ingest-stuck-sweep job queues it
# again, or fails it with the reason once its attempts are spent (retrieval.services).
INGEST_STUCK_MARGIN_SECONDS = env.int("INGEST_STUCK_MARGIN_SECONDS", default=300)
# Redis hands an unacknowledged (acks-late) message to another worker after visibility_timeout;
# kombu's default is 1 h, so a worker killed mid-ingest held its document for an hour. It must
# exceed the longest task (the ingestion hard limit), or a running task is delivered twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int(
        "CELERY_VISIBILITY_TIMEOUT", default=(INGEST_TASK_TIME_LIMIT or 3600) + 60
    )
}

# django-axes first: it refuses a sign-in once AXES_FAILURE_LIMIT attempts for that email from
# that address have failed, for AXES_COOLOFF_MINUTES (the web sign-in and the admin's).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=0)

# --- Scheduled jobs: one Celery beat process enqueues them; each runs under its own advisory lock
# (monitoring/jobs.py), so an overlapping or repeated run is skipped or harmless. The schedule is
# code, reviewed with the tasks it names (a test checks it covers every job); SCHEDULED_JOBS_OFF
# drops entries where something else runs them (the k8s backup CronJob). A tick not picked up
# within its period (workers down or busy) expires rather than piling up.
_HOUR = 60 * 60
SCHEDULED_JOBS: dict[str, dict[str, Any]] = {
    # Nightly, in the quiet hours, in this order: back up, then archive, then prune.
    "database-backup": {
        "task": "monitoring.tasks.database_backup_task",
        "schedule": crontab(hour=2, minute=0),
        "options": {"expires": _HOUR},
    },
    "conversation-archive": {
        "task": "agents.tasks.conversations_archive_task",
        "schedule": crontab(hour=3, minute=0),
        "options": {"expires": _HOUR},
    },
    "trace-prune": {
        "task": "monitoring.tasks.trace_spans_prune_task",
        "schedule": crontab(hour=3, minute=30),
        "options": {"expires": _HOUR},
    },
    # Hourly, once the hour's grace (billing.rollups.ROLLUP_GRACE, 10 minutes) has passed.
    "ledger-rollups": {
        "task": "billing.tasks.ledger_rollups_task",
        "schedule": crontab(minute=15),
        "options": {"expires": _HOUR},
    },
    # Every few minutes: holds of answers that died (TTL BUDGET_RESERVATION_TTL_SECONDS) and
    # stream slots of processes that died (TTL RATE_LIMIT_STREAM_SLOT_TTL_SECONDS).
    "budget-holds-expire": {
        "task": "billing.tasks.reservations_expire_task",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 5 * 60},
    },
    # Every minute: documents left "processing" by a lost ingestion worker.
    "ingest-stuck-sweep": {
        "task": "retrieval.tasks.documents_stuck_sweep_task",
        "schedule": crontab(),
        "options": {"expires": 60},
    },
    "stream-slots-expire": {
        "task": "billing.tasks.stream_slots_expire_task",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 5 * 60},
    },
}
SCHEDULED_JOBS_OFF: list[str] = env.list("SCHEDULED_JOBS_OFF", default=[])
_unknown_jobs = set(SCHEDULED_JOBS_OFF) - set(SCHEDULED_JOBS)
if _unknown_jobs:
    raise ImproperlyConfigured(f"SCHEDULED_JOBS_OFF names unknown jobs: {sorted(_unknown_jobs)}")
CELERY_BEAT_SCHEDULE = {
    name: entry for name, entry in SCHEDULED_JOBS.items() if name not in SCHEDULED_JOBS_OFF
}

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

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
STATICFILES_DIRS: list[Any] = [d for d in [BASE_DIR / "static"] if d.exists()]
# Front-end libraries come from npm (package-lock.json) and are served from node_modules,
# never copied into the repository.
STATICFILES_DIRS += [
    (prefix, BASE_DIR / "node_modules" / package)
    for prefix, package in (
        ("vendor/htmx", "htmx.org/dist"),
        ("vendor/chartjs", "chart.js/dist"),
        ("vendor/marked", "marked/lib"),
        ("vendor/dompurify", "dompurify/dist"),
        ("vendor/pdfjs", "pdfjs-dist/build"),
        ("vendor/pdfjs-fonts", "pdfjs-dist/standard_fonts"),
    )
    if (BASE_DIR / "node_modules" / package).exists()
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = DATA_DIR / "media"

# --- Request bodies. REQUEST_BODY_MAX_BYTES caps one request, checked before the body is read
# (config/body_limit.py: Content-Length at once, a chunked body as it streams); 413 past it.
# Every file of an upload must also fit its tenant's tier limit (checked as the file streams in
# the REST upload, retrieval/uploads.py). Uploaded files over FILE_UPLOAD_MAX_MEMORY_SIZE are
# spooled to disk, and form fields are capped at DATA_UPLOAD_MAX_MEMORY_SIZE (Django's).
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", default=128 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "accounts.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "accounts.exception_handler.house_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    # ?format= is ours (conversation export), not DRF's renderer override.
    "URL_FORMAT_OVERRIDE": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Views with a throttle_scope (search, upload) count against the tenant's requests per
    # minute, as questions do (billing.metering).
    "DEFAULT_THROTTLE_CLASSES": ["billing.metering.TenantQuotaThrottle"],
}
# Where REST operations other than questions are billed (a search's query embedding).
API_USAGE_RECORDER = "billing.metering.api_usage_record"

SPECTACULAR_SETTINGS = {
    "TITLE": "FinRAG API",
    "DESCRIPTION": (
        "Ask questions about SEC filings and get cited answers; manage documents, keys and costs."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request and response components apart: uploads are binary, non-blank strings minLength 1.
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "accounts.schema.error_responses_postprocess",
    ],
    "ENUM_NAME_OVERRIDES": {
        "DocumentTypeEnum": "retrieval.models.Document.DocType",
        "FiscalPeriodEnum": "retrieval.apis.FISCAL_PERIOD_CHOICES",
    },
}

LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_DIR = Path(env("LOG_DIR", default=str(BASE_DIR / "logs")))
# JSON lines to stdout and to LOG_FILE (rotated by size); LOG_FILE empty logs to stdout only,
# which suits containers. Several processes rotating one file can lose lines at the moment of
# rotation, so multi-process hosts should ship stdout or give each process its own LOG_FILE.
LOG_FILE = env("LOG_FILE", default=str(LOG_DIR / "app.log"))
LOG_FILE_MAX_BYTES = env.int("LOG_FILE_MAX_BYTES", default=20 * 1024 * 1024)
LOG_FILE_BACKUPS = env.int("LOG_FILE_BACKUPS", default=5)
_log_handlers: dict[str, dict[str, Any]] = {
    "console": {
        "class": "logging.StreamHandler",
        "formatter": "json",
        # stderr, so a command's own output on stdout (`manage.py ask --json | jq`) stays clean;
        # container runtimes and systemd collect both streams.
        "stream": "ext://sys.stderr",
    },
}
if LOG_FILE:
    Path(LOG_FILE).parent.mkdir(parents=True, exist_ok=True)
    _log_handlers["file"] = {
        "class": "logging.handlers.RotatingFileHandler",
        "formatter": "json",
        "filename": LOG_FILE,
        "maxBytes": LOG_FILE_MAX_BYTES,
        "backupCount": LOG_FILE_BACKUPS,
        "encoding": "utf-8",
        "delay": True,
    }
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "monitoring.logging.JsonFormatter"},
    },
    "handlers": _log_handlers,
    "root": {"handlers": list(_log_handlers), "level": LOG_LEVEL},
    "loggers": {
        "django": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        # Presidio logs every analysis at INFO; one line per masked text would drown the log.
        "presidio-analyzer": {"level": "WARNING"},
        "presidio-anonymizer": {"level": "WARNING"},
    },
}

# --- Product settings
API_KEY_LAST_USED_RESOLUTION_SECONDS = env.int("API_KEY_LAST_USED_RESOLUTION_SECONDS", default=60)
DEFAULT_TIER = env("DEFAULT_TIER", default="free")
# Retry-After of a 503 when the database or Redis is unreachable.
API_RETRY_AFTER_SECONDS = env.int("API_RETRY_AFTER_SECONDS", default=5)
# How long a finished turn keeps retrying its save through a database outage (agents.outage_retry)
# before it gives up and tells the client the answer was not saved.
TURN_SAVE_OUTAGE_SECONDS = env.int("TURN_SAVE_OUTAGE_SECONDS", default=20)

# A stopping web process (config/server.py) lets the turns in flight run this long, then ends
# them as interrupted; config/gunicorn.py kills a worker still alive 5 s later.
SHUTDOWN_DRAIN_SECONDS = env.float("SHUTDOWN_DRAIN_SECONDS", default=20.0)

# Metrics endpoint access (bearer token or allow-listed client addresses).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS: list[str] = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])

# Alertmanager's webhook (POST /api/v1/alerts/alertmanager) needs this bearer token; empty turns
# the endpoint off. Each stored alert is handed to the notifiers listed (dotted paths).
ALERT_WEBHOOK_TOKEN = env("ALERT_WEBHOOK_TOKEN", default="")
ALERT_NOTIFIERS: list[str] = env.list(
    "ALERT_NOTIFIERS", default=["billing.alerts.tenant_alert_notify"]
)

# Budgets: a fallback when a tier is missing (never used for a real tenant).
BUDGET_WARNING_RATIO = Decimal(env("BUDGET_WARNING_RATIO", default="0.9"))

# --- Agents: hooks added to the fixed stack of agents.hooks.stack (dotted paths, outermost
# first; they run after billing's hold and before the answer cache and the provider chain), the
# providers and their chain per tier.
AGENT_HOOKS: list[str] = env.list("AGENT_HOOKS", default=[])
# The longest question (or search query) any entry point accepts, and the longest a follow-up
# may become once condensed with the conversation: one limit for REST, the websocket and search.
QUESTION_MAX_CHARS = env.int("QUESTION_MAX_CHARS", default=2000)
AGENT_TOP_K = env.int("AGENT_TOP_K", default=6)
AGENT_TOOL_TIMEOUT_SECONDS = env.float("AGENT_TOOL_TIMEOUT_SECONDS", default=5.0)
# The finance calculator offered to the model, and how many rounds of tool calls one answer may
# make before it must answer in text (budget holds cover every round).
AGENT_TOOLS_ENABLED = env.bool("AGENT_TOOLS_ENABLED", default=True)
AGENT_MAX_TOOL_ROUNDS = env.int("AGENT_MAX_TOOL_ROUNDS", default=2)
LLM_CHAINS: dict[str, list[str]] = {
    "free": env.list("LLM_CHAIN_FREE", default=["offline"]),
    "pro": env.list("LLM_CHAIN_PRO", default=["anthropic", "openai", "offline"]),
    "enterprise": env.list("LLM_CHAIN_ENTERPRISE", default=["anthropic", "openai", "offline"]),
}
ANTHROPIC_MODEL = env("ANTHROPIC_MODEL", default="claude-sonnet-5-5")
OPENAI_MODEL = env("OPENAI_MODEL", default="gpt-5.4-mini")
LLM_TIMEOUT_SECONDS = env.float("LLM_TIMEOUT_SECONDS", default=60.0)
LLM_FIRST_TOKEN_TIMEOUT_SECONDS = env.float("LLM_FIRST_TOKEN_TIMEOUT_SECONDS", default=20.0)
LLM_MAX_TOKENS = env.int("LLM_MAX_TOKENS", default=1024)
LLM_CONTEXT_TOKENS = env.int("LLM_CONTEXT_TOKENS", default=16000)
# A smaller context for some models ("model=tokens;model=tokens"); a chain's prompt fits the
# smallest of its models.
LLM_CONTEXT_TOKENS_BY_MODEL: dict[str, int] = env.dict(
    "LLM_CONTEXT_TOKENS_BY_MODEL", cast={"value": int}, default={}
)
LLM_MAX_RETRIES = env.int("LLM_MAX_RETRIES", default=2)
LLM_BREAKER_FAILURE_RATE = env.float("LLM_BREAKER_FAILURE_RATE", default=0.5)
LLM_BREAKER_MIN_CALLS = env.int("LLM_BREAKER_MIN_CALLS", default=5)
LLM_BREAKER_WINDOW_SECONDS = env.float("LLM_BREAKER_WINDOW_SECONDS", default=60.0)
LLM_BREAKER_COOLDOWN_SECONDS = env.float("LLM_BREAKER_COOLDOWN_SECONDS", default=30.0)
EMBEDDING_MODEL = env("EMBEDDING_MODEL", default="all-MiniLM-L6-v2")
# Threads torch may use for the query/document embedding (1: no spinning against other work).
EMBEDDING_TORCH_THREADS = env.int("EMBEDDING_TORCH_THREADS", default=1)
# Documents: "bf16" runs MiniLM's fp32 weights under bfloat16 autocast (2.5x faster on CPUs with
# AMX/AVX512-BF16, cosine to fp32 > 0.9999); "auto" picks it when the CPU has them; "fp32".
EMBEDDING_PRECISION = env("EMBEDDING_PRECISION", default="auto")
# Queries: "onnx" embeds them with ONNX Runtime (about 2.5x less CPU than torch, same vectors
# within float rounding), "torch", or "auto" (onnx when onnxruntime is installed).
EMBEDDING_QUERY_RUNTIME = env("EMBEDDING_QUERY_RUNTIME", default="auto")
# Where the query graph is exported once per machine (a few MB, rebuilt when the model changes).
EMBEDDING_ONNX_DIR = env("EMBEDDING_ONNX_DIR", default=str(DATA_DIR / "models"))

# --- Traces: every span of every question is kept in Postgres (admin: Monitoring > Trace spans),
# written in batches off the request path; OTEL_EXPORTER_OTLP_ENDPOINT also sends them over OTLP.
TRACE_STORE_ENABLED = env.bool("TRACE_STORE_ENABLED", default=True)
TRACE_STORE_DELAY_MS = env.int("TRACE_STORE_DELAY_MS", default=2000)
TRACE_STORE_QUEUE_SIZE = env.int("TRACE_STORE_QUEUE_SIZE", default=8192)
TRACE_RETENTION_DAYS = env.int("TRACE_RETENTION_DAYS", default=30)

# --- Backups and archival (manage.py backup / archive_conversations write here by default).
BACKUP_DIR = Path(env("BACKUP_DIR", default=str(DATA_DIR / "backups")))
# The nightly backup job keeps this many of its newest archives in BACKUP_DIR (at least 1).
BACKUP_KEEP = env.int("BACKUP_KEEP", default=14)
# The nightly archival job moves conversations untouched this long to BACKUP_DIR; 0 turns it off.
CONVERSATION_ARCHIVE_AFTER_DAYS = env.int("CONVERSATION_ARCHIVE_AFTER_DAYS", default=90)

# --- Billing: prices, ledger, budgets, rate limits and the answer cache (billing/, and
# agents/hooks/billing.py and answer_cache.py in the turn). docs/configuration.md explains each
# choice.
BILLING_REDIS_URL: str = env("BILLING_REDIS_URL", default=REDIS_URL)
BILLING_REDIS_PREFIX = env("BILLING_REDIS_PREFIX", default="finrag:billing")
BILLING_REDIS_TIMEOUT_SECONDS = env.float("BILLING_REDIS_TIMEOUT_SECONDS", default=0.25)
BILLING_PRICE_CACHE_SECONDS = env.int("BILLING_PRICE_CACHE_SECONDS", default=60)
# --- Outgoing e-mail: budget warnings and alert e-mails to tenant admins. Django's SMTP backend
# unless EMAIL_BACKEND says otherwise (local.py prints mail to the console, test.py keeps it in
# memory). EMAIL_USE_TLS is STARTTLS (usually port 587), EMAIL_USE_SSL implicit TLS (465).
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set EMAIL_USE_TLS (STARTTLS) or EMAIL_USE_SSL, not both.")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="FinRAG <noreply@finrag.local>")
SERVER_EMAIL = env("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
BILLING_EMAIL_FROM = env("BILLING_EMAIL_FROM", default="FinRAG billing <billing@finrag.local>")
BILLING_ROUTING_TARGET = env("BILLING_ROUTING_TARGET", default="")
BILLING_ROUTING_SHORT_ANSWER_TOKENS = env.int("BILLING_ROUTING_SHORT_ANSWER_TOKENS", default=300)
BUDGET_RESERVATION_TTL_SECONDS = env.int("BUDGET_RESERVATION_TTL_SECONDS", default=900)
BUDGET_TOKEN_MARGIN = Decimal(env("BUDGET_TOKEN_MARGIN", default="1.25"))
BUDGET_ASYNC_COMMIT = env.bool("BUDGET_ASYNC_COMMIT", default=True)
BUDGET_EXPIRY_SWEEP_SECONDS = env.int("BUDGET_EXPIRY_SWEEP_SECONDS", default=60)
RATE_LIMIT_ENABLED = env.bool("RATE_LIMIT_ENABLED", default=True)
RATE_LIMIT_FAIL_OPEN = env.bool("RATE_LIMIT_FAIL_OPEN", default=True)
RATE_LIMIT_STREAM_SLOT_TTL_SECONDS = env.int("RATE_LIMIT_STREAM_SLOT_TTL_SECONDS", default=900)
ANSWER_CACHE_ENABLED = env.bool("ANSWER_CACHE_ENABLED", default=True)
ANSWER_CACHE_TTL_SECONDS = env.int("ANSWER_CACHE_TTL_SECONDS", default=86_400)
ANSWER_CACHE_VERSION = env("ANSWER_CACHE_VERSION", default="1")
