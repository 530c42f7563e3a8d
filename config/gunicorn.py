"""gunicorn settings of the web tier (`gunicorn -c config/gunicorn.py config.asgi:application`).

Read at start-up by the gunicorn master; every value comes from the environment, see
docs/configuration.md. Workers are uvicorn (config/server.py), one per core by default.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import shutil
from pathlib import Path
from typing import Any

from config.env import BASE_DIR, env

bind = [env("WEB_BIND", default="0.0.0.0:8000")]
workers = env.int("WEB_CONCURRENCY", default=multiprocessing.cpu_count())
worker_class = "config.server.DrainingUvicornWorker"
# SHUTDOWN_DRAIN_SECONDS is read again by the workers (Django settings, same default); gunicorn
# SIGKILLs a worker still alive 5 s after it: the bound on how long a stop can take.
SHUTDOWN_DRAIN_SECONDS = env.float("SHUTDOWN_DRAIN_SECONDS", default=20.0)
graceful_timeout = int(SHUTDOWN_DRAIN_SECONDS) + 5
# A worker silent this long (a blocked event loop) is restarted.
timeout = env.int("WEB_WORKER_TIMEOUT", default=60)
keepalive = 5
# Forwarded headers (X-Forwarded-Proto for the TLS redirect) are trusted from these proxies.
forwarded_allow_ips = env("FORWARDED_ALLOW_IPS", default="127.0.0.1")
accesslog = env("WEB_ACCESS_LOG", default="") or None
errorlog = "-"
loglevel = "warning"
proc_name = "finrag-web"
# Each worker loads the embedding model and the PII recognisers before it takes requests
# (post_worker_init). Loaded lazily, a worker's first turns all waited behind the import of the
# ML stack: 25-45 s for every turn begun in the first 20 s of make loadtest, on a worker the
# warm-up had not reached. A boot must stay within `timeout` (WEB_WORKER_TIMEOUT).
WEB_PRELOAD_MODELS = env.bool("WEB_PRELOAD_MODELS", default=True)
# Database connections each worker keeps in its pool; an answer in flight holds one.
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=40)

# Prometheus multiprocess mode: every worker writes its metrics to files in this directory and
# /metrics merges them. on_starting exports it before the workers fork, so prometheus_client
# sees it when they import it.
PROMETHEUS_MULTIPROC_DIR = Path(
    os.environ.get("PROMETHEUS_MULTIPROC_DIR") or BASE_DIR / ".data" / "prometheus-multiproc"
)


def on_starting(server: Any) -> None:
    """Before any worker forks: wipe the previous run's metric files (a restarted server starts
    its counters at zero) and load the settings once, which fails fast on a missing production
    variable and starts the embedded Postgres/Redis here rather than in several workers at once."""
    shutil.rmtree(PROMETHEUS_MULTIPROC_DIR, ignore_errors=True)
    PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(PROMETHEUS_MULTIPROC_DIR)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    # The web tier's workers pool their database connections (config/settings/base.py).
    os.environ.setdefault("DB_POOL_MAX_SIZE", str(DB_POOL_MAX_SIZE))
    importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"])


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: its live gauges (active conversations, breaker state) leave the page."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def models_preload() -> None:
    """Load what the first turn of a worker would otherwise load: MiniLM (not an API embedder,
    which has nothing to load) and the PII analyzer."""
    # Imported by name: this file is read by the gunicorn master too, before Django is set up.
    embeddings = importlib.import_module("retrieval.embeddings")
    pii = importlib.import_module("monitoring.pii")
    embedder = embeddings.get_embedder()
    if isinstance(embedder, embeddings.MiniLMEmbedder):
        embedder.preload()
    pii.pii_scrub_for_logs("warm-up: call 212-555-0147")


def post_worker_init(worker: Any) -> None:
    """After the worker loaded the application, before it serves: preload the models."""
    if WEB_PRELOAD_MODELS:
        models_preload()
