"""Item 5: one question-length limit (settings.QUESTION_MAX_CHARS) for REST, the websocket,
search and condensed follow-ups: a question over it is refused with 400 before it takes a rate
limit slot or a budget hold, and a follow-up to a long question is still answered."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from agents.models import Message
from agents.services import conversation_create
from billing.models import LedgerEntry, Reservation
from billing.ratelimit import stream_slots_held
from tests.security.sockets import frames_until_end, glueworks_filing, next_frame, socket

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 2000


def long_question(length: int) -> str:
    base = "What were Glueworks capital expenditures in fiscal 2018 "
    return (base * (length // len(base) + 1))[:length].strip()


def ask(member, conversation_id, question):
    return member.client().post(
        f"/api/v1/conversations/{conversation_id}/messages", {"question": question}, format="json"
    )


def test_the_limit_is_one_setting_and_search_uses_it():
    assert settings.QUESTION_MAX_CHARS == LIMIT


def test_an_over_long_question_is_refused_before_any_slot_hold_or_message(analyst):
    conversation = conversation_create(tenant=analyst.tenant, user=analyst.user)
    response = ask(analyst, conversation.pk, "x" * (LIMIT + 1) + " " + "y" * 999)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert not Message.objects.exists()
    assert not Reservation.objects.exists()
    assert not LedgerEntry.objects.exists()
    assert stream_slots_held(tenant=analyst.tenant, user=analyst.user) == 0


def test_search_refuses_the_same_length_with_the_same_error(analyst):
    response = analyst.client().post("/api/v1/search", {"query": "x" * (LIMIT + 1)}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"


def test_a_short_follow_up_to_a_long_question_is_answered(analyst):
    glueworks_filing(analyst.tenant)
    conversation = conversation_create(tenant=analyst.tenant, user=analyst.user)
    first = ask(analyst, conversation.pk, long_question(LIMIT - 10))
    assert first.status_code == 200
    assert first.json()["status"] == "complete"
    follow_up = ask(analyst, conversation.pk, "and what about its net sales?")
    assert follow_up.status_code == 200
    body = follow_up.json()
    assert body["status"] == "complete", body["error"]
    assert len(body["standalone_question"]) <= LIMIT


@pytest.mark.asyncio
async def test_the_websocket_refuses_an_over_long_question_with_the_same_error(analyst):
    conversation = await database_sync_to_async(conversation_create)(
        tenant=analyst.tenant, user=analyst.user
    )
    ws = socket(conversation.pk, key=analyst.raw_key)
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "ask", "question": "q" * (LIMIT + 500)})
    frame = await next_frame(ws)
    assert frame["error"]["code"] == "invalid_input"
    assert frame["error"]["details"]["max_chars"] == LIMIT
    await ws.send_json_to({"type": "ask", "question": "Glueworks capital expenditures 2018"})
    assert (await frames_until_end(ws))[-1]["type"] == "end"
    await ws.disconnect()
