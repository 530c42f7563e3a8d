"""One question's turn: prepare -> retrieve -> stream -> persist, carrying one typed Turn.

    answer_turn(*, tenant, user, membership, conversation_id, question) -> frames

Entry points (the websocket consumer, REST JSON and SSE, `manage.py ask`) call these and only
render the frames (agents.turns.frames). The names below load on first use: the hook modules
import agents.turns.turn, and the turn's steps import the hooks' pipeline.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.turns.collect import answer_turn_collect, turn_collect
    from agents.turns.entry import answer_turn
    from agents.turns.prepare import PreparedTurn, question_prepare, turn_prepare
    from agents.turns.stream import turn_stream

_HOMES = {
    "answer_turn": "agents.turns.entry",
    "answer_turn_collect": "agents.turns.collect",
    "turn_collect": "agents.turns.collect",
    "PreparedTurn": "agents.turns.prepare",
    "question_prepare": "agents.turns.prepare",
    "turn_prepare": "agents.turns.prepare",
    "turn_stream": "agents.turns.stream",
}

__all__ = [
    "PreparedTurn",
    "answer_turn",
    "answer_turn_collect",
    "question_prepare",
    "turn_collect",
    "turn_prepare",
    "turn_stream",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'agents.turns' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
