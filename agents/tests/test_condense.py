"""Follow-ups condensed into standalone questions: by the chain's model through the pipeline
(masked, billed, with failover), by the heuristic offline or when no model can."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agents.contracts import ChatMessage
from agents.engines.condense import (
    condense_heuristic,
    condense_request,
    condensed_text,
    looks_like_follow_up,
)
from agents.models import Message
from agents.tests.support import ask, glueworks_ingest
from billing.models import LedgerEntry, Reservation
from billing.pricing import price_cache_clear
from tests.fakes.llm_server import (
    error_status,
    llm_env_fixture,  # noqa: F401 - pytest fixture
    llm_server_fixture,  # noqa: F401 - pytest fixture
    ok,
)

FIRST = "What were Glueworks' net sales in fiscal 2018?"
FOLLOW_UP = "and capital expenditures?"
REWRITTEN = "What were Glueworks' capital expenditures in fiscal 2018?"
ANSWER = "Capital expenditures were $1,577 million in fiscal 2018 [1]."


@pytest.fixture(autouse=True)
def _fresh_prices():
    price_cache_clear()
    yield
    price_cache_clear()


@pytest.fixture
def corpus(analyst):
    return glueworks_ingest(analyst.tenant)


def test_only_questions_that_lean_on_the_conversation_are_follow_ups():
    previous = [FIRST]
    assert looks_like_follow_up("and in 2019?", previous)
    assert looks_like_follow_up("What about its operating margin in fiscal 2018?", previous)
    assert not looks_like_follow_up("What was 3M's revenue in fiscal 2018 in millions?", previous)
    assert not looks_like_follow_up("and in 2019?", [])
    assert condense_heuristic("and in 2019?", previous) == f"{FIRST} and in 2019?"
    assert condense_heuristic(REWRITTEN, previous) == REWRITTEN


def test_the_condensing_prompt_carries_the_conversation_in_short():
    long_answer = "Net sales were $32,765 million [1]. " * 40
    request = condense_request(
        FOLLOW_UP,
        [ChatMessage("user", FIRST), ChatMessage("assistant", long_answer)],
    )
    [message] = request.messages
    assert request.purpose == "condense"
    assert f"Human: {FIRST}" in message.content
    assert "Assistant: Net sales were $32,765 million [1]." in message.content
    assert message.content.count("32,765") < 40  # the long answer was cut
    assert message.content.rstrip().endswith("<Standalone question>")
    assert FOLLOW_UP in message.content


def test_a_reply_that_is_not_a_question_falls_back_to_the_follow_up():
    assert condensed_text(f'Standalone question: "{REWRITTEN}"', FOLLOW_UP) == REWRITTEN
    assert condensed_text("   ", FOLLOW_UP) == FOLLOW_UP
    assert condensed_text("x" * 5000, FOLLOW_UP) == FOLLOW_UP


def chat(member, llm_env, *replies):
    llm_env.script(*replies, api="anthropic")
    conversation = member.client().post("/api/v1/conversations", {}, format="json").json()["id"]
    return conversation


@pytest.mark.django_db
def test_the_model_rewrites_a_follow_up_and_the_answer_uses_the_rewrite(
    analyst, corpus, llm_env, settings
):
    settings.LLM_CHAINS = {"free": ["offline"], "pro": ["anthropic", "offline"]}
    conversation = chat(
        analyst,
        llm_env,
        ok("Net sales were $32,765 million in fiscal 2018 [1]."),
        ok(REWRITTEN, input_tokens=120, output_tokens=12),
        ok(ANSWER),
    )
    ask(analyst, FIRST, conversation=conversation)

    body = ask(analyst, FOLLOW_UP, conversation=conversation).json()

    assert body["error"] is None
    assert body["standalone_question"] == REWRITTEN
    assert body["answer"] == ANSWER
    assert body["citations"][0]["page"] == 2
    condense, answer = llm_env.requests_for("anthropic")[1:]
    prompt = condense.body["messages"][0]["content"]
    assert f"Human: {FIRST}" in prompt
    assert FOLLOW_UP in prompt
    assert "tools" not in condense.body
    assert REWRITTEN in answer.body["messages"][-1]["content"]
    saved = Message.objects.get(query_id=body["query_id"], role="user")
    assert (saved.content, saved.standalone_question) == (FOLLOW_UP, REWRITTEN)
    # Both calls are billed to the turn, and the hold covered them.
    rows = LedgerEntry.objects.filter(query_id=body["query_id"], kind="model").order_by("id")
    assert len(rows) == 2
    assert rows[0].input_tokens == 120
    assert Decimal(body["cost_usd"]) == sum(r.cost_usd for r in rows)
    reservation = Reservation.objects.get(query_id=body["query_id"])
    assert reservation.status == "settled"
    assert reservation.actual_usd == Decimal(body["cost_usd"])


@pytest.mark.django_db
def test_personal_data_in_the_conversation_is_masked_before_condensing(
    analyst, corpus, llm_env, settings
):
    settings.LLM_CHAINS = {"free": ["offline"], "pro": ["anthropic", "offline"]}
    analyst.tenant.pii_policy = "mask"
    analyst.tenant.save(update_fields=["pii_policy"])
    conversation = chat(analyst, llm_env, ok("Noted."), ok(REWRITTEN), ok(ANSWER))
    ask(
        analyst,
        "Email jane.doe@example.com the net sales for fiscal 2018",
        conversation=conversation,
    )

    ask(analyst, "and what about its capital expenditures?", conversation=conversation)

    condense = llm_env.requests_for("anthropic")[1]
    assert "jane.doe@example.com" not in str(condense.body)
    assert "<EMAIL_1>" in condense.body["messages"][0]["content"]


@pytest.mark.django_db
def test_when_no_model_can_rewrite_the_heuristic_does(analyst, corpus, llm_env, settings):
    settings.LLM_CHAINS = {"free": ["offline"], "pro": ["anthropic", "offline"]}
    conversation = chat(
        analyst, llm_env, ok("Net sales were $32,765 million [1]."), error_status(400), ok(ANSWER)
    )
    ask(analyst, FIRST, conversation=conversation)

    body = ask(analyst, FOLLOW_UP, conversation=conversation).json()

    assert body["standalone_question"] == f"{FIRST} {FOLLOW_UP}"
    assert body["answer"] == ANSWER
    assert body["provider"] == "anthropic"


@pytest.mark.django_db
def test_offline_follow_ups_are_condensed_without_a_model_call(analyst, corpus):
    conversation = analyst.client().post("/api/v1/conversations", {}, format="json").json()["id"]
    ask(analyst, FIRST, conversation=conversation)

    body = ask(analyst, FOLLOW_UP, conversation=conversation).json()

    assert body["standalone_question"] == f"{FIRST} {FOLLOW_UP}"
    assert "1,577" in body["answer"]
    assert LedgerEntry.objects.filter(query_id=body["query_id"], kind="model").count() == 1
