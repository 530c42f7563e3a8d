"""The frames one turn yields: a union of frozen dataclasses that the websocket, SSE, REST JSON
and `manage.py ask` only render (`as_frame()` is the JSON every one of them sends)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar


class _Frame:
    type: ClassVar[str]

    def as_frame(self) -> dict[str, Any]:
        return {"type": self.type, **{f.name: getattr(self, f.name) for f in fields(self)}}  # type: ignore[arg-type]


@dataclass(frozen=True)
class StartFrame(_Frame):
    type: ClassVar[str] = "start"
    query_id: str
    conversation_id: int
    question: str
    standalone_question: str
    chain: list[str]
    offline: bool
    scope: dict[str, Any]
    sub_questions: list[str]


@dataclass(frozen=True)
class TokenFrame(_Frame):
    type: ClassVar[str] = "token"
    text: str


@dataclass(frozen=True)
class CitationFrame(_Frame):
    """One cited passage: number, chunk_id, document_id, document, source, page, text."""

    type: ClassVar[str] = "citation"
    citation: dict[str, Any]

    def as_frame(self) -> dict[str, Any]:
        return {"type": self.type, **self.citation}


@dataclass(frozen=True)
class ToolFrame(_Frame):
    type: ClassVar[str] = "tool"
    name: str
    arguments: dict[str, Any]
    output: str
    error: str | None


@dataclass(frozen=True)
class VerificationFrame(_Frame):
    type: ClassVar[str] = "verification"
    figures: list[dict[str, Any]]
    summary: dict[str, Any]


@dataclass(frozen=True)
class UsageFrame(_Frame):
    type: ClassVar[str] = "usage"
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: str
    estimated_cost_usd: str
    failovers: list[dict[str, str]]
    offline: bool
    budget_warning: dict[str, str] | None


@dataclass(frozen=True)
class EndFrame(_Frame):
    """The turn is over; a stopped turn's end frame (sent by the socket) has no latency."""

    type: ClassVar[str] = "end"
    message_id: int | None
    conversation_id: int
    status: str
    latency_ms: int | None = None

    def as_frame(self) -> dict[str, Any]:
        frame = super().as_frame()
        if self.latency_ms is None:
            del frame["latency_ms"]
        return frame


@dataclass(frozen=True)
class ErrorFrame(_Frame):
    """`{"type": "error", "error": {"code", "message", "details"}}`, as the REST errors."""

    type: ClassVar[str] = "error"
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_frame(self) -> dict[str, Any]:
        return {"type": self.type, "error": self.error}

    @property
    def error(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


TurnFrame = (
    StartFrame
    | TokenFrame
    | CitationFrame
    | ToolFrame
    | VerificationFrame
    | UsageFrame
    | EndFrame
    | ErrorFrame
)


def error_frame(code: str, message: str, details: dict[str, Any] | None = None) -> ErrorFrame:
    return ErrorFrame(code=code, message=message, details=details or {})
