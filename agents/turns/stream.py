"""The turn's middle steps: the standalone question, the passages (the answer cache's or
retrieval's), the model call through the hooks with its tool rounds, then citations and the
figure check, as frames; and, on every path, the saved turn and the after_agent hooks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from typing import Any, Literal

from asgiref.sync import sync_to_async
from django.conf import settings

from accounts.errors import ApplicationError, ProviderUnavailable, ServiceRestarting
from agents.contracts import (
    ContextPassage,
    ModelRequest,
    ProviderSwitched,
    StreamEvent,
    TextDelta,
    ToolExchange,
    ToolRound,
    ToolUse,
)
from agents.engines.citation import build_request, citations_for, passages_from_dicts
from agents.engines.condense import condense_heuristic, condense_request, condensed_text
from agents.models import Message
from agents.pipeline import ModelCall, RunOutcome, ToolCall
from agents.providers.base import ProviderError
from agents.tools import ToolResult, tool_call, tool_definitions, tool_rounds_allowed
from agents.turns.frames import (
    CitationFrame,
    EndFrame,
    StartFrame,
    TokenFrame,
    ToolFrame,
    TurnFrame,
    UsageFrame,
    VerificationFrame,
    error_frame,
)
from agents.turns.persist import TurnRecord, turn_save_shielded
from agents.turns.prepare import PreparedTurn
from agents.turns.retrieve import Retrieved, turn_retrieve
from agents.turns.turn import Turn
from agents.verification import turn_figures_verify, verification_summary
from monitoring.metrics import answer_figures_count
from monitoring.pii import pii_restore

logger = logging.getLogger(__name__)

# The error a turn ends with when the model answered but the answer could not be stored.
TURN_NOT_SAVED = "turn_not_saved"


class _PlaceholderRestorer:
    """Restores PII placeholders in a token stream, holding back a possible partial placeholder."""

    def __init__(self, mapping: dict[str, str]):
        self.mapping = mapping
        self.pending = ""

    def feed(self, text: str) -> str:
        if not self.mapping:
            return text
        self.pending += text
        cut = self.pending.rfind("<")
        if cut != -1 and ">" not in self.pending[cut:] and len(self.pending) - cut < 40:
            ready, self.pending = self.pending[:cut], self.pending[cut:]
        else:
            ready, self.pending = self.pending, ""
        return pii_restore(ready, self.mapping)

    def flush(self) -> str:
        rest, self.pending = self.pending, ""
        return pii_restore(rest, self.mapping)


async def _no_model(request: ModelRequest) -> AsyncIterator[StreamEvent]:
    raise ProviderUnavailable("No model provider is configured in the hook pipeline.")
    yield  # pragma: no cover - makes this an async generator


async def _run_tool(name: str, arguments: dict[str, Any]) -> ToolResult:
    """The innermost tool call, wrapped by the wrap_tool_call hooks (timeouts, tracing)."""
    return await asyncio.to_thread(tool_call, name, arguments)


async def _answer_tool_use(turn: Turn, run_tool: ToolCall, use: ToolUse) -> ToolExchange:
    """Run one tool call the model asked for; arguments it could not write are an error result."""
    if use.arguments_error:
        result = ToolResult(
            name=use.name,
            arguments={},
            output=f"Error: {use.arguments_error}",
            error=use.arguments_error,
        )
    else:
        result = await run_tool(use.name, use.arguments)
    turn.tool_results.append(result)
    return ToolExchange(
        call_id=use.call_id,
        name=use.name,
        arguments=use.arguments,
        output=result.output,
        is_error=not result.ok,
    )


def _tool_frame(result: ToolResult) -> ToolFrame:
    return ToolFrame(
        name=result.name, arguments=result.arguments, output=result.output, error=result.error
    )


async def _condense(prepared: PreparedTurn, call: ModelCall) -> str:
    """The follow-up as a standalone question: the chain's model rewrites it (masked, billed,
    with failover); offline, or when no model could, the heuristic does."""
    turn, pipeline = prepared.turn, prepared.pipeline
    question, previous = prepared.question, prepared.previous_questions
    if turn.offline_only:
        return condense_heuristic(question, previous)
    with pipeline.tracer.start_as_current_span(
        "condense_question", attributes={"rag.query_id": str(turn.query_id)}
    ) as span:
        request = await pipeline.before_model(turn, condense_request(question, prepared.history))
        parts: list[str] = []
        try:
            async for event in call(request):
                if isinstance(event, TextDelta):
                    parts.append(event.text)
        except (ProviderError, ProviderUnavailable) as exc:
            span.set_attribute("rag.condense.fallback", type(exc).__name__)
            parts = []
        answered_by = turn.attempts[-1] if turn.attempts else None
        if not parts or answered_by is None or answered_by.provider == "offline":
            # The offline provider cannot rewrite; what it said is not a question.
            span.set_attribute("rag.condense.method", "heuristic")
            return condense_heuristic(question, previous)
        span.set_attribute("rag.condense.method", "model")
        return condensed_text(pii_restore("".join(parts), turn.pii_mapping), question)


async def _standalone_question(prepared: PreparedTurn, record: TurnRecord, call: ModelCall) -> str:
    """Record the user's message, and condense a follow-up into the question the turn answers.
    A cache hit's question (never a follow-up) is saved with its answer, in one commit."""
    turn, question = prepared.turn, prepared.question
    if turn.cache.passages is not None and not turn.is_follow_up:
        record.question_unsaved = question
        return question
    record.user_message = await sync_to_async(Message.objects.create)(
        tenant=turn.tenant,
        conversation=prepared.conversation,
        query_id=turn.query_id,
        role=Message.Role.USER,
        content=question,
    )
    if not turn.is_follow_up:
        return question
    standalone = await _condense(prepared, call)
    turn.question = standalone
    if standalone != question:
        record.user_message.standalone_question = standalone
        await sync_to_async(record.user_message.save)(update_fields=["standalone_question"])
    return standalone


