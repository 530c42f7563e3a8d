"""The conversation websocket when a backing service goes away: Postgres down gives an error
frame with retry_after (not a silent socket); Redis restarted under an open socket leaves the
stream in progress running and the socket usable, the channel layer reconnecting by itself."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.db import DEFAULT_DB_ALIAS, connection, connections

from agents.models import Message
from agents.services import conversation_create
from agents.tests.test_websocket import FILING, connect
from config import embedded
from monitoring import metrics
from retrieval.services import DocumentMetadata, document_ingest, document_register
from tests.fakes.llm_server import slow
from tests.live_server import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


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


async def frames_until(ws: WebsocketCommunicator, types: set[str]) -> list[dict]:
    frames: list[dict] = []
    while not frames or frames[-1]["type"] not in types:
        frames.append(await ws.receive_json_from(timeout=30))
    return frames


def take_database_down() -> dict:
    """Every new connection goes to a socket where nothing listens (the settings are shared by
    every thread's connection; each handler of the socket closes its old connection first)."""
    settings_dict = connections.settings[DEFAULT_DB_ALIAS]
    saved = dict(settings_dict)
    settings_dict.update(PORT="1", HOST="/nonexistent")
    return saved


def bring_database_back(saved: dict) -> None:
    connections.settings[DEFAULT_DB_ALIAS].update(saved)


async def test_a_question_while_the_database_is_down_gets_a_retry_frame_and_the_socket_lives(world):
    analyst, conversation = world
    ws = connect(f"/ws/conversations/{conversation.pk}/", analyst.raw_key)
    assert (await ws.connect())[0]
    saved = take_database_down()
    try:
        await ws.send_json_to({"type": "ask", "question": "Glueworks net sales 2018"})
        frame = await ws.receive_json_from(timeout=30)
    finally:
        bring_database_back(saved)
    assert frame["type"] == "error"
    assert frame["error"]["code"] == "service_unavailable"
    assert frame["error"]["details"]["retry_after"] > 0
    assert "nonexistent" not in str(frame)
    # The same socket answers once the database is back.
    await ws.send_json_to({"type": "ask", "question": "Glueworks net sales 2018"})
    frames = await frames_until(ws, {"end", "error"})
    assert frames[-1]["type"] == "end"
    assert frames[-1]["status"] == "complete"
    await ws.disconnect()


async def test_a_turn_failing_before_its_start_frame_gets_an_error_and_no_stray_end_frame(
    world, monkeypatch
):
    """The Postgres drill: a turn prepared while the database came back failed before its start
    frame; an `end` sent after the error was read by the client as the end of its next turn."""
    from django.db import OperationalError

    from agents import turns

    analyst, conversation = world
    real_stream = turns.turn_stream

    async def failing_stream(prepared):
        raise OperationalError("the database went away")
        yield  # pragma: no cover - makes this an async generator

    monkeypatch.setattr(turns, "turn_stream", failing_stream)
    ws = connect(f"/ws/conversations/{conversation.pk}/", analyst.raw_key)
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "ask", "question": "Glueworks net sales 2018"})
    frame = await ws.receive_json_from(timeout=30)
    assert (frame["type"], frame["error"]["code"]) == ("error", "service_unavailable")
    assert await ws.receive_nothing(timeout=0.5)

    monkeypatch.setattr(turns, "turn_stream", real_stream)
    await ws.send_json_to({"type": "ask", "question": "Glueworks net sales 2018"})
    frames = await frames_until(ws, {"end", "error"})
    assert frames[0]["type"] == "start"
    assert (frames[-1]["type"], frames[-1]["status"]) == ("end", "complete")
    await ws.disconnect()


