"""Item 6: owners and admins may read a member's conversation but not ask in it, over REST or
the websocket; nothing is written under the member's name."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from agents.models import Message
from agents.services import conversation_create
from tests.security.sockets import next_frame, socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def members_conversation(make_member):
    analyst = make_member("acme", "analyst")
    return conversation_create(tenant=analyst.tenant, user=analyst.user)


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_a_manager_cannot_ask_in_a_members_conversation_over_rest(
    make_member, members_conversation, role
):
    manager = make_member("acme", role)
    path = f"/api/v1/conversations/{members_conversation.pk}"
    assert manager.client().get(path).status_code == 200
    response = manager.client().post(
        f"{path}/messages", {"question": "Glueworks net sales 2018"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["details"]["reason"] == "not_conversation_owner"
    assert not Message.objects.filter(conversation=members_conversation).exists()


@pytest.mark.asyncio
async def test_a_manager_cannot_ask_in_a_members_conversation_over_the_websocket(
    make_member, members_conversation
):
    owner = await database_sync_to_async(make_member)("acme", "owner")
    ws = socket(members_conversation.pk, key=owner.raw_key)
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "ask", "question": "Glueworks net sales 2018"})
    frame = await next_frame(ws)
    assert frame["type"] == "error"
    assert frame["error"]["code"] == "permission_denied"
    await ws.disconnect()
    exists = Message.objects.filter(conversation=members_conversation).exists
    assert not await database_sync_to_async(exists)()
