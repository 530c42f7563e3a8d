"""A web process that drains: streams in flight get their final frames and a 1012 close, the
turn is saved as interrupted with its ledger rows and no hold, and new questions are refused."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from agents.models import Checkpoint, Message
from agents.services import conversation_create
from agents.tests.support import ask, glueworks_ingest
from billing.models import LedgerEntry, Reservation
from billing.ratelimit import stream_slots_held
from config.asgi import application
from monitoring import draining
from tests.fakes.llm_server import slow

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _not_draining():
    draining.drain_reset()
    yield
    draining.drain_reset()


@pytest.fixture
def anthropic_first(settings, llm_env):
    settings.LLM_CHAINS = {"free": ["offline"], "pro": ["anthropic", "offline"]}
    return llm_env


def _connect(path: str, key: str) -> WebsocketCommunicator:
    headers = [
        (b"origin", b"http://testserver"),
        (b"host", b"testserver"),
        (b"authorization", f"Bearer {key}".encode()),
    ]
    return WebsocketCommunicator(application, path, headers=headers)


@pytest.mark.asyncio
async def test_a_websocket_stream_in_flight_when_draining_starts_gets_its_final_frames(
    analyst, anthropic_first
):
    await database_sync_to_async(glueworks_ingest)(analyst.tenant)
    conversation = await database_sync_to_async(conversation_create)(
        tenant=analyst.tenant, user=analyst.user
    )
    anthropic_first.script(slow(" ".join(["word"] * 400), delay=0.05), api="anthropic")
    ws = _connect(f"/ws/conversations/{conversation.pk}/", analyst.raw_key)
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "ask", "question": "Glueworks capital expenditures"})
    frames: list[dict] = []
    while len([f for f in frames if f["type"] == "token"]) < 3:
        frames.append(await ws.receive_json_from(timeout=20))

    draining.drain_begin(seconds=0.2)
    while frames[-1]["type"] != "end":
        frames.append(await ws.receive_json_from(timeout=20))
    closed = await ws.receive_output(timeout=5)

    types = [f["type"] for f in frames]
    assert types[-3:] == ["error", "usage", "end"]
    assert frames[-3]["error"]["code"] == "service_restarting"
    assert frames[-1]["status"] == "interrupted"
    assert closed == {"type": "websocket.close", "code": 1012}
    upstream = anthropic_first.requests_for("anthropic")[0]
    assert await asyncio.to_thread(upstream.client_closed.wait, 5)
    assert upstream.tokens_sent < 400

    def saved() -> tuple[Message, int, int, int]:
        message = Message.objects.get(conversation=conversation, role="assistant")
        ledger = LedgerEntry.objects.filter(query_id=message.query_id, kind="model").count()
        holds = Reservation.objects.filter(tenant=analyst.tenant, status="active").count()
        checkpoints = Checkpoint.objects.filter(message=message).count()
        return message, ledger, holds, checkpoints

    message, ledger_rows, holds, checkpoints = await database_sync_to_async(saved)()
    assert message.status == "interrupted"
    assert message.content.startswith("word")
    assert message.output_tokens > 0
    assert ledger_rows == 1
    assert checkpoints == 1
    assert holds == 0
    assert (
        await database_sync_to_async(stream_slots_held)(tenant=analyst.tenant, user=analyst.user)
        == 0
    )
    assert draining.turns_in_flight() == 0
    await ws.disconnect()


@pytest.mark.asyncio
async def test_a_question_sent_on_an_open_websocket_while_draining_is_refused_and_closed(analyst):
    conversation = await database_sync_to_async(conversation_create)(
        tenant=analyst.tenant, user=analyst.user
    )
    ws = _connect(f"/ws/conversations/{conversation.pk}/", analyst.raw_key)
    assert (await ws.connect())[0]
    draining.drain_begin(seconds=5)
    await ws.send_json_to({"type": "ask", "question": "Glueworks capital expenditures"})
    frame = await ws.receive_json_from(timeout=10)
    assert frame["error"]["code"] == "service_restarting"
    assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 1012}


def test_a_rest_question_while_draining_gets_503_with_retry_after_and_nothing_is_saved(analyst):
    glueworks_ingest(analyst.tenant)
    draining.drain_begin(seconds=5)
    response = ask(analyst, "Glueworks capital expenditures")
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "service_restarting"
    assert not Message.objects.filter(tenant=analyst.tenant).exists()
    assert not Reservation.objects.filter(tenant=analyst.tenant, status="active").exists()


def test_readiness_turns_false_as_soon_as_draining_starts(client):
    draining.drain_begin(seconds=5)
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "draining"
