"""The six hook points run in order, each can stop the run with a clear error, and each is traced;
the hook stack is fixed in code, and settings may add to it but never remove billing, tenancy or
tracing."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.test import override_settings
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from accounts.errors import ApplicationError
from agents.pipeline import Hook
from agents.services import conversation_create
from agents.tools import ToolResult
from agents.turns import answer_turn_collect
from agents.turns.turn import Turn
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


async def tool_pipeline(ctx: Turn) -> ToolResult:
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
    with override_settings(AGENT_HOOKS=["agents.tests.test_pipeline.Recorder"]):
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
        override_settings(AGENT_HOOKS=["agents.tests.test_pipeline.StopBeforeAgent"]),
        pytest.raises(Stop),
    ):
        run_turn(analyst)
    assert not Message.objects.exists()


@pytest.mark.parametrize("hook", ["StopBeforeModel", "StopAfterModel"])
def test_later_hooks_stop_the_run_with_a_clear_error_frame(analyst, hook):
    with override_settings(AGENT_HOOKS=[f"agents.tests.test_pipeline.{hook}"]):
        result = run_turn(analyst)
    assert result["error"]["code"] == "stopped_by_hook"
    assert "after_agent" in CALLS  # settlement still runs


# --- The fixed stack --------------------------------------------------------------------------


def test_the_hook_stack_runs_in_its_designed_order():
    from agents.hooks import stack

    assert [hook.__name__ for hook in stack.HOOK_STACK] == [
        # Tenancy and limits before any work, then the prompt is shaped before billing prices it.
        "TenantGuardHook",
        "MetricsHook",
        "DrainHook",
        "RateLimitHook",
        "ContextTrimHook",
        "PiiMaskHook",
        "BudgetHook",
        # The first-token clock wraps the cache, which sits just outside the provider chain;
        # observability last, tracing the very last.
        "TimeToFirstTokenHook",
        "AnswerCacheHook",
        "FailoverHook",
        "UsageHook",
        "ToolTimeoutHook",
        "FailoverMetricsHook",
        "QueryLogHook",
        "TracingHook",
    ]


def test_settings_add_hooks_inside_billing_and_before_the_provider_chain(settings):
    from agents.hooks import stack

    settings.AGENT_HOOKS = ["agents.tests.test_pipeline.Recorder"]
    names = [hook.__name__ for hook in stack.hook_classes()]
    assert names.index("BudgetHook") < names.index("Recorder") < names.index("AnswerCacheHook")
    assert names[-1] == "TracingHook"


@pytest.mark.parametrize(
    "path",
    [
        "agents.hooks.BudgetHook",
        "agents.hooks.RateLimitHook",
        "agents.hooks.TenantGuardHook",
        "agents.hooks.TracingHook",
    ],
)
def test_settings_cannot_list_a_hook_of_the_fixed_stack_again(settings, path):
    from django.core.exceptions import ImproperlyConfigured

    from agents.hooks import stack

    settings.AGENT_HOOKS = [path]
    with pytest.raises(ImproperlyConfigured, match="fixed hook stack"):
        stack.hook_classes()


def test_settings_cannot_remove_billing_from_a_turn(analyst):
    from agents.models import Message
    from billing.models import LedgerEntry, Reservation

    # The old way to drop BudgetHook was to list a stack without it; now settings only add.
    with override_settings(AGENT_HOOKS=["agents.tests.test_pipeline.Recorder"]):
        result = run_turn(analyst)
    assert result["error"] is None
    kinds = list(
        LedgerEntry.objects.filter(query_id=result["query_id"]).values_list("kind", flat=True)
    )
    assert "model" in kinds
    assert kinds[-1] == "query"
    assert Reservation.objects.get(query_id=result["query_id"]).status == "settled"
    saved = Message.objects.get(query_id=result["query_id"], role="assistant")
    assert (
        saved.cost_usd
        == LedgerEntry.objects.get(query_id=result["query_id"], kind="query").cost_usd
    )


def test_an_empty_setting_still_runs_tenancy_billing_and_tracing(analyst):
    from billing.models import LedgerEntry

    with override_settings(AGENT_HOOKS=[]):
        result = run_turn(analyst)
    assert result["error"] is None
    names = {span.name for span in EXPORTER.get_finished_spans()}
    for hook in ("tenant_guard", "rate_limit", "budget", "tracing"):
        assert any(name.endswith(f".{hook}") for name in names), hook
    assert LedgerEntry.objects.filter(query_id=result["query_id"], kind="query").exists()


class LedgerWitness(Hook):
    """Notes, as each attempt's after_model runs, the ledger rows its query has by then."""

    name = "ledger_witness"
    seen: list[tuple[str, list[str]]] = []

    async def after_model(self, ctx, attempt):
        from asgiref.sync import sync_to_async

        from billing.models import LedgerEntry

        rows = await sync_to_async(list)(
            LedgerEntry.objects.filter(query_id=ctx.query_id)
            .order_by("id")
            .values_list("provider", flat=True)
        )
        LedgerWitness.seen.append((attempt.provider, rows))


def test_each_attempt_is_on_the_ledger_when_its_after_model_runs(analyst):
    LedgerWitness.seen.clear()
    with override_settings(AGENT_HOOKS=["agents.tests.test_pipeline.LedgerWitness"]):
        result = run_turn(analyst)
    assert result["error"] is None
    # The embedding row (written with the refined hold), then the attempt's own row.
    assert LedgerWitness.seen == [("offline", ["local", "offline"])]
