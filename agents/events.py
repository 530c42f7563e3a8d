"""The frames of one answered turn, shared by the websocket, SSE, JSON and CLI entry points."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class TurnEvent:
    type: str  # start, token, citation, tool, usage, end, error
    data: dict[str, Any] = field(default_factory=dict)

    def as_frame(self) -> dict[str, Any]:
        return {"type": self.type, **self.data}


def frame(type_: str, **data: Any) -> TurnEvent:
    return TurnEvent(type=type_, data=data)


def error_frame(code: str, message: str, details: dict[str, Any] | None = None) -> TurnEvent:
    return TurnEvent(
        type="error", data={"error": {"code": code, "message": message, "details": details or {}}}
    )


__all__ = ["TurnEvent", "asdict", "error_frame", "frame"]
