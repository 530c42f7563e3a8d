"""Scraping /metrics after real questions through the REST API shows every series, with values
that follow from what those questions did."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import async_to_sync
from prometheus_client.parser import text_string_to_metric_families

from agents.tests.support import ask, glueworks_ingest, read_stream
from tests.fakes.llm_server import ok, overloaded

pytestmark = pytest.mark.django_db

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def corpus(analyst):
    return glueworks_ingest(analyst.tenant)


def scrape(client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample with exactly these labels (0 when absent, as Prometheus's increase() reads it)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def test_metrics_page_after_real_questions_shows_every_series(analyst, corpus, llm_env, settings):
    # Two failures open Anthropic's breaker, so the run shows an open circuit as well.
    settings.LLM_BREAKER_MIN_CALLS = 2
    # Questions carry a fresh reference so the answer cache of an earlier run cannot answer them.
    ref = uuid.uuid4().hex[:8]
    llm_env.script(overloaded(), overloaded(), overloaded(), api="anthropic")
    llm_env.script(
        ok("Capital expenditures were $1,577 million [1]."),
        ok("Net sales were $32,765 million [1]."),
        ok("Net sales were $32,765 million in fiscal 2018 [1]."),
        api="openai",
    )
    client = analyst.client()
    before = scrape(client)

    first = ask(analyst, f"Glueworks capital expenditures 2018 (ref {ref})").json()
    assert first["provider"] == "openai", first
    pii = ask(
        analyst, f"Send Glueworks net sales for fiscal 2018 to jane.roe@example.com (ref {ref})"
    ).json()
    assert pii["error"] is None
    repeated = f"Glueworks net sales in fiscal 2018 (ref {ref})"
    streamed = ask(analyst, repeated, HTTP_ACCEPT="text/event-stream")
    during = scrape(client)
    async_to_sync(read_stream)(streamed)
    cached = ask(analyst, repeated).json()
    after = scrape(client)

    # Queries, tokens, money and latency, by provider and tier.
    assert (
        value(after, "rag_queries_total", provider="openai", user_tier="pro", status="ok")
        - (value(before, "rag_queries_total", provider="openai", user_tier="pro", status="ok"))
        == 3
    )
    assert cached["answer"] == "Net sales were $32,765 million in fiscal 2018 [1]."
    assert (
        value(after, "rag_queries_total", provider="cache", user_tier="pro", status="ok")
        - (value(before, "rag_queries_total", provider="cache", user_tier="pro", status="ok"))
        == 1
    )
    for kind in ("input", "output"):
        grew = value(after, "rag_tokens_total", provider="openai", type=kind) - value(
            before, "rag_tokens_total", provider="openai", type=kind
        )
        assert grew > 0, kind
    spent = value(after, "rag_cost_usd_total", provider="openai", user_tier="pro") - value(
        before, "rag_cost_usd_total", provider="openai", user_tier="pro"
    )
    assert 0 < spent < 1
    for histogram in ("rag_query_latency_seconds", "rag_tokens_per_query"):
        count = value(after, f"{histogram}_count", provider="openai") - value(
            before, f"{histogram}_count", provider="openai"
        )
        assert count == 3, histogram
        assert value(after, f"{histogram}_sum", provider="openai") > value(
            before, f"{histogram}_sum", provider="openai"
        )
        assert value(after, f"{histogram}_bucket", provider="openai", le="+Inf") == value(
            after, f"{histogram}_count", provider="openai"
        )

    # A conversation counts as active while its answer streams, and not once it ended.
    active = value(before, "rag_active_conversations")
    assert value(during, "rag_active_conversations") == active + 1
    assert value(after, "rag_active_conversations") == active

    # The answer cache: every non-follow-up question looked up, the repeated one found.
    lookups = value(after, "rag_cache_requests_total", cache="answer") - value(
        before, "rag_cache_requests_total", cache="answer"
    )
    hits = value(after, "rag_cache_hits_total", cache="answer") - value(
        before, "rag_cache_hits_total", cache="answer"
    )
    assert (lookups, hits) == (4, 1)
    # The embedding cache's series exist from the start (so a hit-rate panel has a denominator).
    assert ("rag_cache_requests_total", frozenset({("cache", "embedding")})) in after

    # The tenant's budget, in dollars and tokens, with what these questions spent taken off.
    tenant = analyst.tenant.slug
    allocated = value(after, "rag_budget_allocated_usd", tenant=tenant)
    remaining = value(after, "rag_budget_remaining_usd", tenant=tenant)
    assert allocated > 0
    assert allocated - spent - 1e-6 <= remaining < allocated
    assert (
        0
        < value(after, "rag_token_allowance_remaining", tenant=tenant)
        < value(after, "rag_token_allowance_allocated", tenant=tenant)
    )

    # Providers: Anthropic failed twice, its breaker opened, the second question skipped it.
    def attempts(provider: str, outcome: str) -> float:
        return value(
            after, "rag_provider_attempts_total", provider=provider, outcome=outcome
        ) - value(before, "rag_provider_attempts_total", provider=provider, outcome=outcome)

    assert attempts("anthropic", "error") == 2
    assert attempts("anthropic", "circuit_open") == 2
    assert attempts("openai", "ok") == 3
    failovers = value(
        after, "rag_provider_failovers_total", from_provider="anthropic", to_provider="openai"
    ) - value(
        before, "rag_provider_failovers_total", from_provider="anthropic", to_provider="openai"
    )
    assert failovers == 3
    assert value(after, "rag_provider_circuit_state", provider="anthropic") == 2
    assert value(after, "rag_provider_circuit_state", provider="openai") == 0

    # Privacy: the e-mail address was found with a confidence between 0 and 1.
    found = value(after, "rag_pii_detections_total", entity_type="EMAIL_ADDRESS") - value(
        before, "rag_pii_detections_total", entity_type="EMAIL_ADDRESS"
    )
    assert found >= 1
    scored = value(after, "rag_pii_detection_confidence_count", entity_type="EMAIL_ADDRESS")
    total = value(after, "rag_pii_detection_confidence_sum", entity_type="EMAIL_ADDRESS")
    assert scored >= found
    assert 0 < total / scored <= 1

    # Postgres connections, read at scrape time.
    in_use = value(after, "rag_db_connections_in_use")
    assert 1 <= in_use <= value(after, "rag_db_connections_max")

    # And django-prometheus's own request series sit on the same page.
    assert "django_http_requests_total_by_method_total" in names(after)


def test_vector_search_latency_follows_real_questions(analyst, corpus):
    client = analyst.client()
    before = scrape(client)
    ask(analyst, f"Glueworks capital expenditures 2018 (ref {uuid.uuid4().hex[:8]})")
    after = scrape(client)
    searches = value(after, "rag_vector_search_latency_seconds_count", mode="hybrid") - value(
        before, "rag_vector_search_latency_seconds_count", mode="hybrid"
    )
    assert searches >= 1
    assert value(after, "rag_vector_search_latency_seconds_sum", mode="hybrid") > value(
        before, "rag_vector_search_latency_seconds_sum", mode="hybrid"
    )


def test_cache_size_is_measured_after_real_questions(analyst, corpus):
    ask(analyst, f"Glueworks capital expenditures 2018 (ref {uuid.uuid4().hex[:8]})")
    assert value(scrape(analyst.client()), "rag_cache_size_bytes", cache="answer") > 0
