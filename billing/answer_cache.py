"""The answer cache in Redis: a finished answer, keyed by everything that shapes it.

The key hashes the tenant, its corpus version (bumped by every ingest and delete, so a changed
corpus never serves an old answer), the normalised question, the conversation's filters, the
provider chain and the prompt version. Entries live ANSWER_CACHE_TTL_SECONDS. Redis failures
make a miss (logged and counted): the cache only ever saves money, it never blocks an answer.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from django.conf import settings

from accounts.models import Tenant
from billing.contracts import CachedAnswer
from billing.redis_store import (
    RedisError,
    key_prefix,
    redis_client,
    redis_failure,
    tenant_namespace,
)
from monitoring import metrics

CACHE_NAME = "answer"
_SPACES = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s?.!]+$")


def answer_cache_enabled() -> bool:
    return bool(settings.ANSWER_CACHE_ENABLED)


def question_normalise(question: str) -> str:
    """Case, width, spacing and closing punctuation do not change what is asked."""
    text = unicodedata.normalize("NFKC", question).casefold()
    text = _SPACES.sub(" ", text).strip()
    return _TRAILING.sub("", text)


def answer_cache_key(
    *,
    tenant: Tenant,
    corpus_version: str,
    question: str,
    filters: Mapping[str, Any] | None,
    chain: Sequence[str],
    prompt_version: str,
) -> str:
    """The Redis key of an answer; the question and its context are hashed, never stored."""
    material = json.dumps(
        {
            "corpus": corpus_version,
            "question": question_normalise(question),
            "filters": _canonical(filters or {}),
            "chain": list(chain),
            "prompt": prompt_version,
            "version": str(settings.ANSWER_CACHE_VERSION),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    digest = hashlib.sha256(material.encode()).hexdigest()
    return f"{key_prefix()}:answer:{tenant_namespace(tenant)}:{digest}"


def _canonical(value: Any) -> Any:
    # Filter lists are sets: ["MSFT", "AAPL"] and ["AAPL", "MSFT"] scope the same search.
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items() if v not in (None, [], (), "")}
    if isinstance(value, list | tuple | set | frozenset):
        return sorted((_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def answer_cache_get(*, key: str) -> CachedAnswer | None:
    """The cached answer under `key`, or None (also when Redis is unreachable)."""
    metrics.CACHE_REQUESTS.labels(cache=CACHE_NAME).inc()
    try:
        raw = redis_client().get(key)
    except RedisError as exc:
        redis_failure("answer_cache", fail_open=True, exc=exc)
        return None
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        data["passages"] = tuple(data.get("passages") or ())
        data["tools"] = tuple(data.get("tools") or ())
        entry = CachedAnswer(**data)
    except (ValueError, TypeError):
        # An entry written by an older shape of this code: treat as a miss, it will be replaced.
        return None
    metrics.CACHE_HITS.labels(cache=CACHE_NAME).inc()
    return entry


def answer_cache_put(*, key: str, entry: CachedAnswer, ttl_seconds: int | None = None) -> bool:
    """Keep an answer for ttl_seconds (default ANSWER_CACHE_TTL_SECONDS); False if Redis failed."""
    ttl = ttl_seconds or int(settings.ANSWER_CACHE_TTL_SECONDS)
    payload = json.dumps(asdict(entry), default=str, separators=(",", ":"))
    try:
        redis_client().set(key, payload, ex=ttl)
    except RedisError as exc:
        redis_failure("answer_cache", fail_open=True, exc=exc)
        return False
    answer_cache_size_measure()
    return True


_SIZE_MEASURED_AT = [0.0]
SIZE_MEASURE_INTERVAL_SECONDS = 30.0


def answer_cache_size_measure(*, force: bool = False) -> int | None:
    """Sum Redis's MEMORY USAGE over the answer-cache keys into rag_cache_size_bytes{cache=answer}.

    A SCAN over every key, so at most once per SIZE_MEASURE_INTERVAL_SECONDS per process (expired
    answers leave the sum at the next measurement). Returns the bytes, or None when skipped.
    """
    now = time.monotonic()
    if not force and now - _SIZE_MEASURED_AT[0] < SIZE_MEASURE_INTERVAL_SECONDS:
        return None
    _SIZE_MEASURED_AT[0] = now
    total = 0
    try:
        client = redis_client()
        keys = list(client.scan_iter(match=f"{key_prefix()}:answer:*", count=1000))
        for start in range(0, len(keys), 500):
            pipe = client.pipeline(transaction=False)
            for key in keys[start : start + 500]:
                pipe.memory_usage(key)
            total += sum(int(size or 0) for size in pipe.execute())
    except RedisError as exc:
        redis_failure("answer_cache", fail_open=True, exc=exc)
        return None
    metrics.CACHE_SIZE_BYTES.labels(cache="answer").set(total)
    return total


def answer_cache_clear_tenant(*, tenant: Tenant) -> int:
    """Drop every cached answer of a tenant (the corpus version already makes them unreachable;
    this frees the memory at once). Returns how many were dropped."""
    pattern = f"{key_prefix()}:answer:{tenant_namespace(tenant)}:*"
    dropped = 0
    try:
        client = redis_client()
        batch: list[Any] = []
        for key in client.scan_iter(match=pattern, count=500):
            batch.append(key)
            if len(batch) >= 500:
                dropped += client.delete(*batch)
                batch = []
        if batch:
            dropped += client.delete(*batch)
    except RedisError as exc:
        redis_failure("answer_cache", fail_open=True, exc=exc)
    return dropped
