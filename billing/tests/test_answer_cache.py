"""The answer cache: what its key depends on, a round trip through Redis, counting, outages."""

from __future__ import annotations

import pytest

from billing.answer_cache import (
    answer_cache_clear_tenant,
    answer_cache_get,
    answer_cache_key,
    answer_cache_put,
    question_normalise,
)
from billing.contracts import CachedAnswer
from monitoring import metrics

pytestmark = pytest.mark.django_db


def key_for(tenant, **changes) -> str:
    parts = {
        "tenant": tenant,
        "corpus_version": "3.1",
        "question": "What was Apple's revenue in 2020?",
        "filters": {"tickers": ["AAPL", "MSFT"]},
        "chain": ("anthropic", "openai", "offline"),
        "prompt_version": "p1",
    }
    parts.update(changes)
    return answer_cache_key(**parts)


def counter(name: str) -> float:
    metric = metrics.CACHE_HITS if name == "hits" else metrics.CACHE_REQUESTS
    return metric.labels(cache="answer")._value.get()


def test_question_normalisation_ignores_case_spacing_width_and_closing_punctuation():
    assert question_normalise("  What was  Apple's REVENUE in 2020 ?! ") == (
        "what was apple's revenue in 2020"
    )
    assert question_normalise("\uff32evenue 2020?") == "revenue 2020"  # a full-width R


def test_the_key_changes_with_corpus_filters_chain_prompt_and_tenant(analyst, other_tenant_analyst):
    base = key_for(analyst.tenant)
    assert key_for(analyst.tenant, question="what was apple's revenue in 2020") == base
    assert key_for(analyst.tenant, filters={"tickers": ["MSFT", "AAPL"]}) == base
    assert key_for(analyst.tenant, corpus_version="4.1") != base
    assert key_for(analyst.tenant, filters={"tickers": ["AAPL"]}) != base
    assert key_for(analyst.tenant, chain=("offline",)) != base
    assert key_for(analyst.tenant, prompt_version="p2") != base
    assert key_for(other_tenant_analyst.tenant) != base
    assert "apple" not in base.lower()  # the question is hashed, never stored in the key


def test_an_answer_round_trips_and_requests_and_hits_are_counted(analyst):
    key = key_for(analyst.tenant)
    requests, hits = counter("requests"), counter("hits")
    assert answer_cache_get(key=key) is None
    entry = CachedAnswer(
        answer="Revenue was $274.5 billion [1].",
        provider="anthropic",
        model="claude-sonnet-5-5",
        input_tokens=3000,
        output_tokens=40,
        passages=({"number": 1, "text": "Revenue $274.5 billion", "chunk_id": 9},),
    )
    assert answer_cache_put(key=key, entry=entry, ttl_seconds=60)
    assert answer_cache_get(key=key) == entry
    assert (counter("requests"), counter("hits")) == (requests + 2, hits + 1)
    assert answer_cache_clear_tenant(tenant=analyst.tenant) == 1
    assert answer_cache_get(key=key) is None


def test_an_unreachable_redis_is_a_counted_miss_never_an_error(analyst, unreachable_redis):
    errors = metrics.REDIS_ERRORS.labels(component="answer_cache", policy="fail_open")
    before = errors._value.get()
    key = key_for(analyst.tenant)
    entry = CachedAnswer(answer="x", provider="offline", model="m", input_tokens=1, output_tokens=1)
    assert answer_cache_put(key=key, entry=entry) is False
    assert answer_cache_get(key=key) is None
    assert errors._value.get() == before + 2
