"""Item 7: a binary or non-JSON websocket frame gets an error frame; the socket stays open and
still answers."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from agents.services import conversation_create
from tests.security.sockets import frames_until_end, glueworks_filing, next_frame, socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.mark.parametrize(
    "garbage",
    [
        {"bytes_data": b"\x00\xff\x10binary"},
        {"text_data": "not json {"},
        {"text_data": "   "},
        {"text_data": "null"},
        {"text_data": "[1, 2]"},
    ],
    ids=["binary", "not json", "blank", "null", "a list"],
)
async def test_a_bad_frame_gets_an_error_frame_and_the_socket_keeps_answering(analyst, garbage):
    await database_sync_to_async(glueworks_filing)(analyst.tenant)
    conversation = await database_sync_to_async(conversation_create)(
        tenant=analyst.tenant, user=analyst.user
    )
    ws = socket(conversation.pk, key=analyst.raw_key)
    assert (await ws.connect())[0]
    if "bytes_data" in garbage:
        await ws.send_to(bytes_data=garbage["bytes_data"])
    else:
        await ws.send_to(text_data=garbage["text_data"])
    frame = await next_frame(ws)
    assert frame["error"]["code"] == "malformed_frame"
    await ws.send_json_to({"type": "ask", "question": "Glueworks capital expenditures 2018"})
    assert (await frames_until_end(ws))[-1]["status"] == "complete"
    await ws.disconnect()
