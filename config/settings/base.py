"""Base settings from the environment (django-environ); embedded Postgres and Redis by default."""

from __future__ import annotations

import importlib.util
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

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
    "accounts",
    "retrieval",
    "agents",
    "billing",
    "monitoring",
]

# Every middleware is async-capable, so under ASGI the chain runs on the event loop; the
# config.middleware versions keep static files and metrics off executor threads (see there).
MIDDLEWARE = [
    "config.middleware.AsyncPrometheusBeforeMiddleware",
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
        "BACKEND": "channels_redis.core.RedisChannelLayer",
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
    for prefix, package in (("vendor/htmx", "htmx.org/dist"), ("vendor/chartjs", "chart.js/dist"))
    if (BASE_DIR / "node_modules" / package).exists()
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = DATA_DIR / "media"

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
}

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
        "stream": "ext://sys.stdout",
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

# A stopping web process (config/server.py) lets the turns in flight run this long, then ends
# them as interrupted; config/gunicorn.py kills a worker still alive 5 s later.
SHUTDOWN_DRAIN_SECONDS = env.float("SHUTDOWN_DRAIN_SECONDS", default=20.0)

# Metrics endpoint access (bearer token or allow-listed client addresses).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS: list[str] = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])

# Budgets: a fallback when a tier is missing (never used for a real tenant).
BUDGET_WARNING_RATIO = Decimal(env("BUDGET_WARNING_RATIO", default="0.9"))

# --- Agents: the hook pipeline (outermost first), providers and their chain per tier.
AGENT_HOOKS: list[str] = env.list(
    "AGENT_HOOKS",
    default=[
        "agents.hooks.TenantGuardHook",
        "agents.hooks.MetricsHook",
        # Refuses turns while the process drains; wraps the failover chain to stop at the deadline.
        "agents.drain_hooks.DrainHook",
        # Billing (see agents/billing_hooks.py for why these places): limits before any work,
        # the budget hold once the prompt is final, the answer cache just outside the chain.
        "agents.billing_hooks.RateLimitHook",
        "agents.hooks.PiiMaskHook",
        "agents.hooks.ContextTrimHook",
        "agents.billing_hooks.BudgetHook",
        "agents.billing_hooks.AnswerCacheHook",
        "agents.hooks.FailoverHook",
        "agents.hooks.UsageHook",
        "agents.hooks.ToolTimeoutHook",
        # Observability last: after_agent hooks run in list order, so the log line and the trace
        # see final cost and status; TracingHook must stay the very last.
        "agents.observability_hooks.FailoverMetricsHook",
        "agents.observability_hooks.QueryLogHook",
        "agents.observability_hooks.TracingHook",
    ],
)
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
LLM_MAX_RETRIES = env.int("LLM_MAX_RETRIES", default=2)
LLM_BREAKER_FAILURE_RATE = env.float("LLM_BREAKER_FAILURE_RATE", default=0.5)
LLM_BREAKER_MIN_CALLS = env.int("LLM_BREAKER_MIN_CALLS", default=5)
LLM_BREAKER_WINDOW_SECONDS = env.float("LLM_BREAKER_WINDOW_SECONDS", default=60.0)
LLM_BREAKER_COOLDOWN_SECONDS = env.float("LLM_BREAKER_COOLDOWN_SECONDS", default=30.0)
EMBEDDING_MODEL = env("EMBEDDING_MODEL", default="all-MiniLM-L6-v2")
# Threads torch may use for the query/document embedding (1: no spinning against other work).
EMBEDDING_TORCH_THREADS = env.int("EMBEDDING_TORCH_THREADS", default=1)

# --- Traces: every span of every question is kept in Postgres (admin: Monitoring > Trace spans),
# written in batches off the request path; OTEL_EXPORTER_OTLP_ENDPOINT also sends them over OTLP.
TRACE_STORE_ENABLED = env.bool("TRACE_STORE_ENABLED", default=True)
TRACE_STORE_DELAY_MS = env.int("TRACE_STORE_DELAY_MS", default=2000)
TRACE_STORE_QUEUE_SIZE = env.int("TRACE_STORE_QUEUE_SIZE", default=8192)
TRACE_RETENTION_DAYS = env.int("TRACE_RETENTION_DAYS", default=30)

# --- Backups and archival (manage.py backup / archive_conversations write here by default).
BACKUP_DIR = Path(env("BACKUP_DIR", default=str(DATA_DIR / "backups")))

# --- Billing: prices, ledger, budgets, rate limits and the answer cache (billing/, and
# agents/billing_hooks.py in the pipeline). docs/configuration.md explains each choice.
BILLING_REDIS_URL: str = env("BILLING_REDIS_URL", default=REDIS_URL)
BILLING_REDIS_PREFIX = env("BILLING_REDIS_PREFIX", default="finrag:billing")
BILLING_REDIS_TIMEOUT_SECONDS = env.float("BILLING_REDIS_TIMEOUT_SECONDS", default=0.25)
BILLING_PRICE_CACHE_SECONDS = env.int("BILLING_PRICE_CACHE_SECONDS", default=60)
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
