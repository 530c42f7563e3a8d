"""The middleware pipeline: six hook points around one turn, each call inside a trace span.

The hooks are the fixed stack of agents.hooks.stack (settings.AGENT_HOOKS may add to it), run in
that order; wrappers nest with the first listed outermost. Any hook may stop the run by raising an
ApplicationError, which reaches the user as a clear error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from accounts.errors import ApplicationError
from agents.contracts import AttemptRecord, ModelRequest, StreamEvent
from agents.tools import ToolResult
from agents.turns.turn import Turn
from monitoring.tracing import get_tracer, query_trace_close

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


@dataclass(frozen=True)
class RunOutcome:
    status: str  # ok, error, interrupted
    answer: str
    error_code: str = ""


class Hook:
    """A pipeline stage; override the points it needs. Each default passes through."""

    name = "hook"

    async def before_agent(self, turn: Turn) -> None:
        return None

    async def before_model(self, turn: Turn, request: ModelRequest) -> ModelRequest:
        return request

    def wrap_model_call(self, turn: Turn, call: ModelCall) -> ModelCall:
        return call

    async def after_model(self, turn: Turn, attempt: AttemptRecord) -> None:
        return None

    def wrap_tool_call(self, turn: Turn, call: ToolCall) -> ToolCall:
        return call

    async def after_agent(self, turn: Turn, outcome: RunOutcome) -> None:
        return None


def _overrides(hook: Hook, point: str) -> bool:
    return getattr(type(hook), point) is not getattr(Hook, point)


class Pipeline:
    def __init__(self, hooks: list[Hook]):
        self.hooks = hooks
        self.tracer = get_tracer()

    @classmethod
    def from_settings(cls) -> Pipeline:
        """The fixed hook stack with the hooks settings.AGENT_HOOKS adds."""
        from agents.hooks.stack import hooks_build

        return cls(hooks_build())

    def bind(self, turn: Turn) -> None:
        """Make this pipeline the one the turn reports its attempts to."""

        async def attempt_ended(attempt: AttemptRecord) -> None:
            turn.attempts.append(attempt)
            await self.after_model(turn, attempt)

        turn.attempt_ended = attempt_ended

    def _attributes(self, hook: Hook, point: str, turn: Turn) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "rag.hook": hook.name,
            "rag.hook_point": point,
            "rag.query_id": str(turn.query_id),
            "rag.conversation_id": turn.conversation_id,
        }
        tenant_id = getattr(turn.tenant, "pk", None)
        if tenant_id is not None:
            attributes["rag.tenant_id"] = tenant_id
        return attributes

    def _span(self, hook: Hook, point: str, turn: Turn) -> Any:
        return self.tracer.start_as_current_span(
            f"hook.{point}.{hook.name}", attributes=self._attributes(hook, point, turn)
        )

    async def before_agent(self, turn: Turn) -> None:
        """Run every before_agent; when one refuses the run (an ApplicationError such as a rate
        limit or an exhausted budget), the after_agent of the hooks whose before_agent already ran
        see a "rejected" outcome, so counters, slots and holds they took are given back, and the
        question's trace ends. Then the error propagates."""
        done: list[Hook] = []
        for hook in self.hooks:
            if _overrides(hook, "before_agent"):
                try:
                    with self._span(hook, "before_agent", turn):
                        await hook.before_agent(turn)
                except ApplicationError as exc:
                    turn.status, turn.error_code = "rejected", exc.code
                    rejected = RunOutcome(status="rejected", answer="", error_code=exc.code)
                    for earlier in done:
                        if _overrides(earlier, "after_agent"):
                            with (
                                self._span(earlier, "after_agent", turn),
                                contextlib.suppress(Exception),
                            ):
                                await earlier.after_agent(turn, rejected)
                    query_trace_close(query_id=str(turn.query_id), error=exc.code)
                    raise
            done.append(hook)

    async def before_model(self, turn: Turn, request: ModelRequest) -> ModelRequest:
        for hook in self.hooks:
            if _overrides(hook, "before_model"):
                with self._span(hook, "before_model", turn):
                    request = await hook.before_model(turn, request)
        return request

    def model_call(self, turn: Turn, call: ModelCall) -> ModelCall:
        wrapped = call
        for hook in reversed(self.hooks):
            if _overrides(hook, "wrap_model_call"):
                wrapped = self._traced_wrap(hook, turn, hook.wrap_model_call(turn, wrapped))
        return wrapped

    def _traced_wrap(self, hook: Hook, turn: Turn, call: ModelCall) -> ModelCall:
        pipeline = self

        async def traced(request: ModelRequest) -> AsyncIterator[StreamEvent]:
            # The span is current only while the wrapped stream computes its next event, never
            # across a yield: a generator may be resumed or closed from another context (a
            # cancelled stream), where detaching a context attached here would fail.
            span = pipeline.tracer.start_span(
                f"hook.wrap_model_call.{hook.name}",
                attributes=pipeline._attributes(hook, "wrap_model_call", turn),
            )
            stream = call(request)
            try:
                while True:
                    with trace.use_span(span, end_on_exit=False):
                        try:
                            event = await anext(stream)
                        except StopAsyncIteration:
                            break
                    yield event
            except BaseException as exc:
                if not isinstance(exc, GeneratorExit | asyncio.CancelledError):
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            finally:
                close = getattr(stream, "aclose", None)
                if close is not None:
                    await close()
                span.end()

        return traced

    async def after_model(self, turn: Turn, attempt: AttemptRecord) -> None:
        for hook in self.hooks:
            if _overrides(hook, "after_model"):
                with self._span(hook, "after_model", turn):
                    await hook.after_model(turn, attempt)

    def tool_call(self, turn: Turn, call: ToolCall) -> ToolCall:
        wrapped = call
        for hook in reversed(self.hooks):
            if _overrides(hook, "wrap_tool_call"):
                inner = hook.wrap_tool_call(turn, wrapped)
                wrapped = self._traced_tool(hook, turn, inner)
        return wrapped

    def _traced_tool(self, hook: Hook, turn: Turn, call: ToolCall) -> ToolCall:
        async def traced(name: str, arguments: dict[str, Any]) -> ToolResult:
            with self._span(hook, "wrap_tool_call", turn):
                return await call(name, arguments)

        return traced

    async def after_agent(self, turn: Turn, outcome: RunOutcome) -> None:
        # Every after_agent hook runs even if an earlier one fails: settlement must happen.
        first_error: BaseException | None = None
        for hook in self.hooks:
            if _overrides(hook, "after_agent"):
                with self._span(hook, "after_agent", turn):
                    try:
                        await hook.after_agent(turn, outcome)
                    except Exception as exc:  # re-raised once the others have run
                        first_error = first_error or exc
        if first_error is not None:
            raise first_error
