"""The turn's frames are typed, and a turn its reader stops early is saved with the cut attempt
already on the ledger (the steps close the provider stream as they close)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync

from agents import turns
from agents.models import Checkpoint, Message
from agents.services import conversation_create
from agents.tests.support import glueworks_ingest
from agents.turns.frames import EndFrame, StartFrame, TokenFrame, UsageFrame
from billing.models import LedgerEntry

pytestmark = pytest.mark.django_db

QUESTION = "What were Glueworks' capital expenditures in 2018?"


def kwargs(member) -> dict:
    conversation = conversation_create(tenant=member.tenant, user=member.user)
    return {
        "tenant": member.tenant,
        "user": member.user,
        "membership": member.membership,
        "conversation_id": conversation.pk,
        "question": QUESTION,
    }


def test_a_whole_turn_yields_start_tokens_usage_and_end_frames(analyst):
    glueworks_ingest(analyst.tenant)
    asked = kwargs(analyst)

    async def run() -> list:
        return [frame async for frame in turns.answer_turn(**asked)]

    frames = async_to_sync(run)()
    assert isinstance(frames[0], StartFrame)
    assert any(isinstance(f, TokenFrame) for f in frames)
    usage, end = frames[-2], frames[-1]
    assert isinstance(usage, UsageFrame)
    assert isinstance(end, EndFrame)
    saved = Message.objects.get(pk=end.message_id)
    assert end.as_frame()["type"] == "end"
    assert Decimal(usage.cost_usd) == saved.cost_usd
    assert usage.input_tokens == saved.input_tokens > 0


def test_a_turn_closed_after_its_first_token_is_saved_with_the_cut_attempt_billed(analyst):
    glueworks_ingest(analyst.tenant)
    asked = kwargs(analyst)

    async def run() -> str:
        prepared = await turns.turn_prepare(**asked)
        stream = turns.turn_stream(prepared)
        async for frame in stream:
            if isinstance(frame, TokenFrame):
                break
        await stream.aclose()  # the reader goes away (a closed SSE stream)
        return str(prepared.turn.query_id)

    query_id = async_to_sync(run)()
    saved = Message.objects.get(query_id=query_id, role="assistant")
    assert saved.status == Message.Status.INTERRUPTED
    attempts = Checkpoint.objects.get(message=saved).state["attempts"]
    assert [a["outcome"] for a in attempts] == ["interrupted"]
    rows = LedgerEntry.objects.filter(query_id=query_id, kind="model")
    assert [r.status for r in rows] == ["interrupted"]
    assert saved.output_tokens == rows[0].output_tokens > 0
