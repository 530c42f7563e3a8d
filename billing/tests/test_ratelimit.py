"""Rate limits in Redis: per-member and per-tenant requests per minute with exact Retry-After,
concurrent streams, an unreachable Redis under both policies, and no overshoot under load."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from accounts.selectors import tenant_quota_get
from billing.errors import RateLimiterUnavailable, RateLimitExceeded
from billing.ratelimit import (
    request_count,
    stream_slot_acquire,
    stream_slot_release,
    stream_slots_held,
)
from monitoring import metrics

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def quota_of(member, **changes):
    return replace(tenant_quota_get(tenant=member.tenant), **changes)


def counter(metric, **labels) -> float:
    return metric.labels(**labels)._value.get()


def test_member_limit_refuses_with_retry_after_and_rate_limit_headers_then_refills(analyst):
    clock = Clock()
    quota = quota_of(analyst, requests_per_minute_user=3, requests_per_minute_tenant=100)
    decisions = [
        request_count(tenant=analyst.tenant, user=analyst.user, quota=quota, clock=clock)
        for _ in range(3)
    ]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    limited_before = counter(metrics.RATE_LIMITED, scope="user")
    with pytest.raises(RateLimitExceeded) as refused:
        request_count(tenant=analyst.tenant, user=analyst.user, quota=quota, clock=clock)
    error = refused.value
    assert error.status_code == 429
    assert error.code == "rate_limited"
    assert error.retry_after == 20  # one request refills every 60 s / 3
    assert error.details["scope"] == "user"
    assert error.headers["X-RateLimit-Limit"] == "3"
    assert error.headers["X-RateLimit-Remaining"] == "0"
    assert int(error.headers["X-RateLimit-Reset"]) == int(clock.now) + 60
    assert counter(metrics.RATE_LIMITED, scope="user") == limited_before + 1

    clock.now += 19.5
    with pytest.raises(RateLimitExceeded):
        request_count(tenant=analyst.tenant, user=analyst.user, quota=quota, clock=clock)
    clock.now += 0.5
    assert request_count(tenant=analyst.tenant, user=analyst.user, quota=quota, clock=clock)
    clock.now += 60
    refilled = request_count(tenant=analyst.tenant, user=analyst.user, quota=quota, clock=clock)
    assert refilled.remaining == 2


def test_the_tenant_limit_counts_every_member_together(analyst, make_member):
    colleague = make_member("acme", "analyst")
    clock = Clock()
    quota = quota_of(analyst, requests_per_minute_user=10, requests_per_minute_tenant=2)
    request_count(tenant=analyst.tenant, user=analyst.user, quota=quota, clock=clock)
    request_count(tenant=colleague.tenant, user=colleague.user, quota=quota, clock=clock)
    with pytest.raises(RateLimitExceeded) as refused:
        request_count(tenant=colleague.tenant, user=colleague.user, quota=quota, clock=clock)
    assert refused.value.details["scope"] == "tenant"
    assert refused.value.retry_after == 30


def test_a_refused_request_consumes_nothing_from_either_limit(analyst, make_member):
    colleague = make_member("acme", "analyst")
    clock = Clock()
    quota = quota_of(analyst, requests_per_minute_user=1, requests_per_minute_tenant=2)
    request_count(tenant=analyst.tenant, user=analyst.user, quota=quota, clock=clock)
    for _ in range(3):
        with pytest.raises(RateLimitExceeded):
            request_count(tenant=analyst.tenant, user=analyst.user, quota=quota, clock=clock)
    # The tenant still has its second request: the refusals above took nothing from it.
    assert request_count(tenant=colleague.tenant, user=colleague.user, quota=quota, clock=clock)


def test_limits_of_other_tenants_are_separate(analyst, other_tenant_analyst):
    clock = Clock()
    quota = quota_of(analyst, requests_per_minute_user=1, requests_per_minute_tenant=1)
    request_count(tenant=analyst.tenant, user=analyst.user, quota=quota, clock=clock)
    assert request_count(
        tenant=other_tenant_analyst.tenant, user=other_tenant_analyst.user, quota=quota, clock=clock
    )


def test_concurrent_streams_are_limited_per_member_and_released(analyst):
    quota = quota_of(analyst, concurrent_streams_user=2)
    first = stream_slot_acquire(tenant=analyst.tenant, user=analyst.user, quota=quota, slot_id="a")
    stream_slot_acquire(tenant=analyst.tenant, user=analyst.user, quota=quota, slot_id="b")
    with pytest.raises(RateLimitExceeded) as refused:
        stream_slot_acquire(tenant=analyst.tenant, user=analyst.user, quota=quota, slot_id="c")
    assert refused.value.details["scope"] == "streams"
    assert refused.value.headers["X-RateLimit-Limit"] == "2"
    assert refused.value.retry_after >= 1
    assert stream_slots_held(tenant=analyst.tenant, user=analyst.user) == 2
    stream_slot_release(slot=first)
    assert stream_slots_held(tenant=analyst.tenant, user=analyst.user) == 1
    stream_slot_acquire(tenant=analyst.tenant, user=analyst.user, quota=quota, slot_id="c")


def test_a_stream_slot_that_is_never_released_expires_by_itself(analyst, settings):
    settings.RATE_LIMIT_STREAM_SLOT_TTL_SECONDS = 30
    clock = Clock()
    quota = quota_of(analyst, concurrent_streams_user=1)
    stream_slot_acquire(
        tenant=analyst.tenant, user=analyst.user, quota=quota, slot_id="lost", clock=clock
    )
    with pytest.raises(RateLimitExceeded):
        stream_slot_acquire(
            tenant=analyst.tenant, user=analyst.user, quota=quota, slot_id="next", clock=clock
        )
    clock.now += 31
    assert stream_slot_acquire(
        tenant=analyst.tenant, user=analyst.user, quota=quota, slot_id="next", clock=clock
    ).acquired


def test_unreachable_redis_fails_open_by_default_logged_and_counted(
    analyst, unreachable_redis, caplog
):
    quota = quota_of(analyst)
    before = counter(metrics.REDIS_ERRORS, component="rate_limit", policy="fail_open")
    decision = request_count(tenant=analyst.tenant, user=analyst.user, quota=quota)
    assert decision.allowed
    assert decision.degraded
    slot = stream_slot_acquire(tenant=analyst.tenant, user=analyst.user, quota=quota, slot_id="x")
    assert not slot.acquired
    stream_slot_release(slot=slot)  # nothing to release, and no error
    assert counter(metrics.REDIS_ERRORS, component="rate_limit", policy="fail_open") == before + 1
    assert any("Redis unavailable" in r.getMessage() for r in caplog.records)


def test_unreachable_redis_fails_closed_with_503_when_configured(analyst, unreachable_redis):
    unreachable_redis.RATE_LIMIT_FAIL_OPEN = False
    quota = quota_of(analyst)
    before = counter(metrics.REDIS_ERRORS, component="rate_limit", policy="fail_closed")
    with pytest.raises(RateLimiterUnavailable) as refused:
        request_count(tenant=analyst.tenant, user=analyst.user, quota=quota)
    assert refused.value.status_code == 503
    assert refused.value.code == "rate_limiter_unavailable"
    assert counter(metrics.REDIS_ERRORS, component="rate_limit", policy="fail_closed") == before + 1
    with pytest.raises(RateLimiterUnavailable):
        stream_slot_acquire(tenant=analyst.tenant, user=analyst.user, quota=quota, slot_id="x")


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_against_redis_never_exceed_the_limit(make_member):
    member = make_member("burst", "analyst")
    quota = quota_of(member, requests_per_minute_user=25, requests_per_minute_tenant=1000)
    clock = Clock()
    start = threading.Barrier(10)
    allowed: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        start.wait()
        for _ in range(10):
            try:
                request_count(tenant=member.tenant, user=member.user, quota=quota, clock=clock)
            except RateLimitExceeded:
                with lock:
                    refused.append(1)
            else:
                with lock:
                    allowed.append(1)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 25
    assert len(refused) == 75
