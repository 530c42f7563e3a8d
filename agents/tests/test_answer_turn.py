"""A question in, a cited answer out: REST JSON, SSE, the CLI, failover and bad input."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command

from agents.models import Checkpoint, Conversation, Message
from agents.tests.support import glueworks_ingest, read_stream
from retrieval.services import DocumentMetadata, document_ingest, document_register
from tests.fakes.llm_server import ok, overloaded

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus(analyst):
    return glueworks_ingest(analyst.tenant)


def new_conversation(member, **body) -> int:
    response = member.client().post("/api/v1/conversations", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def ask(member, conversation_id, question, **headers):
    return member.client().post(
        f"/api/v1/conversations/{conversation_id}/messages",
        {"question": question},
        format="json",
        **headers,
    )


def test_offline_answer_cites_the_page_with_the_figure(analyst, corpus):
    conversation_id = new_conversation(analyst)
    response = ask(analyst, conversation_id, "What were Glueworks' capital expenditures in 2018?")
    body = response.json()
    assert response.status_code == 200, body
    assert "1,577" in body["answer"]
    assert "[1]" in body["answer"] or "[2]" in body["answer"]
    assert body["offline"] is True
    assert body["provider"] == "offline"
    assert body["tokens"]["input"] > 0
    assert body["tokens"]["output"] > 0
    cited = body["citations"][0]
    assert cited["page"] == 2
    assert cited["document"] == "Glueworks 2018 10-K"
    assert cited["source"] == "glue-2018.txt"
    assert cited["document_id"] == corpus.pk
    assert "1,577" in cited["text"]
    saved = Message.objects.get(conversation_id=conversation_id, role="assistant")
    assert saved.status == "complete"
    assert saved.citations[0]["page"] == 2
    checkpoint = Checkpoint.objects.get(message=saved)
    assert checkpoint.state["retrieved_chunk_ids"]
    assert checkpoint.state["provider"] == "offline"


def test_offline_says_plainly_when_the_passages_do_not_answer(analyst, corpus):
    conversation_id = new_conversation(analyst)
    body = ask(analyst, conversation_id, "Who is the chief executive's spouse?").json()
    assert body["answer"].startswith("The filings in this workspace do not say")
    assert body["citations"] == []


def test_sse_streams_start_tokens_citations_usage_and_end(analyst, corpus):
    conversation_id = new_conversation(analyst)
    response = ask(
        analyst,
        conversation_id,
        "Glueworks net sales in fiscal 2018",
        HTTP_ACCEPT="text/event-stream",
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    raw = async_to_sync(read_stream)(response).decode()
    events = [
        json.loads(block.split("data: ", 1)[1])
        for block in raw.strip().split("\n\n")
        if "data: " in block
    ]
    types = [event["type"] for event in events]
    assert types[0] == "start"
    assert types.count("token") > 3
    assert "citation" in types
    assert types[-2:] == ["usage", "end"]
    assert events[-1]["status"] == "complete"


def test_sse_bad_input_is_an_http_error_not_a_stream(analyst, corpus):
    conversation_id = new_conversation(analyst)
    response = ask(analyst, conversation_id, "   ", HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"


@pytest.mark.parametrize(
    ("question", "status", "code"),
    [("", 400, "invalid_input"), ("x" * 4001, 400, "invalid_input")],
)
def test_bad_questions_get_clear_errors_and_nothing_is_saved(analyst, question, status, code):
    conversation_id = new_conversation(analyst)
    response = ask(analyst, conversation_id, question)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert not Message.objects.filter(conversation_id=conversation_id).exists()


def test_unknown_and_foreign_conversations_are_404(analyst, other_tenant_analyst):
    assert ask(analyst, 999_999, "hello").status_code == 404
    foreign = new_conversation(other_tenant_analyst)
    response = ask(analyst, foreign, "hello")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not Message.objects.filter(conversation_id=foreign).exists()


def test_follow_up_is_condensed_with_the_history(analyst, corpus):
    conversation_id = new_conversation(analyst)
    ask(analyst, conversation_id, "What were Glueworks' net sales in fiscal 2018?")
    body = ask(analyst, conversation_id, "and capital expenditures?").json()
    follow_up = Message.objects.filter(conversation_id=conversation_id, role="user").last()
    assert "Glueworks" in follow_up.standalone_question
    assert "1,577" in body["answer"]


def test_conversation_scope_restricts_retrieval(analyst, corpus):
    conversation_id = new_conversation(analyst, scope={"tickers": ["NOPE"]})
    body = ask(analyst, conversation_id, "Glueworks capital expenditures").json()
    assert body["citations"] == []
    assert body["answer"].startswith("The filings in this workspace do not say")


def test_primary_overloaded_answer_comes_from_the_secondary(analyst, corpus, llm_env):
    llm_env.script(overloaded(), overloaded(), overloaded(), api="anthropic")
    llm_env.script(ok("Capital expenditures were $1,577 million [1]."), api="openai")
    conversation_id = new_conversation(analyst)
    body = ask(analyst, conversation_id, "Glueworks capital expenditures 2018").json()
    assert body["provider"] == "openai"
    assert body["answer"] == "Capital expenditures were $1,577 million [1]."
    assert body["failovers"][0]["from"] == "anthropic"
    assert body["citations"][0]["page"] == 2
    attempts = Checkpoint.objects.get().state["attempts"]
    assert [a["provider"] for a in attempts][-1] == "openai"


def test_export_as_json_and_markdown(analyst, corpus):
    conversation_id = new_conversation(analyst)
    ask(analyst, conversation_id, "Glueworks capital expenditures 2018")
    exported = analyst.client().get(f"/api/v1/conversations/{conversation_id}/export?format=json")
    data = json.loads(exported.content)
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    markdown = (
        analyst.client()
        .get(f"/api/v1/conversations/{conversation_id}/export?format=markdown")
        .content.decode()
    )
    assert "## Answer" in markdown
    assert "page 2" in markdown


def test_ask_command_prints_json_with_citations_and_cost(analyst, corpus):
    out = StringIO()
    call_command(
        "ask", "Glueworks capital expenditures in 2018", "--tenant", "acme", "--json", stdout=out
    )
    result = json.loads(out.getvalue())
    assert {
        "answer",
        "citations",
        "provider",
        "model",
        "tokens",
        "cost_usd",
        "conversation",
    } <= set(result)
    assert result["citations"][0]["page"] == 2
    assert Conversation.objects.filter(pk=result["conversation"]).exists()


def test_comparison_is_decomposed_so_both_companies_are_cited(analyst, corpus):
    other = (
        "Tapeline Inc annual report for fiscal 2018.\n\f"
        "Net sales were $9,100 million in fiscal 2018.\n"
        "Capital expenditures were $402 million in fiscal 2018.\n"
    )
    document, _ = document_register(
        tenant=analyst.tenant,
        user=None,
        data=other.encode(),
        filename="tape-2018.txt",
        metadata=DocumentMetadata(
            title="Tapeline 2018 10-K",
            company="Tapeline Inc",
            ticker="TAPE",
            doc_type="10-K",
            fiscal_year=2018,
            fiscal_period="FY",
        ),
        queue=False,
    )
    document_ingest(document_id=document.pk)
    conversation_id = new_conversation(analyst)
    body = ask(
        analyst, conversation_id, "Compare Glueworks and Tapeline capital expenditures in 2018"
    ).json()
    assert body["scope"]["sub_questions"] == ["Glueworks Corp 2018", "Tapeline Inc 2018"]
    cited = {c["document"] for c in body["citations"]}
    assert cited == {"Glueworks 2018 10-K", "Tapeline 2018 10-K"}
    assert "1,577" in body["answer"]
    assert "402" in body["answer"]
