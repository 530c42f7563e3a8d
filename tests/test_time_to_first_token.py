"""rag_time_to_first_token_seconds: one observation per answered question, at least as long as
the model kept the first word back, and none for a question that got no text."""

from __future__ import annotations

import pytest

from agents.tests.support import ask, glueworks_ingest
from monitoring import metrics
from tests.fakes.llm_server import server_error, slow

pytestmark = pytest.mark.django_db


def ttft() -> tuple[float, float]:
    """(count, sum) of the histogram in this process."""
    samples = {s.name: s.value for s in next(iter(metrics.TIME_TO_FIRST_TOKEN.collect())).samples}
    return samples["rag_time_to_first_token_seconds_count"], samples[
        "rag_time_to_first_token_seconds_sum"
    ]


def latency_sum() -> float:
    return sum(
        s.value
        for s in next(iter(metrics.QUERY_LATENCY.collect())).samples
        if s.name == "rag_query_latency_seconds_sum"
    )


def test_an_answer_is_timed_to_its_first_word_once(analyst, llm_env, settings):
    settings.ANSWER_CACHE_ENABLED = False
    glueworks_ingest(analyst.tenant)
    llm_env.script(slow("Net sales were $32,765 million [1].", delay=0.4), api="anthropic")
    count, total = ttft()
    latency_before = latency_sum()
    answer = ask(analyst, "What were Glueworks' net sales in fiscal 2018?")
    assert answer.status_code == 200, answer.content
    new_count, new_total = ttft()
    assert new_count == count + 1
    # The first word came 0.4 s into the model call; five more followed, 0.4 s apart, before
    # the answer was complete.
    first_word = new_total - total
    assert first_word >= 0.4
    assert first_word <= latency_sum() - latency_before - 1.6


def test_a_question_that_got_no_text_is_not_timed(analyst, llm_env, settings):
    settings.ANSWER_CACHE_ENABLED = False
    settings.LLM_MAX_RETRIES = 0
    settings.LLM_CHAINS = {"free": ["offline"], "pro": ["anthropic"], "enterprise": ["anthropic"]}
    glueworks_ingest(analyst.tenant)
    llm_env.default = server_error(500)
    count, _ = ttft()
    answer = ask(analyst, "What were Glueworks' capital expenditures in fiscal 2018?")
    assert answer.json()["error"]
    assert ttft()[0] == count
