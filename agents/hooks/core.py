"""The turn's own hooks: tenant guard, PII masking, context trim, the failover chain, token
usage, tool timeouts and query metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from django.conf import settings

from accounts.errors import TenantSuspended
from agents.contracts import (
    AttemptRecord,
    ChatMessage,
    ContextPassage,
    ModelRequest,
    StreamEvent,
)
from agents.engines.citation import SOURCES_SEPARATOR, build_request, render_source
from agents.pipeline import Hook, ModelCall, RunOutcome, ToolCall
from agents.providers.chains import chain_build, chain_resolve, provider_settings_from_django
from agents.tokens import count_request_tokens, passage_tokens
from agents.tools import ToolResult
from agents.turns.turn import Turn
from monitoring import metrics
from monitoring.pii import PiiPolicy, pii_enforce


class TenantGuardHook(Hook):
    """before_agent: a suspended tenant never reaches a model (status may change mid-session)."""

    name = "tenant_guard"

    async def before_agent(self, turn: Turn) -> None:
        if turn.tenant.status != "active":
            raise TenantSuspended()


class PiiMaskHook(Hook):
    """before_model: mask personal data before any text reaches a provider (tenant policy)."""

    name = "pii_mask"

    async def before_model(self, turn: Turn, request: ModelRequest) -> ModelRequest:
        policy = PiiPolicy(turn.tenant.pii_policy)
        if policy == PiiPolicy.OFF:
            return request

        def mask() -> tuple[list[ChatMessage], str, dict[str, str]]:
            # Every message in one worker-thread call: a hop per message cost more than masking
            # the (mostly cached) text.
            mapping = dict(turn.pii_mapping)
            messages = []
            for message in request.messages:
                result = pii_enforce(message.content, policy=policy, mapping=mapping)
                mapping = dict(result.mapping)
                messages.append(ChatMessage(role=message.role, content=result.text))
            question = pii_enforce(request.question, policy=policy, mapping=mapping)
            return messages, question.text, dict(question.mapping)

        messages, question, turn.pii_mapping = await asyncio.to_thread(mask)
        return replace(request, messages=tuple(messages), question=question)


ChainModels = tuple[tuple[str, str], ...]


def context_budget(models: ChainModels, max_tokens: int) -> int:
    """The prompt budget of a chain: the smallest context its models are given
    (LLM_CONTEXT_TOKENS, lowered per model by LLM_CONTEXT_TOKENS_BY_MODEL) less the answer's
    max_tokens, so whichever model answers, the prompt and the answer fit."""
    ceiling = int(settings.LLM_CONTEXT_TOKENS)
    per_model = settings.LLM_CONTEXT_TOKENS_BY_MODEL
    return min(min(ceiling, per_model.get(model, ceiling)) for _, model in models) - max_tokens


def _counts(request: ModelRequest, models: ChainModels) -> dict[tuple[str, str], int]:
    # The whole request as each provider counts it: framing and tool definitions included.
    return {
        (provider, model): count_request_tokens(provider, model, request)
        for provider, model in models
    }


def _with_passages(request: ModelRequest, passages: tuple[ContextPassage, ...]) -> ModelRequest:
    """The request rebuilt by the prompt builder that made it, from these passages only."""
    built = build_request(
        question=request.question,
        passages=passages,
        history=request.messages[:-1],
        max_tokens=request.max_tokens,
        tools=request.tools,
    )
    return replace(request, system=built.system, messages=built.messages, passages=passages)


def _estimated_keep(request: ModelRequest, counts: dict[tuple[str, str], int], budget: int) -> int:
    """How many passages fit by taking each dropped passage's own count off the whole one."""
    totals = dict(counts)
    keep = len(request.passages)
    while keep and max(totals.values()) > budget:
        keep -= 1
        passage = request.passages[keep]
        rendered = SOURCES_SEPARATOR + render_source(passage)
        for provider, model in totals:
            totals[(provider, model)] -= passage_tokens(
                provider, model, text=passage.text, rendered=rendered
            )
    return keep


def context_fit(
    request: ModelRequest, models: ChainModels, budget: int
) -> tuple[ModelRequest, dict[tuple[str, str], int]]:
    """The request with the most top-ranked passages whose largest count over the chain's models
    fits `budget` (all of them when it already fits), and its count per model.

    The per-passage estimate picks where to cut without counting the whole prompt once per
    dropped passage; whole-prompt counts then settle the exact cut, moving from the estimate one
    passage at a time (usually checking one passage more and keeping the estimate)."""
    counts = _counts(request, models)
    if max(counts.values()) <= budget:
        return request, counts
    keep = _estimated_keep(request, counts, budget)
    fitted = _with_passages(request, request.passages[:keep])
    counts = _counts(fitted, models)
    if max(counts.values()) > budget:
        while keep and max(counts.values()) > budget:
            keep -= 1
            fitted = _with_passages(request, request.passages[:keep])
            counts = _counts(fitted, models)
        return fitted, counts
    # The next passage up, unless it is the last: the whole request was counted and did not fit.
    while keep + 1 < len(request.passages):
        larger = _with_passages(request, request.passages[: keep + 1])
        larger_counts = _counts(larger, models)
        if max(larger_counts.values()) > budget:
            break
        keep, fitted, counts = keep + 1, larger, larger_counts
    return fitted, counts


