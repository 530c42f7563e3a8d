"""The six hooks run in order, each can stop the run with a clear error, and each is traced."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.test import override_settings
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from accounts.errors import ApplicationError
from agents.pipeline import Hook, RunContext
from agents.services import answer_turn_collect, conversation_create
from agents.tools import ToolResult
from monitoring.tracing import add_span_processor

pytestmark = pytest.mark.django_db

CALLS: list[str] = []
EXPORTER = InMemorySpanExporter()
add_span_processor(SimpleSpanProcessor(EXPORTER))


class Stop(ApplicationError):
    code = "stopped_by_hook"
    status_code = 418


class Recorder(Hook):
    name = "recorder"
    stop_at: str | None = None

    def _mark(self, point: str) -> None:
        CALLS.append(point)
        if point == self.stop_at:
            raise Stop(f"stopped at {point}")

    async def before_agent(self, ctx):
        self._mark("before_agent")

    async def before_model(self, ctx, request):
        self._mark("before_model")
        return request

    def wrap_model_call(self, ctx, call):
        async def wrapped(request):
            self._mark("wrap_model_call")
            # Exercise the tool hook the way an engine step would.
            await tool_pipeline(ctx)
            async for event in call(request):
                yield event

        return wrapped

    async def after_model(self, ctx, attempt):
        self._mark("after_model")

    def wrap_tool_call(self, ctx, call):
        async def wrapped(name, arguments):
            self._mark("wrap_tool_call")
            return await call(name, arguments)

        return wrapped

    async def after_agent(self, ctx, outcome):
        self._mark("after_agent")


async def tool_pipeline(ctx: RunContext) -> ToolResult:
    from agents.pipeline import Pipeline
    from agents.tools import tool_call

    async def run(name, arguments):
        return tool_call(name, arguments)

    pipeline = Pipeline.from_settings()
    return await pipeline.tool_call(ctx, run)("growth_percent", {"old": 100, "new": 110})


class StopBeforeAgent(Recorder):
    stop_at = "before_agent"


class StopBeforeModel(Recorder):
    stop_at = "before_model"


class StopAfterModel(Recorder):
    stop_at = "after_model"


STACK = [
    "agents.hooks.TenantGuardHook",
    "agents.hooks.MetricsHook",
    "agents.hooks.PiiMaskHook",
    "agents.hooks.ContextTrimHook",
]
TAIL = ["agents.hooks.FailoverHook", "agents.hooks.UsageHook", "agents.hooks.ToolTimeoutHook"]


def run_turn(member):
    conversation = conversation_create(tenant=member.tenant, user=member.user)
    return async_to_sync(answer_turn_collect)(
        tenant=member.tenant,
        user=member.user,
        membership=member.membership,
        conversation_id=conversation.pk,
        question="What were net sales?",
    )


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()
    EXPORTER.clear()


def test_hooks_run_in_order_and_each_is_traced(analyst):
    hooks = [*STACK, "agents.tests.test_pipeline.Recorder", *TAIL]
    with override_settings(AGENT_HOOKS=hooks):
        result = run_turn(analyst)
    assert result["error"] is None
    assert CALLS == [
        "before_agent",
        "before_model",
        "wrap_model_call",
        "wrap_tool_call",
        "after_model",
        "after_agent",
    ]
    names = {span.name for span in EXPORTER.get_finished_spans()}
    for point in (
        "before_agent",
        "before_model",
        "wrap_model_call",
        "after_model",
        "wrap_tool_call",
        "after_agent",
    ):
        assert f"hook.{point}.recorder" in names
    assert "hook.wrap_model_call.failover" in names


def test_before_agent_can_refuse_the_run_before_anything_is_saved(analyst):
    from agents.models import Message

    with (
        override_settings(AGENT_HOOKS=["agents.tests.test_pipeline.StopBeforeAgent", *TAIL]),
        pytest.raises(Stop),
    ):
        run_turn(analyst)
    assert not Message.objects.exists()


@pytest.mark.parametrize("hook", ["StopBeforeModel", "StopAfterModel"])
def test_later_hooks_stop_the_run_with_a_clear_error_frame(analyst, hook):
    with override_settings(AGENT_HOOKS=[*STACK, f"agents.tests.test_pipeline.{hook}", *TAIL]):
        result = run_turn(analyst)
    assert result["error"]["code"] == "stopped_by_hook"
    assert "after_agent" in CALLS  # settlement still runs
