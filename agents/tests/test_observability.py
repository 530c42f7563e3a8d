"""Each question leaves one JSON log line and one stored trace (hooks, provider attempts, tools),
with GenAI attributes and the reference's tags, and no personal data in either."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from asgiref.sync import async_to_sync
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents.contracts import AttemptRecord, ModelUsage
from agents.hooks.observability import (
    TracingHook,
    failovers_from_attempts,
    query_complexity,
)
from agents.models import Message
from agents.pipeline import Pipeline, RunOutcome
from agents.tests.support import ask, glueworks_ingest
from agents.tools import ToolResult
from agents.turns.turn import Turn
from monitoring import tracing
from monitoring.logging import QUERY_LOGGER, JsonFormatter
from monitoring.models import TraceSpan
from tests.fakes.llm_server import ok, overloaded

EMAIL = "jane.roe@example.com"
PHONE = "(212) 555-0147"
MEMORY = InMemorySpanExporter()
tracing.add_span_processor(SimpleSpanProcessor(MEMORY))


@pytest.fixture
def corpus(analyst):
    return glueworks_ingest(analyst.tenant)


def stored_spans(query_id: str) -> list[TraceSpan]:
    tracing.force_flush()
    return list(TraceSpan.objects.filter(query_id=query_id).order_by("start_time", "id"))


def query_records(caplog, query_id: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == QUERY_LOGGER and getattr(r, "query_id", None) == query_id
    ]


def attempt(provider: str, outcome: str = "ok") -> AttemptRecord:
    usage = ModelUsage(provider=provider, model=f"{provider}-m", input_tokens=10, output_tokens=5)
    return AttemptRecord(
        provider=provider,
        model=f"{provider}-m",
        outcome=outcome,  # type: ignore[arg-type]
        latency_ms=12,
        first_token_ms=None,
        usage=usage if outcome == "ok" else None,
    )


# --- The log line ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_question_writes_one_json_log_line_with_personal_data_masked(analyst, corpus, caplog):
    caplog.set_level(logging.INFO, logger=QUERY_LOGGER)
    body = ask(analyst, f"Send Glueworks capital expenditures 2018 to {EMAIL}").json()
    records = query_records(caplog, body["query_id"])
    assert len(records) == 1
    line = JsonFormatter().format(records[0])
    assert "\n" not in line
    logged = json.loads(line)
    assert logged["logger"] == QUERY_LOGGER
    assert logged["level"] == "INFO"
    assert logged["tenant"] == analyst.tenant.slug
    assert logged["tenant_id"] == analyst.tenant.pk
    assert logged["user_id"] == analyst.user.pk
    assert logged["conversation_id"] == body["conversation"]
    assert logged["provider"] == "offline"
    assert logged["model"] == body["model"]
    assert logged["input_tokens"] == body["tokens"]["input"] > 0
    assert logged["output_tokens"] == body["tokens"]["output"] > 0
    assert logged["total_tokens"] == logged["input_tokens"] + logged["output_tokens"]
    assert logged["cost_usd"] == body["cost_usd"]
    assert logged["latency_ms"] >= 0
    assert logged["cache_hit"] is False
    assert logged["status"] == "ok"
    assert logged["query_complexity"] == "simple"
    assert "<EMAIL_1>" in logged["question"]
    assert EMAIL not in line
    assert analyst.user.email not in line


@pytest.mark.django_db
def test_a_failed_question_is_logged_as_a_warning_with_its_error_code(analyst, corpus, caplog):
    caplog.set_level(logging.INFO, logger=QUERY_LOGGER)
    analyst.tenant.pii_policy = "block"
    analyst.tenant.save(update_fields=["pii_policy"])
    body = ask(analyst, f"Glueworks capital expenditures, reply to {EMAIL}").json()
    assert body["error"]["code"] == "pii_blocked"
    query_id = str(Message.objects.get(pk=body["message_id"]).query_id)
    [record] = query_records(caplog, query_id)
    assert record.levelno == logging.WARNING
    assert record.status == "error"  # type: ignore[attr-defined]
    assert record.error_code == "pii_blocked"  # type: ignore[attr-defined]
    assert EMAIL not in JsonFormatter().format(record)


# --- The trace ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_question_is_stored_as_one_span_tree_with_genai_attributes(analyst, corpus):
    body = ask(analyst, "What were Glueworks' capital expenditures in 2018?").json()
    spans = stored_spans(body["query_id"])
    [root] = [s for s in spans if s.is_root]
    assert root.name == "rag.query"
    assert {s.trace_id for s in spans} == {root.trace_id}
    ids = {s.span_id for s in spans}
    assert all(s.parent_span_id in ids for s in spans if not s.is_root)
    assert {s.tenant_id for s in spans} == {analyst.tenant.pk}
    assert {s.conversation_id for s in spans} == {body["conversation"]}

    names = {s.name for s in spans}
    for hook_span in (
        "hook.before_agent.tenant_guard",
        "hook.before_model.pii_mask",
        "hook.before_model.context_trim",
        "hook.wrap_model_call.failover",
        "hook.after_model.usage",
        "hook.after_agent.metrics",
        "hook.after_agent.query_log",
        "hook.after_agent.tracing",
    ):
        assert hook_span in names, hook_span

    [chat] = [s for s in spans if s.name.startswith("chat ")]
    assert chat.kind == "client"
    assert chat.parent_span_id == root.span_id
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.system"] == "offline"
    assert chat.attributes["gen_ai.request.model"] == body["model"]
    assert chat.attributes["gen_ai.usage.input_tokens"] == body["tokens"]["input"]
    assert chat.attributes["gen_ai.usage.output_tokens"] == body["tokens"]["output"]

    tags = root.attributes
    assert root.status == "ok"
    assert tags["user_id"] == analyst.user.pk
    assert tags["conversation_id"] == body["conversation"]
    assert tags["gen_ai.conversation.id"] == str(body["conversation"])
    assert tags["provider"] == "offline"
    assert tags["query_complexity"] == "simple"
    assert tags["cost_usd"] == pytest.approx(float(body["cost_usd"]))
    assert tags["latency_ms"] >= 0
    assert tags["gen_ai.system"] == "offline"
    assert tags["gen_ai.usage.input_tokens"] == body["tokens"]["input"]
    assert tags["rag.user_tier"] == "pro"
    assert tags["rag.passages"] >= 1
    # The root spans the whole question: every other span lies within it (to the millisecond).
    assert all(s.start_time >= root.start_time for s in spans)


@pytest.mark.django_db
def test_traces_keep_no_personal_data_from_the_question(analyst, corpus):
    body = ask(analyst, f"Glueworks capital expenditures 2018? Call {PHONE} or mail {EMAIL}").json()
    spans = stored_spans(body["query_id"])
    assert spans
    stored = json.dumps([[s.name, s.attributes, s.events, s.status_message] for s in spans])
    assert EMAIL not in stored
    assert "555-0147" not in stored
    [root] = [s for s in spans if s.is_root]
    assert "<EMAIL_1>" in root.attributes["rag.question"]
    assert "<PHONE_1>" in root.attributes["rag.question"]


@pytest.mark.django_db
def test_failed_attempts_are_error_spans_and_the_answer_names_the_provider_that_gave_it(
    analyst, corpus, llm_env
):
    llm_env.script(overloaded(), overloaded(), overloaded(), api="anthropic")
    llm_env.script(ok("Capital expenditures were $1,577 million [1]."), api="openai")
    question = f"Glueworks capital expenditures 2018 (ref {uuid.uuid4().hex[:8]})"
    body = ask(analyst, question).json()
    assert body["provider"] == "openai"
    spans = stored_spans(body["query_id"])
    chats = [s for s in spans if s.name.startswith("chat ")]
    assert [s.attributes["gen_ai.system"] for s in chats] == ["anthropic"] * 3 + ["openai"]
    assert all(s.status == "error" for s in chats[:3])
    assert all(s.attributes["error.type"] == "error" for s in chats[:3])
    assert chats[3].status == "unset"
    assert chats[3].attributes["gen_ai.usage.output_tokens"] > 0
    [root] = [s for s in spans if s.is_root]
    assert root.attributes["provider"] == "openai"
    assert root.attributes["rag.failovers"] == 1
    assert root.attributes["rag.attempts"] == 4


@pytest.mark.django_db
def test_a_tool_call_gets_a_span_inside_the_question_trace_with_masked_arguments(analyst):
    hooks = Pipeline([TracingHook()])
    ctx = Turn(
        tenant=analyst.tenant,
        user=analyst.user,
        membership=analyst.membership,
        conversation_id=7,
        question="growth?",
    )

    async def lookup(name, arguments):
        return ToolResult(name=name, arguments=arguments, output="ok")

    async def run():
        await hooks.before_agent(ctx)
        await hooks.tool_call(ctx, lookup)("account_lookup", {"email": EMAIL})
        await hooks.after_agent(ctx, RunOutcome(status="ok", answer=""))

    MEMORY.clear()
    async_to_sync(run)()
    spans = [
        s
        for s in MEMORY.get_finished_spans()
        if s.attributes.get("rag.query_id") == str(ctx.query_id)
    ]
    [tool] = [s for s in spans if s.name == "execute_tool account_lookup"]
    [root] = [s for s in spans if s.name == "rag.query"]
    assert tool.context.trace_id == root.context.trace_id
    assert tool.attributes["gen_ai.tool.name"] == "account_lookup"
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert EMAIL not in tool.attributes["rag.tool.arguments"]
    assert "<EMAIL_1>" in tool.attributes["rag.tool.arguments"]
    assert tool.attributes["rag.tenant_id"] == analyst.tenant.pk


# --- Helpers the hooks are built on ---------------------------------------------------------


def test_failovers_are_changes_of_provider_not_retries():
    attempts = [
        attempt("anthropic", "error"),
        attempt("anthropic", "error"),
        attempt("openai", "circuit_open"),
        attempt("offline"),
    ]
    assert failovers_from_attempts(attempts) == [("anthropic", "openai"), ("openai", "offline")]
    assert failovers_from_attempts([attempt("openai")]) == []


def test_query_complexity_names_comparisons_calculations_and_follow_ups():
    ctx = Turn(tenant=None, user=None, membership=None, conversation_id=1, question="q")
    assert query_complexity(ctx) == "simple"
    ctx.is_follow_up = True
    assert query_complexity(ctx) == "follow_up"
    ctx.tool_results.append(ToolResult(name="growth_percent", arguments={}, output="10%"))
    assert query_complexity(ctx) == "calculation"
    ctx.sub_questions = ["Glueworks 2018", "Tapeline 2018"]
    assert query_complexity(ctx) == "comparison"
