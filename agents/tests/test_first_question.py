"""Asking at once: POST /api/v1/questions starts a conversation with its first question and
answers it in the same call (JSON or SSE); a refused question leaves nothing behind."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync

from accounts.models import Tenant
from agents.models import Conversation, Message
from agents.tests.support import glueworks_ingest, read_stream

pytestmark = pytest.mark.django_db

QUESTION = "What were Glueworks' capital expenditures in fiscal 2018?"


@pytest.fixture
def corpus(analyst):
    return glueworks_ingest(analyst.tenant)


def first_question(member, body, **headers):
    return member.client().post("/api/v1/questions", body, format="json", **headers)


def test_one_call_starts_a_conversation_named_after_the_question_and_answers_it(analyst, corpus):
    response = first_question(analyst, {"question": QUESTION})

    assert response.status_code == 201
    body = response.json()
    assert "1,577" in body["answer"]
    assert body["citations"][0]["document"] == "Glueworks 2018 10-K"
    assert body["verification"]["summary"]["unsupported"] == 0
    conversation = Conversation.objects.get(pk=body["conversation"])
    assert conversation.title == QUESTION
    assert conversation.user == analyst.user
    assert [m.role for m in conversation.messages.all()] == ["user", "assistant"]
    # The follow-up goes to the conversation the first question started.
    follow_up = analyst.client().post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"question": "and net sales?"},
        format="json",
    )
    assert follow_up.json()["conversation"] == conversation.pk


def test_the_first_question_may_carry_a_scope(analyst, corpus):
    body = first_question(analyst, {"question": QUESTION, "scope": {"tickers": ["NOPE"]}}).json()

    assert body["citations"] == []
    assert Conversation.objects.get(pk=body["conversation"]).scope == {"tickers": ["NOPE"]}


def test_the_first_question_streams_as_server_sent_events(analyst, corpus):
    response = first_question(analyst, {"question": QUESTION}, HTTP_ACCEPT="text/event-stream")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    raw = async_to_sync(read_stream)(response).decode()
    frames = [json.loads(b.split("data: ", 1)[1]) for b in raw.strip().split("\n\n")]
    types = [f["type"] for f in frames]
    assert types[0] == "start"
    assert types[-3:] == ["verification", "usage", "end"]
    conversation = Conversation.objects.get(pk=frames[0]["conversation_id"])
    assert conversation.title == QUESTION


@pytest.mark.parametrize(
    "body",
    [
        {"question": "   "},
        {"question": "x" * 4001},
        {"question": QUESTION, "scope": {"doc_types": ["not-a-type"]}},
    ],
    ids=["blank", "too-long", "bad-scope"],
)
def test_bad_input_is_a_400_and_starts_no_conversation(analyst, body):
    response = first_question(analyst, body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert not Conversation.objects.exists()


def test_a_question_refused_by_the_budget_leaves_no_conversation(analyst, corpus):
    Tenant.objects.filter(pk=analyst.tenant.pk).update(monthly_budget_usd_override=Decimal(0))

    response = first_question(analyst, {"question": QUESTION})

    assert response.status_code == 402
    assert response.json()["error"]["code"] == "budget_exhausted"
    assert not Conversation.objects.exists()
    assert not Message.objects.exists()


def test_viewers_cannot_ask(make_member):
    viewer = make_member("acme", "viewer")

    response = first_question(viewer, {"question": QUESTION})

    assert response.status_code == 403
    assert not Conversation.objects.exists()
