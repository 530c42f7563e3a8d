"""The Redis connection billing uses (rate limits, stream slots, answer cache) and its failure
accounting: every failure is logged (at most every few seconds per component) and counted."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from django.conf import settings

from accounts.models import Tenant
from monitoring import metrics

logger = logging.getLogger(__name__)

RedisError = redis.exceptions.RedisError
LOG_EVERY_SECONDS = 10.0

_clients: dict[tuple[str, float], redis.Redis] = {}
_clients_lock = threading.Lock()
_last_logged: dict[str, float] = {}


def redis_client() -> redis.Redis:
    """A shared client for BILLING_REDIS_URL with short timeouts, so an outage fails fast."""
    url = str(settings.BILLING_REDIS_URL or settings.REDIS_URL)
    timeout = float(settings.BILLING_REDIS_TIMEOUT_SECONDS)
    key = (url, timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = redis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                health_check_interval=30,
            )
            _clients[key] = client
        return client


def key_prefix() -> str:
    return str(settings.BILLING_REDIS_PREFIX)


def tenant_namespace(tenant: Tenant) -> str:
    """The tenant's part of every billing key: its id plus its creation time in microseconds.

    Ids come back when a database is recreated (test runs, a restore into a fresh instance)
    while Redis keeps its keys; the creation time keeps a new tenant 1 from inheriting the old
    tenant 1's counters, stream slots or cached answers.
    """
    created = tenant.created_at
    epoch = int(created.timestamp() * 1_000_000) if created is not None else 0
    return f"{tenant.pk}.{epoch}"


def redis_failure(component: str, *, fail_open: bool, exc: BaseException) -> None:
    """Log (rate-limited) and count one Redis failure under the policy that was applied."""
    policy = "fail_open" if fail_open else "fail_closed"
    metrics.REDIS_ERRORS.labels(component=component, policy=policy).inc()
    now = time.monotonic()
    if now - _last_logged.get(component, -LOG_EVERY_SECONDS) >= LOG_EVERY_SECONDS:
        _last_logged[component] = now
        logger.warning(
            "Redis unavailable for %s (%s: %s); policy %s",
            component,
            type(exc).__name__,
            exc,
            policy,
        )


_scripts: dict[tuple[int, str], Any] = {}


def run_script(source: str, *, keys: list[str], args: list[Any]) -> Any:
    """Run a Lua script atomically on the billing client (EVALSHA, loading it on first use)."""
    client = redis_client()
    cache_key = (id(client), source)
    compiled = _scripts.get(cache_key)
    if compiled is None:
        compiled = client.register_script(source)
        _scripts[cache_key] = compiled
    return compiled(keys=keys, args=args)
