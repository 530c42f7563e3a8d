"""Billing test fixtures: a fresh price cache per test, an unreachable Redis, ledger helpers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest

from billing.contracts import UsageLine
from billing.pricing import price_cache_clear

# Nothing listens on port 1: connecting is refused at once, a real "Redis is down".
UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def _fresh_price_cache() -> Iterator[None]:
    price_cache_clear()
    yield
    price_cache_clear()


@pytest.fixture
def unreachable_redis(settings):
    settings.BILLING_REDIS_URL = UNREACHABLE_REDIS_URL
    settings.BILLING_REDIS_TIMEOUT_SECONDS = 0.2
    return settings


def model_line(
    provider: str = "anthropic",
    model: str = "claude-sonnet-5-5",
    *,
    input_tokens: int = 1000,
    output_tokens: int = 100,
    cached: int = 0,
    status: str = "ok",
    cache_hit: bool = False,
    saved: Decimal = Decimal(0),
) -> UsageLine:
    return UsageLine(
        kind="model",
        provider=provider,
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=cached,
        status=status,  # type: ignore[arg-type]
        cache_hit=cache_hit,
        cost_saved_usd=saved,
    )


def record_query(
    *,
    tenant,
    user,
    lines: list[UsageLine],
    at: datetime | None = None,
    latency_ms: int = 1000,
    status: str = "ok",
) -> uuid.UUID:
    """Write a query's call rows and its summary row, as the pipeline does."""
    from billing.services import ledger_line_record, query_summary_record

    query_id = uuid.uuid4()
    for line in lines:
        ledger_line_record(
            tenant=tenant, user=user, conversation_id=None, query_id=query_id, line=line, at=at
        )
    answering = lines[-1] if lines else None
    query_summary_record(
        tenant=tenant,
        user=user,
        conversation_id=None,
        query_id=query_id,
        status=status,
        latency_ms=latency_ms,
        providers_tried=[line.provider for line in lines if line.kind == "model"],
        provider=answering.provider if answering else "",
        model=answering.model if answering else "",
        at=at,
    )
    return query_id