class ContextTrimHook(Hook):
    """before_model: drop the lowest-ranked passages until the prompt fits every model of the
    turn's chain, each counted with its own tokenizer, and rebuild the prompt from the passages
    kept. It runs before PII masking, so the rebuilt prompt is masked like any other."""

    name = "context_trim"

    async def before_model(self, turn: Turn, request: ModelRequest) -> ModelRequest:
        if request.purpose != "answer":
            return request
        models = turn.chain_models
        trimmed, counts = context_fit(request, models, context_budget(models, request.max_tokens))
        # The estimate the usage metrics compare with the bill: the model expected to answer.
        turn.estimated_input_tokens = counts[models[0]]
        turn.passages = trimmed.passages
        return trimmed


class FailoverHook(Hook):
    """wrap_model_call: the turn's resolved chain with retries, circuit breakers and failover.
    Each attempt, as it ends, is counted and reported to the turn (every hook's after_model)."""

    name = "failover"

    def wrap_model_call(self, turn: Turn, call: ModelCall) -> ModelCall:
        async def on_attempt(record: AttemptRecord) -> None:
            metrics.PROVIDER_ATTEMPTS.labels(provider=record.provider, outcome=record.outcome).inc()
            await turn.attempt_ended(record)

        provider_settings = provider_settings_from_django()
        resolved = turn.chain or chain_resolve(turn.tier, provider_settings)
        chain = chain_build(resolved, provider_settings, on_attempt=on_attempt)

        async def stream(request: ModelRequest) -> AsyncIterator[StreamEvent]:
            # Closing this wrapper early (a stop, a drain) closes the chain now, not at garbage
            # collection, so the cut attempt's usage is recorded before the turn is saved.
            async with contextlib.aclosing(chain.stream(request)) as events:
                async for event in events:
                    yield event

        return stream


class UsageHook(Hook):
    """after_model: count tokens and record the estimate's error per attempt."""

    name = "usage"

    async def after_model(self, turn: Turn, attempt: AttemptRecord) -> None:
        usage = attempt.usage
        if usage is None:
            return
        metrics.TOKENS.labels(provider=usage.provider, type="input").inc(usage.input_tokens)
        metrics.TOKENS.labels(provider=usage.provider, type="output").inc(usage.output_tokens)
        if usage.cached_input_tokens:
            metrics.TOKENS.labels(provider=usage.provider, type="cached_input").inc(
                usage.cached_input_tokens
            )
        if attempt.outcome == "ok" and turn.estimated_input_tokens and usage.input_tokens:
            metrics.token_estimate_error_observe(
                provider=usage.provider,
                estimated=turn.estimated_input_tokens,
                actual=usage.input_tokens,
            )


class ToolTimeoutHook(Hook):
    """wrap_tool_call: a tool that takes too long returns an error instead of hanging the answer."""

    name = "tool_timeout"

    def wrap_tool_call(self, turn: Turn, call: ToolCall) -> ToolCall:
        timeout = float(settings.AGENT_TOOL_TIMEOUT_SECONDS)

        async def guarded(name: str, arguments: dict[str, Any]) -> ToolResult:
            try:
                result = await asyncio.wait_for(call(name, arguments), timeout=timeout)
            except TimeoutError:
                result = ToolResult(
                    name=name,
                    arguments=arguments,
                    output="Error: the tool timed out.",
                    error="timeout",
                )
            return result

        return guarded


class MetricsHook(Hook):
    """after_agent: query counters and latency by provider, tier and status."""

    name = "metrics"

    async def before_agent(self, turn: Turn) -> None:
        metrics.ACTIVE_CONVERSATIONS.inc()

    async def after_agent(self, turn: Turn, outcome: RunOutcome) -> None:
        metrics.ACTIVE_CONVERSATIONS.dec()
        answering = turn.answering_attempt
        provider = answering.provider if answering else "none"
        metrics.QUERIES.labels(provider=provider, user_tier=turn.tier, status=outcome.status).inc()
        metrics.QUERY_LATENCY.labels(provider=provider).observe(turn.timings.elapsed_s)
        if turn.total_tokens:
            metrics.TOKENS_PER_QUERY.labels(provider=provider).observe(turn.total_tokens)
        if turn.cost_usd:
            metrics.COST_USD.labels(provider=provider, user_tier=turn.tier).inc(
                float(turn.cost_usd)
            )
