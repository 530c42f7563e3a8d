"""Observability hooks: each question's trace (GenAI attributes), its log line, failover metrics.

They close the fixed stack (agents.hooks.stack), TracingHook last: after_agent hooks run in stack
order, so the trace closes and the log line is written once cost and status are final.
Text that reaches a log or a span is masked with `pii_scrub_for_logs` whatever the tenant's PII
policy says, because logs and traces are kept longer and read by more people than the chat.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from agents.contracts import AttemptRecord, ModelRequest, StreamEvent, TextDelta
from agents.pipeline import Hook, ModelCall, RunOutcome, ToolCall
from agents.providers.breakers import breaker_states
from agents.tools import ToolResult
from agents.turns.turn import Turn
from monitoring import metrics, tracing
from monitoring.logging import QueryLogRecord, query_log_emit
from monitoring.pii import pii_scrub_for_logs

MAX_LOGGED_QUESTION_CHARS = 500
_CIRCUIT_VALUES = {
    "closed": metrics.CIRCUIT_CLOSED,
    "half_open": metrics.CIRCUIT_HALF_OPEN,
    "open": metrics.CIRCUIT_OPEN,
}


def failovers_from_attempts(attempts: Sequence[AttemptRecord]) -> list[tuple[str, str]]:
    """(from, to) for each move down the failover chain.

    The chain records at least one attempt (a real call or a circuit-open skip) for every
    provider it reaches, in chain order, so each change of provider between consecutive
    attempts is one ProviderSwitched; retries of the same provider are not failovers.
    """
    return [
        (before.provider, after.provider)
        for before, after in itertools.pairwise(attempts)
        if before.provider != after.provider
    ]


def query_complexity(turn: Turn) -> str:
    """The reference's complexity tag: comparison, calculation, follow_up or simple."""
    if turn.sub_questions:
        return "comparison"
    if turn.tool_results:
        return "calculation"
    if turn.is_follow_up:
        return "follow_up"
    return "simple"


async def masked_question(turn: Turn) -> str:
    """The (standalone) question with personal data masked, computed once per run."""
    if turn.masked_question is None:
        text = turn.question[:MAX_LOGGED_QUESTION_CHARS]
        turn.masked_question = await asyncio.to_thread(pii_scrub_for_logs, text)
    return turn.masked_question


def circuit_states_publish(states: dict[str, str] | None = None) -> None:
    """Copy this process's circuit-breaker states to the rag_provider_circuit_state gauge."""
    for provider, state in (breaker_states() if states is None else states).items():
        value = _CIRCUIT_VALUES.get(state)
        if value is not None:
            metrics.CIRCUIT_STATE.labels(provider=provider).set(value)


class FailoverMetricsHook(Hook):
    """after_model / after_agent: failover counts and circuit-breaker states for Prometheus.

    Breakers live per process; the gauge is refreshed after every provider attempt (when a
    breaker can open) and at the end of every question. An open breaker whose cool-down ends
    while no question arrives keeps showing open until the next attempt: the cautious reading.
    """

    name = "failover_metrics"

    async def after_model(self, turn: Turn, attempt: AttemptRecord) -> None:
        circuit_states_publish()

    async def after_agent(self, turn: Turn, outcome: RunOutcome) -> None:
        for from_provider, to_provider in failovers_from_attempts(turn.attempts):
            metrics.PROVIDER_FAILOVERS.labels(
                from_provider=from_provider, to_provider=to_provider
            ).inc()
        circuit_states_publish()


class TimeToFirstTokenHook(Hook):
    """wrap_model_call: rag_time_to_first_token_seconds, once per question (the SLO: p95 < 2 s).

    The clock is the turn's own (`turn.timings.started`, before rate limits, retrieval and the
    budget hold) and stops at the first answer text the wrapped stream yields, so failed attempts,
    backoff and failovers before it count, as the user waits through them. The stack lists it
    just outside the answer cache and the failover chain so that it wraps both. A question that
    never gets text is not observed (its error shows in rag_queries_total).
    """

    name = "time_to_first_token"

    def __init__(self) -> None:
        self.seen = False

    def wrap_model_call(self, turn: Turn, call: ModelCall) -> ModelCall:
        async def timed(request: ModelRequest) -> AsyncIterator[StreamEvent]:
            stream = call(request)
            try:
                async for event in stream:
                    if isinstance(event, TextDelta) and event.text and not self.seen:
                        self.seen = True
                        metrics.TIME_TO_FIRST_TOKEN.observe(turn.timings.elapsed_s)
                    yield event
            finally:
                close = getattr(stream, "aclose", None)
                if close is not None:
                    await close()

        return timed


