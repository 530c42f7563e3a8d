"""The typed entry point of a turn: prepare it, then stream its frames."""

from __future__ import annotations

from collections.abc import AsyncIterator

from accounts.models import Membership, Tenant, User
from agents.turns.frames import TurnFrame
from agents.turns.prepare import turn_prepare
from agents.turns.stream import turn_stream


async def answer_turn(
    *,
    tenant: Tenant,
    user: User,
    membership: Membership,
    conversation_id: int,
    question: str,
) -> AsyncIterator[TurnFrame]:
    """turn_prepare, then turn_stream: raises before the first frame (bad question, foreign
    conversation, a limit or budget refusal), errors arrive as frames after it."""
    prepared = await turn_prepare(
        tenant=tenant,
        user=user,
        membership=membership,
        conversation_id=conversation_id,
        question=question,
    )
    async for frame in turn_stream(prepared):
        yield frame
