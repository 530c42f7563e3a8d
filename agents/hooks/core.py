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
from agents.contracts import AttemptRecord, ChatMessage, ModelRequest, StreamEvent
from agents.pipeline import Hook, ModelCall, RunOutcome, ToolCall
from agents.providers.chains import chain_build, chain_resolve, provider_settings_from_django
from agents.tokens import count_request_tokens
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


class ContextTrimHook(Hook):
    """before_model: drop the lowest-ranked passages until the prompt fits the context budget."""

    name = "context_trim"

    async def before_model(self, turn: Turn, request: ModelRequest) -> ModelRequest:
        if request.purpose != "answer":
            return request
        budget = int(settings.LLM_CONTEXT_TOKENS) - request.max_tokens

        def size(req: ModelRequest) -> int:
            # The whole request as a provider counts it: framing and tool definitions included.
            return count_request_tokens("openai", "gpt-4o", req)

        trimmed = request
        tokens = size(trimmed)
        while tokens > budget and trimmed.passages:
            dropped = trimmed.passages[-1]
            passages = trimmed.passages[:-1]
            last = trimmed.messages[-1]
            marker = f"Source {dropped.number} ("
            content = last.content
            if marker in content:
                start = content.index(marker)
                end = content.find("\n\nSource ", start + 1)
                if end == -1:
                    end = content.find("\n------", start)
                content = content[:start] + (content[end + 2 :] if end != -1 else "")
            trimmed = replace(
                trimmed,
                passages=passages,
                messages=(*trimmed.messages[:-1], ChatMessage(role="user", content=content)),
            )
            tokens = size(trimmed)
        turn.estimated_input_tokens = tokens
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
