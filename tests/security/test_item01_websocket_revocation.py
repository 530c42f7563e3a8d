"""Item 1: an open websocket loses access the moment REST would: a revoked key, a removed
membership, a suspended workspace, a deactivated user or a signed-out session stops the next
question, with an error frame and a closed socket, and nothing is asked or billed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async

from accounts.models import ApiKey, Membership, Tenant, User
from accounts.services import api_key_revoke, tenant_set_status
from agents.models import Message
from agents.services import conversation_create
from billing.models import LedgerEntry
from tests.security.sockets import (
    closed_with,
    frames_until_end,
    glueworks_filing,
    next_frame,
    session_cookie,
    socket,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

QUESTION = "Glueworks capital expenditures 2018"


def revoke_key(member: Any) -> None:
    api_key_revoke(tenant=member.tenant, api_key=ApiKey.objects.get(user=member.user))


def remove_membership(member: Any) -> None:
    Membership.objects.filter(pk=member.membership.pk).delete()


def suspend_tenant(member: Any) -> None:
    tenant_set_status(tenant=member.tenant, status=Tenant.Status.SUSPENDED)


def deactivate_user(member: Any) -> None:
    User.objects.filter(pk=member.user.pk).update(is_active=False)


@pytest.fixture
def asking(analyst):
    glueworks_filing(analyst.tenant)
    conversation = conversation_create(tenant=analyst.tenant, user=analyst.user)
    return analyst, conversation


def questions_asked(member: Any) -> int:
    return Message.objects.filter(tenant=member.tenant, role=Message.Role.USER).count()


@pytest.mark.parametrize(
    ("take_away", "code"),
    [
        (revoke_key, "not_authenticated"),
        (remove_membership, "not_found"),
        (suspend_tenant, "tenant_suspended"),
        (deactivate_user, "not_authenticated"),
    ],
    ids=["key revoked", "membership removed", "tenant suspended", "user deactivated"],
)
async def test_an_open_socket_stops_answering_once_access_is_taken_away(
    asking, take_away: Callable[[Any], None], code: str
):
    member, conversation = asking
    ws = socket(conversation.pk, key=member.raw_key)
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "ask", "question": QUESTION})
    assert (await frames_until_end(ws))[-1]["status"] == "complete"
    asked = await database_sync_to_async(questions_asked)(member)
    ledger = await database_sync_to_async(LedgerEntry.objects.count)()

    await database_sync_to_async(take_away)(member)
    await ws.send_json_to({"type": "ask", "question": QUESTION})

    frame = await next_frame(ws)
    assert frame["type"] == "error"
    assert frame["error"]["code"] == code
    assert await closed_with(ws) in (4401, 4403)
    assert await database_sync_to_async(questions_asked)(member) == asked
    assert await database_sync_to_async(LedgerEntry.objects.count)() == ledger


async def test_a_session_socket_stops_answering_once_its_user_signs_out(asking):
    member, conversation = asking
    client, cookie = await session_cookie(member.user)
    ws = socket(conversation.pk, cookie=cookie)
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "ask", "question": QUESTION})
    assert (await frames_until_end(ws))[-1]["status"] == "complete"

    await database_sync_to_async(client.logout)()
    await ws.send_json_to({"type": "ask", "question": QUESTION})

    frame = await next_frame(ws)
    assert frame["error"]["code"] == "not_authenticated"
    assert await closed_with(ws) == 4401
