"""The middleware pipeline: six hooks around one agent run, each call inside a trace span.

Hooks are small classes listed in settings.AGENT_HOOKS, run in that order (wrappers nest with the
first listed outermost). Any hook may stop the run by raising an ApplicationError, which reaches
the user as a clear error.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from agents.contracts import AttemptRecord, ModelRequest, StreamEvent
from agents.tools import ToolResult
from monitoring.tracing import get_tracer

ModelCall = Callable[[ModelRequest], AsyncIterator[StreamEvent]]
ToolCall = Callable[[str, dict[str, Any]], Awaitable[ToolResult]]

HOOK_POINTS = (
    "before_agent",
    "before_model",
    "wrap_model_call",
    "after_model",
    "wrap_tool_call",
    "after_agent",
)


@dataclass
class RunContext:
    """Everything the hooks of one run share."""

    tenant: Any
    user: Any
    membership: Any
    conversation_id: int
    question: str
    query_id: uuid.UUID = field(default_factory=uuid.uuid4)
    tier: str = "free"
    is_follow_up: bool = False
    pii_mapping: dict[str, str] = field(default_factory=dict)
    attempts: list[AttemptRecord] = field(default_factory=list)
    tool_results: list[ToolResult] = field(default_factory=list)
    estimated_input_tokens: int = 0
    estimated_cost_usd: Decimal = Decimal(0)
    cost_usd: Decimal = Decimal(0)
    status: str = "ok"
    error_code: str = ""
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunOutcome:
    status: str  # ok, error, interrupted
    answer: str
    error_code: str = ""


class Hook:
    """A pipeline stage; override the points it needs. Each default passes through."""

    name = "hook"

    async def before_agent(self, ctx: RunContext) -> None:
        return None

    async def before_model(self, ctx: RunContext, request: ModelRequest) -> ModelRequest:
        return request

    def wrap_model_call(self, ctx: RunContext, call: ModelCall) -> ModelCall:
        return call

    async def after_model(self, ctx: RunContext, attempt: AttemptRecord) -> None:
        return None

    def wrap_tool_call(self, ctx: RunContext, call: ToolCall) -> ToolCall:
        return call

    async def after_agent(self, ctx: RunContext, outcome: RunOutcome) -> None:
        return None


def _overrides(hook: Hook, point: str) -> bool:
    return getattr(type(hook), point) is not getattr(Hook, point)


class Pipeline:
    def __init__(self, hooks: list[Hook]):
        self.hooks = hooks
        self.tracer = get_tracer()

    @classmethod
    def from_settings(cls) -> Pipeline:
        return cls([import_string(path)() for path in settings.AGENT_HOOKS])

    def _span(self, hook: Hook, point: str, ctx: RunContext) -> Any:
        return self.tracer.start_as_current_span(
            f"hook.{point}.{hook.name}",
            attributes={
                "rag.hook": hook.name,
                "rag.hook_point": point,
                "rag.query_id": str(ctx.query_id),
                "rag.conversation_id": ctx.conversation_id,
            },
        )

    async def before_agent(self, ctx: RunContext) -> None:
        for hook in self.hooks:
            if _overrides(hook, "before_agent"):
                with self._span(hook, "before_agent", ctx):
                    await hook.before_agent(ctx)

    async def before_model(self, ctx: RunContext, request: ModelRequest) -> ModelRequest:
        for hook in self.hooks:
            if _overrides(hook, "before_model"):
                with self._span(hook, "before_model", ctx):
                    request = await hook.before_model(ctx, request)
        return request

    def model_call(self, ctx: RunContext, call: ModelCall) -> ModelCall:
        wrapped = call
        for hook in reversed(self.hooks):
            if _overrides(hook, "wrap_model_call"):
                wrapped = self._traced_wrap(hook, ctx, hook.wrap_model_call(ctx, wrapped))
        return wrapped

    def _traced_wrap(self, hook: Hook, ctx: RunContext, call: ModelCall) -> ModelCall:
        pipeline = self

        async def traced(request: ModelRequest) -> AsyncIterator[StreamEvent]:
            with pipeline._span(hook, "wrap_model_call", ctx):
                async for event in call(request):
                    yield event

        return traced

    async def after_model(self, ctx: RunContext, attempt: AttemptRecord) -> None:
        for hook in self.hooks:
            if _overrides(hook, "after_model"):
                with self._span(hook, "after_model", ctx):
                    await hook.after_model(ctx, attempt)

    def tool_call(self, ctx: RunContext, call: ToolCall) -> ToolCall:
        wrapped = call
        for hook in reversed(self.hooks):
            if _overrides(hook, "wrap_tool_call"):
                inner = hook.wrap_tool_call(ctx, wrapped)
                wrapped = self._traced_tool(hook, ctx, inner)
        return wrapped

    def _traced_tool(self, hook: Hook, ctx: RunContext, call: ToolCall) -> ToolCall:
        async def traced(name: str, arguments: dict[str, Any]) -> ToolResult:
            with self._span(hook, "wrap_tool_call", ctx):
                return await call(name, arguments)

        return traced

    async def after_agent(self, ctx: RunContext, outcome: RunOutcome) -> None:
        # Every after_agent hook runs even if an earlier one fails: settlement must happen.
        first_error: BaseException | None = None
        for hook in self.hooks:
            if _overrides(hook, "after_agent"):
                with self._span(hook, "after_agent", ctx):
                    try:
                        await hook.after_agent(ctx, outcome)
                    except Exception as exc:  # re-raised once the others have run
                        first_error = first_error or exc
        if first_error is not None:
            raise first_error
