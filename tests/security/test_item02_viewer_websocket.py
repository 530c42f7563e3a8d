"""Item 2: a viewer may read a conversation's socket but not ask over it (REST answers 403 for
the same question): the refusal is an error frame, and no question, hold or ledger row exists."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from agents.models import Message
from agents.services import conversation_create
from billing.models import LedgerEntry, Reservation
from tests.security.sockets import glueworks_filing, next_frame, socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def viewer_conversation(make_member):
    viewer = make_member("acme", "viewer")
    glueworks_filing(viewer.tenant)
    return viewer, conversation_create(tenant=viewer.tenant, user=viewer.user)


def nothing_spent() -> bool:
    return not (
        Message.objects.exists() or LedgerEntry.objects.exists() or Reservation.objects.exists()
    )


@pytest.mark.asyncio
async def test_a_viewer_cannot_ask_over_the_websocket(viewer_conversation):
    viewer, conversation = viewer_conversation
    ws = socket(conversation.pk, key=viewer.raw_key)
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "ask", "question": "Glueworks capital expenditures 2018"})
    frame = await next_frame(ws)
    assert frame["type"] == "error"
    assert frame["error"]["code"] == "permission_denied"
    assert await database_sync_to_async(nothing_spent)()
    await ws.disconnect()


def test_rest_refuses_the_same_viewer_the_same_way(make_member):
    viewer = make_member("acme", "viewer")
    conversation = conversation_create(tenant=viewer.tenant, user=viewer.user)
    response = viewer.client().post(
        f"/api/v1/conversations/{conversation.pk}/messages", {"question": "x"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
