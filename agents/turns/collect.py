"""A turn's frames gathered into one JSON-ready object (REST JSON, `manage.py ask --json`)."""

from __future__ import annotations

from typing import Any

from agents.turns.frames import (
    CitationFrame,
    EndFrame,
    ErrorFrame,
    StartFrame,
    TokenFrame,
    ToolFrame,
    UsageFrame,
    VerificationFrame,
)
from agents.turns.prepare import PreparedTurn, turn_prepare
from agents.turns.stream import turn_stream


async def answer_turn_collect(**kwargs: Any) -> dict[str, Any]:
    """Run a turn to the end and return one JSON-ready object."""
    return await turn_collect(await turn_prepare(**kwargs))


async def turn_collect(prepared: PreparedTurn) -> dict[str, Any]:
    """The frames of a prepared turn as one JSON-ready object; a turn that fails before its
    start frame still has every field (TurnOutputSerializer)."""
    tokens: list[str] = []
    result: dict[str, Any] = {
        "citations": [],
        "tools": [],
        "verification": {"figures": [], "summary": {}},
        "error": None,
        "query_id": str(prepared.turn.query_id),
        "conversation": prepared.conversation.pk,
        "standalone_question": prepared.question,
        "scope": {},
        "offline": prepared.turn.offline_only,
    }
    async for frame in turn_stream(prepared):
        match frame:
            case StartFrame():
                result.update(
                    query_id=frame.query_id,
                    conversation=frame.conversation_id,
                    standalone_question=frame.standalone_question,
                    scope=frame.scope,
                    offline=frame.offline,
                )
            case TokenFrame():
                tokens.append(frame.text)
            case CitationFrame():
                result["citations"].append(frame.citation)
            case ToolFrame():
                result["tools"].append(_plain(frame))
            case VerificationFrame():
                result["verification"] = _plain(frame)
            case UsageFrame():
                result.update(
                    provider=frame.provider,
                    model=frame.model,
                    tokens={"input": frame.input_tokens, "output": frame.output_tokens},
                    cost_usd=frame.cost_usd,
                    estimated_cost_usd=frame.estimated_cost_usd,
                    failovers=frame.failovers,
                    budget_warning=frame.budget_warning,
                )
            case EndFrame():
                result.update(message_id=frame.message_id, status=frame.status)
            case ErrorFrame():
                result["error"] = frame.error
    result["answer"] = "".join(tokens)
    return result


def _plain(frame: ToolFrame | VerificationFrame) -> dict[str, Any]:
    """The frame's fields without its type, as the JSON object lists them."""
    data = frame.as_frame()
    del data["type"]
    return data