def redis_server(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [embedded.redis_executable(), "--bind", "127.0.0.1", "--port", str(port), "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not embedded.redis_answers(port=port):
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.05)
    return process


@pytest.fixture
def own_channel_redis(settings) -> Iterator[dict]:
    """The channel layer on a Redis of this test's own, which the test can kill and restart."""
    port = free_port()
    state = {"port": port, "process": redis_server(port)}
    layers = dict(settings.CHANNEL_LAYERS)
    layers["default"] = {
        **layers["default"],
        "CONFIG": {
            **layers["default"]["CONFIG"],
            "hosts": [{"address": f"redis://127.0.0.1:{port}/0", "socket_timeout": 15}],
        },
    }
    settings.CHANNEL_LAYERS = layers
    channel_layers.backends.clear()
    yield state
    state["process"].kill()
    state["process"].wait(5)
    channel_layers.backends.clear()


def layer_retries() -> float:
    return metrics.REDIS_ERRORS.labels(component="channel_layer", policy="retry")._value.get()


async def test_redis_restarted_under_a_stream_the_stream_finishes_and_the_socket_still_answers(
    world, llm_env, own_channel_redis
):
    analyst, conversation = world
    retries_before = layer_retries()
    llm_env.script(slow(" ".join(["word"] * 40), delay=0.05), api="anthropic")
    ws = connect(f"/ws/conversations/{conversation.pk}/", analyst.raw_key)
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "ask", "question": "Glueworks net sales 2018"})
    frames = [await ws.receive_json_from(timeout=30)]
    while [f["type"] for f in frames].count("token") < 3:
        frames.append(await ws.receive_json_from(timeout=30))

    own_channel_redis["process"].kill()  # Redis dies mid-stream
    own_channel_redis["process"].wait(5)
    frames += await frames_until(ws, {"end", "error"})
    assert frames[-1]["type"] == "end", frames[-1]
    assert frames[-1]["status"] == "complete"

    await asyncio.sleep(1.5)  # the layer fails at least once while Redis is away
    assert layer_retries() > retries_before
    own_channel_redis["process"] = await asyncio.to_thread(redis_server, own_channel_redis["port"])
    await ws.send_json_to({"type": "ask", "question": "Glueworks capital expenditures 2018"})
    again = await frames_until(ws, {"end", "error"})
    assert (again[-1]["type"], again[-1].get("status")) == ("end", "complete")
    await ws.disconnect()


@pytest.fixture
def main_backend() -> tuple[int, dict]:
    """The test thread's own Postgres backend (spared below) and the parameters to connect."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = int(cursor.fetchone()[0])
    return pid, connection.get_connection_params()


def terminate_other_backends(spare: int, params: dict) -> int:
    """What a database restart does to the app's open connections (the test thread's spared)."""
    import psycopg

    with psycopg.connect(**params, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), %s)",
            [spare],
        ).fetchall()
    return len(rows)


async def test_a_database_restart_as_a_turn_ends_delays_its_save_but_keeps_the_answer(
    world, llm_env, settings, main_backend
):
    analyst, conversation = world
    settings.TURN_SAVE_OUTAGE_SECONDS = 20
    llm_env.script(slow(" ".join(["word"] * 30), delay=0.05), api="anthropic")
    ws = connect(f"/ws/conversations/{conversation.pk}/", analyst.raw_key)
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "ask", "question": "Glueworks net sales 2018"})
    frames = [await ws.receive_json_from(timeout=30)]
    while [f["type"] for f in frames].count("token") < 3:
        frames.append(await ws.receive_json_from(timeout=30))

    # The database goes away mid-stream (open connections cut, new ones refused) for 2 s.
    saved_settings = take_database_down()
    await asyncio.to_thread(terminate_other_backends, *main_backend)
    asyncio.get_running_loop().call_later(2, bring_database_back, saved_settings)
    frames += await frames_until(ws, {"end"})

    assert frames[-1]["status"] == "complete"
    assert "turn_not_saved" not in str(frames)
    message = await database_sync_to_async(
        lambda: Message.objects.get(conversation=conversation, role="assistant")
    )()
    assert message.status == "complete"
    assert message.content.startswith("word word")
    await ws.disconnect()
