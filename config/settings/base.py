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

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
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
        "CONFIG": {"hosts": [REDIS_URL], "prefix": "finrag:asgi"},
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
STATICFILES_DIRS = [d for d in [BASE_DIR / "static"] if d.exists()]
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
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}

# --- Product settings
API_KEY_LAST_USED_RESOLUTION_SECONDS = env.int("API_KEY_LAST_USED_RESOLUTION_SECONDS", default=60)
DEFAULT_TIER = env("DEFAULT_TIER", default="free")

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
        "agents.hooks.PiiMaskHook",
        "agents.hooks.ContextTrimHook",
        "agents.hooks.FailoverHook",
        "agents.hooks.UsageHook",
        "agents.hooks.ToolTimeoutHook",
    ],
)
AGENT_TOP_K = env.int("AGENT_TOP_K", default=6)
AGENT_TOOL_TIMEOUT_SECONDS = env.float("AGENT_TOOL_TIMEOUT_SECONDS", default=5.0)
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