class QueryLogHook(Hook):
    """after_agent: one structured log line per question (ids, provider, tokens, cost, latency)."""

    name = "query_log"

    async def after_agent(self, turn: Turn, outcome: RunOutcome) -> None:
        final = turn.answering_attempt
        record = QueryLogRecord(
            query_id=str(turn.query_id),
            tenant=str(getattr(turn.tenant, "slug", "")),
            tenant_id=int(turn.tenant.pk),
            user_id=int(turn.user.pk),
            conversation_id=int(turn.conversation_id),
            tier=turn.tier,
            provider=final.provider if final else "none",
            model=final.model if final else "",
            input_tokens=turn.input_tokens,
            output_tokens=turn.output_tokens,
            cost_usd=turn.cost_usd,
            latency_ms=turn.latency_ms,
            cache_hit=turn.cache_hit,
            status=outcome.status,
            error_code=outcome.error_code or turn.error_code,
            attempts=len(turn.attempts),
            failovers=len(failovers_from_attempts(turn.attempts)),
            query_complexity=query_complexity(turn),
            question=await masked_question(turn),
        )
        query_log_emit(record=record)


class TracingHook(Hook):
    """The question's trace: root span attributes, a span per provider attempt and tool call.

    The root span (`rag.query`) is opened by the pipeline's first hook span (see
    monitoring.tracing); this hook names it after the tenant, user, conversation and question,
    adds a GenAI `chat <model>` client span for every provider attempt (timed from the attempt's
    own latency) and an `execute_tool <name>` span for every tool call, and ends the root with
    the reference's tags: provider, query complexity, cost and latency.
    """

    name = "tracing"

    def __init__(self) -> None:
        self.tracer = tracing.get_tracer()

    def _query_attributes(self, turn: Turn) -> dict[str, Any]:
        return {tracing.ATTR_QUERY_ID: str(turn.query_id)}

    async def before_agent(self, turn: Turn) -> None:
        tracing.query_trace_annotate(
            query_id=str(turn.query_id),
            attributes={
                tracing.ATTR_QUERY_ID: str(turn.query_id),
                tracing.ATTR_TENANT_ID: int(turn.tenant.pk),
                tracing.ATTR_CONVERSATION_ID: int(turn.conversation_id),
                tracing.TAG_USER: int(turn.user.pk),
                tracing.TAG_CONVERSATION: int(turn.conversation_id),
                tracing.GEN_AI_CONVERSATION_ID: str(turn.conversation_id),
                "user.id": str(turn.user.pk),
                "session.id": str(turn.conversation_id),
                "rag.tenant": str(getattr(turn.tenant, "slug", "")),
                "rag.user_tier": turn.tier,
                "rag.follow_up": turn.is_follow_up,
            },
            inherit=(tracing.ATTR_TENANT_ID, tracing.ATTR_CONVERSATION_ID),
        )

    async def before_model(self, turn: Turn, request: ModelRequest) -> ModelRequest:
        tracing.query_trace_annotate(
            query_id=str(turn.query_id),
            attributes={
                tracing.GEN_AI_REQUEST_MAX_TOKENS: request.max_tokens,
                tracing.GEN_AI_REQUEST_TEMPERATURE: request.temperature,
                "rag.passages": len(request.passages),
                "rag.pii_placeholders": len(turn.pii_mapping),
                "rag.chain": turn.chain_names,
            },
        )
        return request

    async def after_model(self, turn: Turn, attempt: AttemptRecord) -> None:
        root = tracing.query_trace_span(str(turn.query_id))
        parent = trace.set_span_in_context(root) if root is not None else None
        ended_ns = time.time_ns()
        attributes: dict[str, Any] = {
            **self._query_attributes(turn),
            tracing.GEN_AI_OPERATION: "chat",
            tracing.GEN_AI_SYSTEM: attempt.provider,
            tracing.GEN_AI_REQUEST_MODEL: attempt.model,
            "rag.attempt.outcome": attempt.outcome,
            tracing.TAG_LATENCY: attempt.latency_ms,
        }
        if attempt.first_token_ms is not None:
            attributes["rag.attempt.first_token_ms"] = attempt.first_token_ms
        if attempt.usage is not None:
            attributes[tracing.GEN_AI_RESPONSE_MODEL] = attempt.usage.model or attempt.model
            attributes[tracing.GEN_AI_INPUT_TOKENS] = attempt.usage.input_tokens
            attributes[tracing.GEN_AI_OUTPUT_TOKENS] = attempt.usage.output_tokens
            if attempt.usage.cached_input_tokens:
                attributes["gen_ai.usage.cache_read_input_tokens"] = (
                    attempt.usage.cached_input_tokens
                )
        error = ""
        if attempt.outcome not in ("ok", "interrupted"):
            attributes["error.type"] = attempt.outcome
            error = await asyncio.to_thread(pii_scrub_for_logs, attempt.error or attempt.outcome)
        span = self.tracer.start_span(
            f"chat {attempt.model}",
            context=parent,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=ended_ns - attempt.latency_ms * 1_000_000,
        )
        if error:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=ended_ns)

    def wrap_tool_call(self, turn: Turn, call: ToolCall) -> ToolCall:
        tracer = self.tracer
        query_attributes = self._query_attributes(turn)

        async def traced(name: str, arguments: dict[str, Any]) -> ToolResult:
            shown = await asyncio.to_thread(
                pii_scrub_for_logs, json.dumps(arguments, default=str, sort_keys=True)
            )
            with tracer.start_as_current_span(
                f"execute_tool {name}",
                attributes={
                    **query_attributes,
                    tracing.GEN_AI_OPERATION: "execute_tool",
                    tracing.GEN_AI_TOOL_NAME: name,
                    "rag.tool.arguments": shown,
                },
            ) as span:
                result = await call(name, arguments)
                span.set_attribute(
                    "rag.tool.output", await asyncio.to_thread(pii_scrub_for_logs, result.output)
                )
                if result.error:
                    span.set_attribute("error.type", str(result.error))
                    span.set_status(Status(StatusCode.ERROR, str(result.error)))
                return result

        return traced

    async def after_agent(self, turn: Turn, outcome: RunOutcome) -> None:
        query_id = str(turn.query_id)
        root = tracing.query_trace_span(query_id)
        final = turn.answering_attempt
        attributes: dict[str, Any] = {
            tracing.TAG_PROVIDER: final.provider if final else "none",
            tracing.TAG_COMPLEXITY: query_complexity(turn),
            tracing.TAG_COST: float(turn.cost_usd),
            tracing.GEN_AI_INPUT_TOKENS: turn.input_tokens,
            tracing.GEN_AI_OUTPUT_TOKENS: turn.output_tokens,
            "rag.status": outcome.status,
            "rag.attempts": len(turn.attempts),
            "rag.failovers": len(failovers_from_attempts(turn.attempts)),
            "rag.cache_hit": turn.cache_hit,
            # Masked here rather than in before_agent, so the masking never delays the answer.
            "rag.question": await masked_question(turn),
        }
        if final is not None:
            attributes[tracing.GEN_AI_SYSTEM] = final.provider
            attributes[tracing.GEN_AI_REQUEST_MODEL] = final.model
            if final.usage is not None:
                attributes[tracing.GEN_AI_RESPONSE_MODEL] = final.usage.model or final.model
        started_ns = getattr(root, "start_time", None)
        if started_ns:
            attributes[tracing.TAG_LATENCY] = (time.time_ns() - started_ns) // 1_000_000
        error_code = outcome.error_code or turn.error_code
        if error_code:
            attributes["rag.error_code"] = error_code
        failed = outcome.status == "error"
        tracing.query_trace_close(
            query_id=query_id,
            attributes=attributes,
            error=(error_code or "error") if failed else "",
        )
