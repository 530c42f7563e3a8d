"""Liveness (/health, no I/O) and readiness (/ready: database, pgvector, Redis, with latencies).

/ready answers anyone (load balancers, probes), so a failed check says only that it failed: the
exception, with its host, socket and user names, goes to the log."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring import draining

logger = logging.getLogger(__name__)


@require_GET
def health_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_pgvector() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError("the vector extension is not installed in this database")
    return f"vector {row[0]}"


def _check_redis() -> str:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1, retry_on_timeout=False
    )
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def db_connection_usage() -> tuple[int, int]:
    """(client connections in use, max_connections) for the connection-pool gauge."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        )
        in_use = int(cursor.fetchone()[0])
        cursor.execute("SHOW max_connections")
        maximum = int(cursor.fetchone()[0])
    return in_use, maximum


CHECKS: dict[str, Callable[[], str]] = {
    "database": _check_database,
    "pgvector": _check_pgvector,
    "redis": _check_redis,
}


@require_GET
@never_cache
def ready_view(request: HttpRequest) -> JsonResponse:
    if draining.is_draining():
        # Taken out of the load balancer as soon as the process starts to stop.
        return JsonResponse({"status": "draining", "checks": {}}, status=503)
    results: dict[str, dict[str, Any]] = {}
    ready = True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            detail = check()
            ok = True
        except Exception:
            logger.exception("readiness check %s failed", name)
            detail = "unavailable"
            ok = False
        ready = ready and ok
        results[name] = {
            "ok": ok,
            "detail": detail,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        }
    return JsonResponse(
        {"status": "ready" if ready else "not_ready", "checks": results},
        status=200 if ready else 503,
    )
