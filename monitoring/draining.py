"""Draining a web process before it exits: readiness turns false, new turns are refused, the turns
in flight get until a deadline and then end as interrupted.

The server (config/server.py) calls `drain_begin` when the process is told to stop, then awaits
`drain_wait`; the agents' DrainHook registers every turn and stops it at the deadline; /ready
answers 503 from the first moment. State is per process: each worker drains on its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

# Time a turn stopped at the deadline gets to save itself and send its last frames.
FINAL_FRAMES_SECONDS = 2.0


@dataclass
class _DrainState:
    started_at: float | None = None  # time.monotonic() when draining began
    deadline: float | None = None  # time.monotonic() after which turns in flight are stopped
    # Keyed by id(): a turn's object (the agents' Turn) need not be hashable.
    turns: weakref.WeakValueDictionary[int, object] = field(
        default_factory=weakref.WeakValueDictionary
    )


_state = _DrainState()


def drain_begin(*, seconds: float) -> None:
    """Start draining: refuse new turns now, stop the turns in flight `seconds` from now.
    Calling it again never extends a deadline already set."""
    now = time.monotonic()
    deadline = now + max(0.0, seconds)
    if _state.started_at is None:
        _state.started_at = now
        logger.warning(
            "draining: readiness is false, new questions are refused, %d turn(s) in flight "
            "get %.1f s",
            len(_state.turns),
            seconds,
        )
    if _state.deadline is None or deadline < _state.deadline:
        _state.deadline = deadline


def is_draining() -> bool:
    return _state.started_at is not None


def seconds_left() -> float | None:
    """Seconds until turns in flight are stopped; None while not draining."""
    if _state.deadline is None:
        return None
    return max(0.0, _state.deadline - time.monotonic())


def deadline_passed() -> bool:
    left = seconds_left()
    return left is not None and left <= 0


def turn_register(turn: object) -> None:
    """Count a turn as in flight until `turn_unregister` (or until the object is collected)."""
    _state.turns[id(turn)] = turn


def turn_unregister(turn: object) -> None:
    _state.turns.pop(id(turn), None)


def turns_in_flight() -> int:
    return len(_state.turns)


async def drain_wait(*, poll_seconds: float = 0.05) -> int:
    """Wait until no turn is in flight, or the deadline plus the time for final frames has
    passed; returns the number of turns still registered (0 when every one ended)."""
    if _state.deadline is None:
        raise RuntimeError("drain_wait called before drain_begin")
    give_up = _state.deadline + FINAL_FRAMES_SECONDS
    while _state.turns and time.monotonic() < give_up:
        await asyncio.sleep(poll_seconds)
    left = len(_state.turns)
    if left:
        logger.error("draining: %d turn(s) still in flight after the drain time", left)
    else:
        logger.warning(
            "draining: no turn in flight after %.1f s", time.monotonic() - (_state.started_at or 0)
        )
    return left


def drain_reset() -> None:
    """Forget the drain state (tests; a process never stops draining once it started)."""
    _state.started_at = None
    _state.deadline = None
    _state.turns = weakref.WeakValueDictionary()
