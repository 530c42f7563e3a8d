"""Per-tier request rate limits and concurrent-stream slots, enforced atomically in Redis.

Requests per minute use GCRA (the generic cell rate algorithm): one key per user and per tenant
holding a "theoretical arrival time", so a full minute's allowance may be used at once and then
refills smoothly, with an exact Retry-After. One Lua script checks the user and the tenant limit
together and consumes from both or neither. Concurrent streams are a sorted set per user whose
members expire on their own (a safety net when a process dies holding a slot).

When Redis cannot be reached, RATE_LIMIT_FAIL_OPEN decides: True (default) lets the request
through, False refuses it with 503 `rate_limiter_unavailable`; either way it is logged and counted
in rag_redis_errors_total. Budgets live in Postgres, so failing open never lets spend pass a limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings

from accounts.contracts import Quota
from accounts.models import Tenant, User
from billing.contracts import RateLimitDecision, StreamSlot
from billing.errors import RateLimiterUnavailable, RateLimitExceeded
from billing.redis_store import (
    RedisError,
    key_prefix,
    redis_client,
    redis_failure,
    run_script,
    tenant_namespace,
)
from monitoring import metrics

PERIOD_SECONDS = 60
STREAM_RETRY_AFTER_SECONDS = 2

Clock = Callable[[], float]

# KEYS: user key, tenant key. ARGV: now (ms), period (ms), user limit, tenant limit.
# Returns {allowed, scope index (1 user, 2 tenant), remaining, reset ms, retry ms}.
_GCRA = """
local now = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local new_tats = {}
local worst, worst_wait = 0, 0
for i = 1, 2 do
  local interval = period / tonumber(ARGV[2 + i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local new_tat = math.ceil(tat + interval)
  new_tats[i] = new_tat
  local wait = new_tat - now - period
  if wait > worst_wait then worst, worst_wait = i, wait end
end
if worst > 0 then
  local interval = period / tonumber(ARGV[2 + worst])
  local reset = math.ceil(new_tats[worst] - interval - now)
  return {0, worst, 0, reset, math.ceil(worst_wait)}
end
local pick, pick_remaining = 1, nil
for i = 1, 2 do
  local interval = period / tonumber(ARGV[2 + i])
  redis.call('SET', KEYS[i], string.format('%d', new_tats[i]), 'PX', new_tats[i] - now + 1)
  local remaining = math.floor((period - (new_tats[i] - now)) / interval + 0.000001)
  if pick_remaining == nil or remaining < pick_remaining then
    pick, pick_remaining = i, remaining
  end
end
return {1, pick, pick_remaining, new_tats[pick] - now, 0}
"""

# KEYS: the user's stream set. ARGV: now (ms), limit, ttl (ms), member.
# Returns {acquired, held}.
_STREAM_ACQUIRE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  local held = redis.call('ZCARD', KEYS[1])
  if held >= tonumber(ARGV[2]) then
    return {0, held}
  end
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return {1, redis.call('ZCARD', KEYS[1])}
"""


def _fail_open() -> bool:
    return bool(settings.RATE_LIMIT_FAIL_OPEN)


def _enabled() -> bool:
    return bool(settings.RATE_LIMIT_ENABLED)


def _rpm_keys(tenant: Tenant, user: User) -> tuple[str, str]:
    namespace = tenant_namespace(tenant)
    return (
        f"{key_prefix()}:rl:{namespace}:u:{user.pk}",
        f"{key_prefix()}:rl:{namespace}:t",
    )


def stream_key(tenant: Tenant, user: User) -> str:
    return f"{key_prefix()}:streams:{tenant_namespace(tenant)}:u:{user.pk}"


def _refuse(*, scope: str, limit: int, retry_after: float, reset: float, now: float) -> None:
    metrics.RATE_LIMITED.labels(scope=scope).inc()
    what = {
        "user": f"{limit} questions per minute for each user",
        "tenant": f"{limit} questions per minute for this workspace",
        "streams": f"{limit} answers streaming at once for each user",
    }[scope]
    raise RateLimitExceeded(
        f"Rate limit reached: {what}. Try again in {max(1, round(retry_after))} s.",
        scope=scope,
        limit=limit,
        remaining=0,
        reset_epoch=now + reset,
        retry_after=retry_after,
    )


def request_count(
    *, tenant: Tenant, user: User, quota: Quota, clock: Clock = time.time
) -> RateLimitDecision:
    """Count one request against the user's and the tenant's per-minute limits.

    Raises RateLimitExceeded (429) when either is used up, and RateLimiterUnavailable (503)
    when Redis is down and RATE_LIMIT_FAIL_OPEN is off.
    """
    now = clock()
    user_limit, tenant_limit = quota.requests_per_minute_user, quota.requests_per_minute_tenant
    if not _enabled():
        return RateLimitDecision(True, "none", user_limit, user_limit, 0.0, 0.0)
    for scope, limit in (("user", user_limit), ("tenant", tenant_limit)):
        if limit <= 0:
            _refuse(scope=scope, limit=0, retry_after=PERIOD_SECONDS, reset=PERIOD_SECONDS, now=now)
    try:
        allowed, index, remaining, reset_ms, retry_ms = run_script(
            _GCRA,
            keys=list(_rpm_keys(tenant, user)),
            args=[int(now * 1000), PERIOD_SECONDS * 1000, user_limit, tenant_limit],
        )
    except RedisError as exc:
        fail_open = _fail_open()
        redis_failure("rate_limit", fail_open=fail_open, exc=exc)
        if not fail_open:
            raise RateLimiterUnavailable() from exc
        return RateLimitDecision(True, "none", user_limit, user_limit, 0.0, 0.0, degraded=True)
    scope = "user" if int(index) == 1 else "tenant"
    limit = user_limit if scope == "user" else tenant_limit
    if not int(allowed):
        _refuse(
            scope=scope,
            limit=limit,
            retry_after=int(retry_ms) / 1000,
            reset=int(reset_ms) / 1000,
            now=now,
        )
    return RateLimitDecision(
        allowed=True,
        scope=scope,  # type: ignore[arg-type]
        limit=limit,
        remaining=int(remaining),
        reset_seconds=int(reset_ms) / 1000,
        retry_after_seconds=0.0,
    )


def stream_slot_acquire(
    *, tenant: Tenant, user: User, quota: Quota, slot_id: str, clock: Clock = time.time
) -> StreamSlot:
    """Take one of the user's concurrent-stream slots for this query.

    The slot expires by itself after RATE_LIMIT_STREAM_SLOT_TTL_SECONDS should its release be
    lost. Raises RateLimitExceeded (429) when every slot is taken, RateLimiterUnavailable (503)
    when Redis is down and RATE_LIMIT_FAIL_OPEN is off.
    """
    key = stream_key(tenant, user)
    if not _enabled():
        return StreamSlot(key=key, member=slot_id, acquired=False)
    now = clock()
    limit = quota.concurrent_streams_user
    ttl_ms = int(settings.RATE_LIMIT_STREAM_SLOT_TTL_SECONDS) * 1000
    try:
        acquired, _held = run_script(
            _STREAM_ACQUIRE, keys=[key], args=[int(now * 1000), limit, ttl_ms, slot_id]
        )
    except RedisError as exc:
        fail_open = _fail_open()
        redis_failure("stream_slots", fail_open=fail_open, exc=exc)
        if not fail_open:
            raise RateLimiterUnavailable() from exc
        return StreamSlot(key=key, member=slot_id, acquired=False)
    if not int(acquired):
        _refuse(
            scope="streams",
            limit=limit,
            retry_after=STREAM_RETRY_AFTER_SECONDS,
            reset=STREAM_RETRY_AFTER_SECONDS,
            now=now,
        )
    return StreamSlot(key=key, member=slot_id, acquired=True)


def stream_slot_release(*, slot: StreamSlot) -> None:
    """Give a stream slot back; never raises (the slot's own expiry is the safety net)."""
    if not slot.acquired:
        return
    try:
        redis_client().zrem(slot.key, slot.member)
    except RedisError as exc:
        redis_failure("stream_slots", fail_open=True, exc=exc)


def stream_slots_held(*, tenant: Tenant, user: User, clock: Clock = time.time) -> int:
    """How many unexpired stream slots the user holds (0 when Redis is unreachable)."""
    key = stream_key(tenant, user)
    try:
        return int(redis_client().zcount(key, f"({int(clock() * 1000)}", "+inf"))
    except RedisError as exc:
        redis_failure("stream_slots", fail_open=True, exc=exc)
        return 0


def stream_slots_expire(*, clock: Clock = time.time) -> int:
    """Drop every user's stream slots whose time ran out (processes that died holding them);
    returns how many went. Acquiring a slot already ignores expired ones, so this only keeps
    the sets small and the held counts true. Raises RedisError when Redis is unreachable."""
    client = redis_client()
    now_ms = int(clock() * 1000)
    removed = 0
    for key in client.scan_iter(match=f"{key_prefix()}:streams:*", count=500):
        # Members are scored by their expiry time; a set left empty disappears with them.
        removed += int(client.zremrangebyscore(key, "-inf", now_ms))
    return removed
