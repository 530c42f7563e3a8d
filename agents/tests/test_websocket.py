"""The conversation websocket: frames in order, cancel mid-stream, bad frames, bad credentials."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from agents.models import Message
from agents.services import conversation_create
from config.asgi import application
from retrieval.services import DocumentMetadata, document_ingest, document_register
from tests.fakes.llm_server import calls_tools, ok, slow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

FILING = (
    "Glueworks Corp annual report for fiscal 2018.\n\f"
    "Net sales were $32,765 million in fiscal 2018.\n"
    "Capital expenditures were $1,577 million in fiscal 2018.\n"
)


@pytest.fixture
def world(analyst):
    document, _ = document_register(
        tenant=analyst.tenant,
        user=None,
        data=FILING.encode(),
        filename="glue.txt",
        metadata=DocumentMetadata(company="Glueworks Corp", ticker="GLUE", fiscal_year=2018),
        queue=False,
    )
    document_ingest(document_id=document.pk)
    conversation = conversation_create(tenant=analyst.tenant, user=analyst.user)
    return analyst, conversation


def connect(path: str, key: str | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if key:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def frames_until_end(ws: WebsocketCommunicator, timeout: float = 30) -> list[dict]:
    frames = []
    while True:
        frame = await ws.receive_json_from(timeout=timeout)
        frames.append(frame)
        if frame["type"] in ("end", "error") and frame["type"] == "end":
            return frames


async def test_websocket_streams_a_cited_answer(world):
    analyst, conversation = world
    ws = connect(f"/ws/conversations/{conversation.pk}/", analyst.raw_key)
    connected, _ = await ws.connect()
    assert connected
    await ws.send_json_to({"type": "ask", "question": "Glueworks capital expenditures 2018"})
    frames = await frames_until_end(ws)
    types = [f["type"] for f in frames]
    assert types[0] == "start"
    assert frames[0]["offline"] is True
    assert types.count("token") > 3
    assert types.index("citation") > types.index("token")
    assert types[-2:] == ["usage", "end"]
    assert "1,577" in "".join(f["text"] for f in frames if f["type"] == "token")
    assert frames[-1]["status"] == "complete"
    await ws.disconnect()


async def test_malformed_frames_and_empty_questions_get_error_frames(world):
    analyst, conversation = world
    ws = connect(f"/ws/conversations/{conversation.pk}/", analyst.raw_key)
    await ws.connect()
    await ws.send_json_to({"type": "shout"})
    assert (await ws.receive_json_from())["error"]["code"] == "malformed_frame"
    await ws.send_json_to({"type": "ask", "question": ""})
    assert (await ws.receive_json_from())["error"]["code"] == "invalid_input"
    await ws.send_json_to({"type": "ask", "question": 42})
    assert (await ws.receive_json_from())["error"]["code"] == "invalid_input"
    await ws.disconnect()


async def test_another_tenants_conversation_is_not_found(world, other_tenant_analyst):
    _, conversation = world
    ws = connect(f"/ws/conversations/{conversation.pk}/", other_tenant_analyst.raw_key)
    await ws.connect()
    await ws.send_json_to({"type": "ask", "question": "anything"})
    frame = await ws.receive_json_from()
    assert frame["error"]["code"] == "not_found"
    await ws.disconnect()


async def test_bad_key_is_refused_with_an_error_frame(world):
    _, conversation = world
    ws = connect(f"/ws/conversations/{conversation.pk}/", "abcdefgh.not-a-key")
    await ws.connect()
    frame = await ws.receive_json_from()
    assert frame["error"]["code"] == "not_authenticated"
    assert (await ws.receive_output())["type"] == "websocket.close"


async def test_cancel_closes_the_upstream_stream_and_keeps_the_partial_answer(world, llm_env):
    analyst, conversation = world
    llm_env.script(slow(" ".join(["word"] * 200), delay=0.05), api="anthropic")
    ws = connect(f"/ws/conversations/{conversation.pk}/", analyst.raw_key)
    await ws.connect()
    await ws.send_json_to({"type": "ask", "question": "Glueworks capital expenditures"})
    received = []
    while len([f for f in received if f["type"] == "token"]) < 3:
        received.append(await ws.receive_json_from(timeout=20))
    await ws.send_json_to({"type": "cancel"})
    while True:
        frame = await ws.receive_json_from(timeout=20)
        received.append(frame)
        if frame["type"] == "end":
            break
    assert received[-1]["status"] == "interrupted"
    upstream = llm_env.requests_for("anthropic")[0]
    assert await asyncio.to_thread(upstream.client_closed.wait, 5)
    assert upstream.tokens_sent < 200
    saved = await database_sync_to_async(
        lambda: Message.objects.get(conversation=conversation, role="assistant")
    )()
    assert saved.status == "interrupted"
    assert saved.content.startswith("word")
    assert saved.output_tokens > 0
    await ws.disconnect()


async def test_a_calculation_streams_as_a_tool_frame_between_the_rounds_text(
    world, llm_env, settings
):
    settings.LLM_CHAINS = {"free": ["offline"], "pro": ["anthropic", "offline"]}
    llm_env.script(
        calls_tools(("growth_percent", {"old": 1373, "new": 1577}), text="Let me compute it. "),
        ok("Capital expenditures grew 14.86% [1]."),
        api="anthropic",
    )
    analyst, conversation = world
    ws = connect(f"/ws/conversations/{conversation.pk}/", analyst.raw_key)
    connected, _ = await ws.connect()
    assert connected
    await ws.send_json_to({"type": "ask", "question": "Glueworks capex growth 2017 to 2018"})
    frames = await frames_until_end(ws)
    await ws.disconnect()

    types = [f["type"] for f in frames]
    tool_at = types.index("tool")
    before = "".join(f["text"] for f in frames[:tool_at] if f["type"] == "token")
    after = "".join(f["text"] for f in frames[tool_at:] if f["type"] == "token")
    assert before == "Let me compute it. "
    assert after == "Capital expenditures grew 14.86% [1]."
    assert frames[tool_at]["output"] == "growth_percent(old=1373, new=1577) = 14.86"
    assert frames[tool_at]["error"] is None
    assert types[-2:] == ["usage", "end"]
    assert frames[-1]["status"] == "complete"