async def _retrieve(prepared: PreparedTurn, standalone: str) -> Retrieved:
    """The answer cache's passages when it found this question before any work (no retrieval),
    else a search."""
    turn = prepared.turn
    if turn.cache.passages is not None:
        return Retrieved(
            passages=passages_from_dicts(turn.cache.passages),
            scope={"automatic": True, "description": "Answered from the answer cache."},
        )
    with prepared.pipeline.tracer.start_as_current_span(
        "retrieval", attributes={"rag.query_id": str(turn.query_id)}
    ) as span:
        retrieved = await sync_to_async(turn_retrieve)(
            tenant=turn.tenant,
            question=standalone,
            conversation_scope=prepared.conversation.scope,
        )
        span.set_attribute("rag.chunks", len(retrieved.passages))
    return retrieved


async def _request(prepared: PreparedTurn, standalone: str, retrieved: Retrieved) -> ModelRequest:
    """The answer's request; unless the cache answers, the before_model hooks shape it (masking,
    trimming, pricing the prompt)."""
    turn = prepared.turn
    request = build_request(
        question=standalone,
        passages=retrieved.passages,
        history=tuple(prepared.history),
        max_tokens=settings.LLM_MAX_TOKENS,
        tools=tool_definitions() if tool_rounds_allowed() else (),
    )
    turn.passages = request.passages
    if turn.cache.passages is None:
        request = await prepared.pipeline.before_model(turn, request)
    return request


async def _rounds(
    prepared: PreparedTurn, request: ModelRequest, call: ModelCall, failovers: list[dict[str, str]]
) -> AsyncGenerator[TurnFrame, None]:
    """The model's answer, with up to tool_rounds_allowed() rounds of tool calls, as token and
    tool frames; each attempt is reported to the hooks by the chain as it ends."""
    turn = prepared.turn
    run_tool = prepared.pipeline.tool_call(turn, _run_tool)
    restorer = _PlaceholderRestorer(turn.pii_mapping)
    max_rounds = tool_rounds_allowed()
    rounds: list[ToolRound] = []
    shown_tools = 0
    while True:
        # The last round may still see the tools described but must answer in text.
        choice: Literal["auto", "none"] = "none" if len(rounds) >= max_rounds else "auto"
        round_request = replace(request, tool_rounds=tuple(rounds), tool_choice=choice)
        round_text: list[str] = []
        uses: list[ToolUse] = []
        # Closed with this step (a stop, a closed stream), so the cut attempt is on the ledger
        # before the turn is saved.
        async with contextlib.aclosing(call(round_request)) as events:  # type: ignore[type-var]
            async for event in events:
                if isinstance(event, TextDelta):
                    round_text.append(event.text)
                    text = restorer.feed(event.text)
                    if text:
                        yield TokenFrame(text)
                elif isinstance(event, ToolUse):
                    uses.append(event)
                elif isinstance(event, ProviderSwitched):
                    failovers.append(
                        {
                            "from": event.from_provider,
                            "to": event.to_provider,
                            "reason": event.reason,
                        }
                    )
        if choice == "none":
            uses = []  # a model ignoring tool_choice "none" gets no further round
        exchanges = [await _answer_tool_use(turn, run_tool, use) for use in uses]
        # Calculations the cache replayed are in turn.tool_results too; show each once.
        for result in turn.tool_results[shown_tools:]:
            yield _tool_frame(result)
        shown_tools = len(turn.tool_results)
        if not uses:
            break
        rounds.append(ToolRound(text="".join(round_text), exchanges=tuple(exchanges)))
    tail = restorer.flush()
    if tail:
        yield TokenFrame(tail)


def _verification(
    turn: Turn, answer: str, passages: tuple[ContextPassage, ...], citations: list[dict[str, Any]]
) -> VerificationFrame:
    """Check the complete answer's figures once; kept in the checkpoint and counted."""
    restored = [replace(p, text=pii_restore(p.text, turn.pii_mapping)) for p in passages]
    checks = turn_figures_verify(
        answer=answer,
        passages=restored,
        cited=[int(c["number"]) for c in citations],
        tool_results=turn.tool_results,
    )
    summary = verification_summary(checks)
    answer_figures_count(summary)
    turn.verification = [c.as_dict() for c in checks]
    return VerificationFrame(figures=turn.verification, summary=summary)


