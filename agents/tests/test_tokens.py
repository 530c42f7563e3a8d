"""Token estimates: the right tokenizer per model, Claude's calibration, framing and error."""

import math

import pytest

from agents.contracts import ChatMessage, ContextPassage, ModelRequest
from agents.tokens import (
    CLAUDE_CL100K_FACTOR,
    TOKENS_PER_MESSAGE,
    TOKENS_PER_REPLY,
    _encoding,
    count_request_tokens,
    encoding_name_for,
    estimate_error,
    estimate_tokens,
)

TEXT = "Total revenue for fiscal 2023 was $4,212.5 million, up 8.1% year over year."


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-5.4-mini", "o200k_base"),
        ("gpt-4.1-mini", "o200k_base"),
        ("gpt-4o", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
    ],
)
def test_openai_models_are_counted_with_their_own_tokenizer(model, encoding):
    assert encoding_name_for("openai", model) == encoding
    assert estimate_tokens("openai", model, TEXT) == len(_encoding(encoding).encode(TEXT))


def test_tokenizers_really_differ_so_the_choice_matters():
    german = "Die Umsatzerlöse stiegen im Geschäftsjahr 2023 um 8 % auf 4,2 Mrd. EUR."

    newer = estimate_tokens("openai", "gpt-5.4-mini", german)
    older = estimate_tokens("openai", "gpt-4", german)

    assert newer < older


def test_claude_is_estimated_as_cl100k_times_the_calibration_factor():
    cl100k = len(_encoding("cl100k_base").encode(TEXT))

    assert estimate_tokens("anthropic", "claude-sonnet-5-5", TEXT) == math.ceil(
        cl100k * CLAUDE_CL100K_FACTOR
    )
    assert 1.1 <= CLAUDE_CL100K_FACTOR <= 1.2


def test_empty_text_costs_nothing():
    assert estimate_tokens("openai", "gpt-5.4-mini", "") == 0


def test_request_count_adds_message_framing_to_the_text():
    request = ModelRequest(
        system="You are a careful analyst.",
        messages=(ChatMessage("user", "Revenue?"), ChatMessage("assistant", "$4.2 billion [1].")),
        question="Revenue?",
    )
    texts = [request.system, *(m.content for m in request.messages)]

    counted = count_request_tokens("openai", "gpt-5.4-mini", request)

    bare = sum(estimate_tokens("openai", "gpt-5.4-mini", t) for t in texts)
    assert counted == bare + 3 * TOKENS_PER_MESSAGE + TOKENS_PER_REPLY


def test_offline_requests_count_the_question_and_passages_it_reads():
    request = ModelRequest(
        system="ignored",
        messages=(),
        question="What was revenue?",
        passages=(ContextPassage(1, TEXT, "10-K", 4),),
    )

    counted = count_request_tokens("offline", "offline-extractive-1", request)

    encoding = _encoding("o200k_base")
    assert counted == len(encoding.encode("What was revenue?")) + len(encoding.encode(TEXT))


def test_estimate_error_is_signed_and_relative():
    assert estimate_error(110, 100) == pytest.approx(0.10)
    assert estimate_error(90, 100) == pytest.approx(-0.10)
    assert estimate_error(0, 0) == 0.0
    assert estimate_error(5, 0) == 5.0