async def _answer(
    prepared: PreparedTurn, record: TurnRecord, call: ModelCall, failovers: list[dict[str, str]]
) -> AsyncGenerator[TurnFrame, None]:
    """Every frame of the answer itself, from start to the figure check."""
    turn = prepared.turn
    standalone = await _standalone_question(prepared, record, call)
    retrieved = await _retrieve(prepared, standalone)
    record.scope, record.chunk_ids = retrieved.scope, tuple(retrieved.chunk_ids)
    request = await _request(prepared, standalone, retrieved)
    turn.sub_questions = retrieved.sub_questions
    yield StartFrame(
        query_id=str(turn.query_id),
        conversation_id=prepared.conversation.pk,
        question=prepared.question,
        standalone_question=standalone,
        chain=turn.chain_names,
        offline=turn.offline_only,
        scope=retrieved.scope,
        sub_questions=retrieved.sub_questions,
    )
    async with contextlib.aclosing(_rounds(prepared, request, call, failovers)) as frames:
        async for frame in frames:
            if isinstance(frame, TokenFrame):
                record.parts.append(frame.text)
            yield frame
    citations = []
    for citation in citations_for(record.answer, request.passages):
        data = citation.as_dict()
        data["text"] = pii_restore(citation.snippet, turn.pii_mapping)
        citations.append(data)
        yield CitationFrame(data)
    record.citations = tuple(citations)
    yield _verification(turn, record.answer, request.passages, citations)


async def _finish(prepared: PreparedTurn, record: TurnRecord) -> Message | None:
    """Save the turn and run the after_agent hooks (the ledger's summary, the budget hold, the
    stream slot, the trace), on every path, even when the turn cannot be saved."""
    turn = prepared.turn
    saved: Message | None = None
    try:
        if record.user_message is not None or record.question_unsaved is not None:
            saved = await turn_save_shielded(turn=turn, record=record, question=record.user_message)
    except Exception:
        logger.exception("The turn of query %s could not be saved", turn.query_id)
    finally:
        if saved is None:
            record.status = "error"
            turn.error_code = TURN_NOT_SAVED
        turn.status = record.status
        with contextlib.suppress(Exception):
            await prepared.pipeline.after_agent(
                turn, RunOutcome(status=record.status, answer=record.answer)
            )
    return saved


def _failed(turn: Turn, record: TurnRecord, exc: ProviderError | ApplicationError) -> TurnFrame:
    """The error frame of a turn that failed after its first frame, and its status."""
    if isinstance(exc, ProviderError):
        record.status = "error"
        turn.error_code = "provider_failed_midstream" if exc.partial else "provider_error"
        return error_frame(
            turn.error_code,
            "The model stopped answering partway; the partial answer is kept. Try again.",
            {"provider": getattr(exc, "provider", "")},
        )
    # A draining process (DrainHook) keeps the turn as interrupted, like a user's stop.
    record.status = "interrupted" if isinstance(exc, ServiceRestarting) else "error"
    turn.error_code = exc.code
    return error_frame(exc.code, exc.message, exc.details)


async def turn_stream(prepared: PreparedTurn) -> AsyncIterator[TurnFrame]:
    """Stream the frames of a prepared turn.

    After the first frame, failures arrive as an `error` frame. Closing the generator early
    (cancel, disconnect) closes the provider stream and saves the partial answer as interrupted.
    Every path saves the turn with a checkpoint and runs the after_agent hooks.
    """
    turn, pipeline = prepared.turn, prepared.pipeline
    record = TurnRecord(conversation=prepared.conversation)
    call = pipeline.model_call(turn, _no_model)
    failovers: list[dict[str, str]] = []
    saved: Message | None = None
    try:
        async with contextlib.aclosing(_answer(prepared, record, call, failovers)) as frames:
            async for frame in frames:
                yield frame
        record.status = "ok"
    except (ProviderError, ApplicationError) as exc:
        yield _failed(turn, record, exc)
    finally:
        saved = await _finish(prepared, record)
    if saved is None:
        yield error_frame(
            TURN_NOT_SAVED,
            "The answer could not be saved, so it is not in the conversation. Try again.",
            {"query_id": str(turn.query_id)},
        )
        return
    answered = turn.answered_by
    yield UsageFrame(
        provider=answered.provider if answered else "",
        model=answered.model if answered else "",
        input_tokens=saved.input_tokens,
        output_tokens=saved.output_tokens,
        cost_usd=str(saved.cost_usd),
        estimated_cost_usd=str(turn.estimated_cost_usd),
        failovers=failovers,
        offline=turn.offline_only,
        budget_warning=turn.billing.budget_warning,
    )
    yield EndFrame(
        message_id=saved.pk,
        conversation_id=prepared.conversation.pk,
        status=saved.status,
        latency_ms=saved.latency_ms,
    )
