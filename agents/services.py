"""Writes for agents: conversations, and answering one turn through the hook pipeline.

answer_turn is the one path every entry point (websocket, REST JSON and SSE, `manage.py ask`)
uses: it validates, retrieves, runs the hooks around the model call, streams frames, and
always saves what happened (complete, interrupted or failed) with a checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Literal

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction

from accounts.errors import (
    ApplicationError,
    ProviderUnavailable,
    ServiceRestarting,
    ValidationFailed,
)
from accounts.models import Membership, Tenant, User
from accounts.selectors import tenant_quota_get
from agents.billing_hooks import STATE_CACHED_PASSAGES, STATE_CORPUS_VERSION, STATE_FILTERS
from agents.contracts import (
    ChatMessage,
    ContextPassage,
    ModelRequest,
    ProviderSwitched,
    StreamEvent,
    TextDelta,
    ToolExchange,
    ToolRound,
    ToolUse,
    UsageReport,
)
from agents.engines.citation import (
    build_request,
    citations_for,
    passages_from_dicts,
    passages_from_nodes,
)
from agents.engines.condense import (
    condense_heuristic,
    condense_request,
    condensed_text,
    looks_like_follow_up,
)
from agents.engines.retriever import ChunkSearchRetriever
from agents.engines.subquestions import decompose
from agents.events import TurnEvent, error_frame, frame
from agents.models import Checkpoint, Conversation, Message
from agents.outage_retry import through_outage
from agents.pipeline import ModelCall, Pipeline, RunContext, RunOutcome, ToolCall
from agents.providers.base import ProviderError
from agents.selectors import conversation_get, message_checkpoint_state
from agents.tools import ToolResult, tool_call, tool_definitions, tool_rounds_allowed
from agents.verification import turn_figures_verify, verification_summary
from monitoring.metrics import answer_figures_count
from monitoring.pii import pii_restore
from retrieval.contracts import RetrievedChunk, SearchFilters
from retrieval.selectors import company_directory, corpus_version_get, question_validate

logger = logging.getLogger(__name__)

# The error a turn ends with when the model answered but the answer could not be stored.
TURN_NOT_SAVED = "turn_not_saved"
HISTORY_TURNS = 4


def conversation_create(
    *, tenant: Tenant, user: User, title: str = "", scope: dict[str, Any] | None = None
) -> Conversation:
    """Start a conversation, optionally scoped to companies, document types and fiscal years."""
    scope = scope or {}
    allowed = {"tickers", "company_ids", "doc_types", "fiscal_years", "fiscal_periods"}
    unknown = set(scope) - allowed
    if unknown:
        raise ValidationFailed(
            f"Unknown scope keys: {', '.join(sorted(unknown))}.",
            details={"allowed": sorted(allowed)},
        )
    return Conversation.objects.create(tenant=tenant, user=user, title=title[:200], scope=scope)


def filters_from_scope(scope: dict[str, Any]) -> SearchFilters | None:
    if not scope:
        return None
    filters = SearchFilters(
        tickers=tuple(scope.get("tickers", ())),
        company_ids=tuple(int(i) for i in scope.get("company_ids", ())),
        doc_types=tuple(scope.get("doc_types", ())),
        fiscal_years=tuple(int(y) for y in scope.get("fiscal_years", ())),
        fiscal_periods=tuple(scope.get("fiscal_periods", ())),
    )
    return None if filters.is_empty else filters


def _history(conversation: Conversation) -> tuple[list[ChatMessage], list[str]]:
    messages = list(
        Message.objects.filter(conversation=conversation)
        .exclude(status=Message.Status.ERROR)
        .order_by("-created_at", "-id")[: HISTORY_TURNS * 2]
    )
    messages.reverse()
    chat = [ChatMessage(role=m.role, content=m.content) for m in messages]  # type: ignore[arg-type]
    questions = [m.standalone_question or m.content for m in messages if m.role == "user"]
    return chat, questions


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


def _save_turn(
    *,
    ctx: RunContext,
    conversation: Conversation,
    user_message: Message,
    answer: str,
    status: str,
    citations: list[dict[str, Any]],
    scope: dict[str, Any],
    latency_ms: int,
    chunk_ids: list[int],
) -> Message:
    provider_attempt = next(
        (a for a in reversed(ctx.attempts) if a.outcome in ("ok", "interrupted")),
        ctx.attempts[-1] if ctx.attempts else None,
    )
    usage_in = sum(a.usage.input_tokens for a in ctx.attempts if a.usage)
    usage_out = sum(a.usage.output_tokens for a in ctx.attempts if a.usage)
    with transaction.atomic():
        message = Message.objects.create(
            tenant=conversation.tenant,
            conversation=conversation,
            query_id=ctx.query_id,
            role=Message.Role.ASSISTANT,
            content=answer,
            citations=citations,
            scope=scope,
            provider=provider_attempt.provider if provider_attempt else "",
            model=provider_attempt.model if provider_attempt else "",
            input_tokens=usage_in,
            output_tokens=usage_out,
            cost_usd=ctx.cost_usd,
            latency_ms=latency_ms,
            status=status,
            error_code=ctx.error_code,
        )
        Checkpoint.objects.create(
            tenant=conversation.tenant,
            conversation=conversation,
            message=message,
            state=json.loads(
                json.dumps(
                    {
                        "question": user_message.content,
                        "standalone_question": user_message.standalone_question,
                        "answer": answer,
                        "status": status,
                        "retrieved_chunk_ids": chunk_ids,
                        "tool_results": [
                            {
                                "name": t.name,
                                "arguments": t.arguments,
                                "output": t.output,
                                "error": t.error,
                            }
                            for t in ctx.tool_results
                        ],
                        "provider": message.provider,
                        "model": message.model,
                        "attempts": [
                            {
                                "provider": a.provider,
                                "model": a.model,
                                "outcome": a.outcome,
                                "latency_ms": a.latency_ms,
                                "error": a.error,
                            }
                            for a in ctx.attempts
                        ],
                        "chain": ctx.state.get("chain", []),
                        "pii_placeholders": sorted(ctx.pii_mapping),
                        "verification": ctx.state.get("verification", []),
                    },
                    default=str,
                )
            ),
        )
        if not conversation.title:
            conversation.title = user_message.content[:120]
        conversation.save(update_fields=["title", "updated_at"])
    return message


async def _save_turn_shielded(*, status: str, **kwargs: Any) -> Message:
    """_save_turn from a stream that may be cancelled: the save itself is never cut short."""
    message_status = {
        "ok": Message.Status.COMPLETE,
        "interrupted": Message.Status.INTERRUPTED,
    }.get(status, Message.Status.ERROR)
    save = through_outage(_save_turn)  # a short database outage delays the save, not loses it
    return await asyncio.shield(sync_to_async(save)(status=message_status, **kwargs))


def _retrieve(
    *, tenant: Tenant, question: str, conversation_scope: dict[str, Any]
) -> tuple[list[Any], dict[int, RetrievedChunk], dict[str, Any], list[str]]:
    """Passages for a question: one scoped search, or one per sub-question for comparisons."""
    k = int(getattr(settings, "AGENT_TOP_K", 6))
    filters = filters_from_scope(conversation_scope)
    # Read once: decomposition and every search below scope by the same companies.
    directory = company_directory(tenant=tenant)
    subs = [] if filters else decompose(question, directory)
    if not subs:
        retriever = ChunkSearchRetriever(tenant=tenant, k=k, filters=filters, directory=directory)
        nodes = retriever.retrieve(question)
        chunks = {c.chunk_id: c for c in retriever.last_chunks}
        scope = retriever.last_scope.as_dict() if retriever.last_scope else {}
        return nodes, chunks, scope, []
    per_sub = max(2, -(-k // len(subs)))
    results: list[list[Any]] = []
    chunks = {}
    for sub in subs:
        retriever = ChunkSearchRetriever(
            tenant=tenant, k=per_sub, filters=sub.filters, directory=directory
        )
        results.append(retriever.retrieve(sub.question.sub_question))
        chunks.update({c.chunk_id: c for c in retriever.last_chunks})
    merged: list[Any] = []
    seen: set[str] = set()
    for rank in range(per_sub):  # round-robin keeps every company and year represented
        for nodes in results:
            if rank < len(nodes) and nodes[rank].node.node_id not in seen:
                seen.add(nodes[rank].node.node_id)
                merged.append(nodes[rank])
    labels = [sub.label for sub in subs]
    scope = {
        "automatic": True,
        "description": "Compared separately: " + "; ".join(labels),
        "matched_terms": [],
        "filters": {},
        "sub_questions": labels,
    }
    return merged, chunks, scope, labels


async def _after_model_for_new_attempts(pipeline: Pipeline, ctx: RunContext) -> None:
    """Run after_model once for every attempt the failover chain recorded since the last call."""
    done = ctx.state.setdefault("attempts_reported", 0)
    for attempt in ctx.attempts[done:]:
        ctx.state["attempts_reported"] += 1
        await pipeline.after_model(ctx, attempt)


async def _no_model(request: ModelRequest) -> AsyncIterator[StreamEvent]:
    raise ProviderUnavailable("No model provider is configured in the hook pipeline.")
    yield  # pragma: no cover - makes this an async generator


async def _run_tool(name: str, arguments: dict[str, Any]) -> ToolResult:
    """The innermost tool call, wrapped by the wrap_tool_call hooks (timeouts, tracing)."""
    return await asyncio.to_thread(tool_call, name, arguments)


async def _answer_tool_use(ctx: RunContext, run_tool: ToolCall, use: ToolUse) -> ToolExchange:
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
    ctx.tool_results.append(result)
    return ToolExchange(
        call_id=use.call_id,
        name=use.name,
        arguments=use.arguments,
        output=result.output,
        is_error=not result.ok,
    )


def _tool_frame(result: ToolResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "arguments": result.arguments,
        "output": result.output,
        "error": result.error,
    }


async def _condense(
    ctx: RunContext, pipeline: Pipeline, call: ModelCall, prepared: PreparedTurn
) -> str:
    """The follow-up as a standalone question: the chain's model rewrites it (masked, billed,
    with failover); offline, or when no model could, the heuristic does."""
    question, previous = prepared.question, prepared.previous_questions
    if ctx.state.get("offline_only"):
        return condense_heuristic(question, previous)
    with pipeline.tracer.start_as_current_span(
        "condense_question", attributes={"rag.query_id": str(ctx.query_id)}
    ) as span:
        request = await pipeline.before_model(ctx, condense_request(question, prepared.history))
        parts: list[str] = []
        try:
            async for event in call(request):
                if isinstance(event, TextDelta):
                    parts.append(event.text)
        except (ProviderError, ProviderUnavailable) as exc:
            span.set_attribute("rag.condense.fallback", type(exc).__name__)
            parts = []
        await _after_model_for_new_attempts(pipeline, ctx)
        answered_by = ctx.attempts[-1] if ctx.attempts else None
        if not parts or answered_by is None or answered_by.provider == "offline":
            # The offline provider cannot rewrite; what it said is not a question.
            span.set_attribute("rag.condense.method", "heuristic")
            return condense_heuristic(question, previous)
        span.set_attribute("rag.condense.method", "model")
        return condensed_text(pii_restore("".join(parts), ctx.pii_mapping), question)


def _verification_frame(
    ctx: RunContext,
    answer: str,
    passages: tuple[ContextPassage, ...],
    citations: list[dict[str, Any]],
) -> TurnEvent:
    """Check the complete answer's figures once; kept in the checkpoint and counted."""
    restored = [replace(p, text=pii_restore(p.text, ctx.pii_mapping)) for p in passages]
    checks = turn_figures_verify(
        answer=answer,
        passages=restored,
        cited=[int(c["number"]) for c in citations],
        tool_results=ctx.tool_results,
    )
    summary = verification_summary(checks)
    answer_figures_count(summary)
    ctx.state["verification"] = [c.as_dict() for c in checks]
    return frame("verification", figures=ctx.state["verification"], summary=summary)


@dataclass
class PreparedTurn:
    """A turn that passed validation and the before_agent hooks, ready to stream."""

    ctx: RunContext
    pipeline: Pipeline
    conversation: Conversation
    question: str
    history: list[ChatMessage]
    previous_questions: list[str]
    started: float


async def turn_prepare(
    *,
    tenant: Tenant,
    user: User,
    membership: Membership,
    conversation_id: int,
    question: str,
) -> PreparedTurn:
    """Validate a question and run the before_agent hooks.

    Raises ValidationFailed for a bad question, NotFound for a conversation that is not the
    caller's, or whatever a before_agent hook raises (budget, rate limit, suspended tenant).
    """
    question = question_validate(question)

    def reads() -> tuple[Conversation, str, list[ChatMessage], list[str], str]:
        # One thread hop for everything the turn reads before it starts.
        conversation = conversation_get(
            tenant=tenant, user=user, conversation_id=conversation_id, to_ask=True
        )
        history, previous_questions = _history(conversation)
        return (
            conversation,
            tenant_quota_get(tenant=tenant).tier,
            history,
            previous_questions,
            corpus_version_get(tenant=tenant),
        )

    conversation, tier, history, previous_questions, corpus_version = await sync_to_async(reads)()
    # ctx.question becomes the standalone question once a follow-up has been condensed.
    ctx = RunContext(
        tenant=tenant,
        user=user,
        membership=membership,
        conversation_id=conversation.pk,
        question=question,
        tier=tier,
        is_follow_up=looks_like_follow_up(question, previous_questions),
    )
    # What the answer cache's key needs, already read.
    ctx.state[STATE_FILTERS] = dict(conversation.scope or {})
    ctx.state[STATE_CORPUS_VERSION] = corpus_version
    pipeline = Pipeline.from_settings()
    started = time.perf_counter()
    await pipeline.before_agent(ctx)
    return PreparedTurn(ctx, pipeline, conversation, question, history, previous_questions, started)


async def question_prepare(
    *,
    tenant: Tenant,
    user: User,
    membership: Membership,
    question: str,
    scope: dict[str, Any] | None = None,
) -> PreparedTurn:
    """A first question without a conversation: start one titled after the question (scoped
    as asked), then turn_prepare. A question refused before it starts (bad input, budget, rate
    limit) leaves no conversation behind.

    Raises what conversation_create and turn_prepare raise.
    """
    question = question_validate(question)
    conversation = await sync_to_async(conversation_create)(
        tenant=tenant, user=user, title=question[:120], scope=scope
    )
    try:
        return await turn_prepare(
            tenant=tenant,
            user=user,
            membership=membership,
            conversation_id=conversation.pk,
            question=question,
        )
    except Exception:
        await sync_to_async(conversation.delete)()
        raise


async def answer_turn(**kwargs: Any) -> AsyncIterator[TurnEvent]:
    """turn_prepare, then turn_stream: raises before the first frame, errors as frames after."""
    prepared = await turn_prepare(**kwargs)
    async for event in turn_stream(prepared):
        yield event


async def turn_stream(prepared: PreparedTurn) -> AsyncIterator[TurnEvent]:
    """Stream the frames of a prepared turn.

    After the first frame, failures arrive as an `error` frame. Closing the generator early
    (cancel, disconnect) closes the provider stream and saves the partial answer as interrupted.
    Every path saves the turn with a checkpoint and runs the after_agent hooks.
    """
    ctx, pipeline, conversation = prepared.ctx, prepared.pipeline, prepared.conversation
    question, history = prepared.question, prepared.history
    started = prepared.started
    tenant = ctx.tenant
    call = pipeline.model_call(ctx, _no_model)
    answer_parts: list[str] = []
    status = "interrupted"
    citations: list[dict[str, Any]] = []
    scope: dict[str, Any] = {}
    chunk_ids: list[int] = []
    failovers: list[dict[str, str]] = []
    user_message: Message | None = None
    saved: Message | None = None
    try:
        user_message = await sync_to_async(Message.objects.create)(
            tenant=tenant,
            conversation=conversation,
            query_id=ctx.query_id,
            role=Message.Role.USER,
            content=question,
        )
        standalone = question
        if ctx.is_follow_up:
            standalone = await _condense(ctx, pipeline, call, prepared)
            ctx.question = standalone
            if standalone != question:
                user_message.standalone_question = standalone
                await sync_to_async(user_message.save)(update_fields=["standalone_question"])
        cached_passages = ctx.state.get(STATE_CACHED_PASSAGES)
        if cached_passages is not None:
            # The answer cache found this question before any work: no retrieval, and since no
            # text goes to a model, no before_model (masking, trimming, pricing the prompt).
            passages = passages_from_dicts(cached_passages)
            chunk_ids = [p.chunk_id for p in passages if p.chunk_id is not None]
            scope = {"automatic": True, "description": "Answered from the answer cache."}
            sub_questions: list[str] = []
        else:
            with pipeline.tracer.start_as_current_span(
                "retrieval", attributes={"rag.query_id": str(ctx.query_id)}
            ) as retrieval_span:
                nodes, chunks, scope, sub_questions = await sync_to_async(_retrieve)(
                    tenant=tenant, question=standalone, conversation_scope=conversation.scope
                )
                retrieval_span.set_attribute("rag.chunks", len(chunks))
            chunk_ids = list(chunks)
            passages = passages_from_nodes(nodes)
        request = build_request(
            question=standalone,
            passages=passages,
            history=tuple(history),
            max_tokens=int(getattr(settings, "LLM_MAX_TOKENS", 1024)),
            tools=tool_definitions() if tool_rounds_allowed() else (),
        )
        if cached_passages is None:
            request = await pipeline.before_model(ctx, request)
        ctx.state["sub_questions"] = sub_questions
        run_tool = pipeline.tool_call(ctx, _run_tool)
        yield frame(
            "start",
            query_id=str(ctx.query_id),
            conversation_id=conversation.pk,
            question=question,
            standalone_question=standalone,
            chain=ctx.state.get("chain", []),
            offline=bool(ctx.state.get("offline_only")),
            scope=scope,
            sub_questions=sub_questions,
        )
        restorer = _PlaceholderRestorer(ctx.pii_mapping)
        max_rounds = tool_rounds_allowed()
        rounds: list[ToolRound] = []
        shown_tools = 0
        while True:
            # The last round may still see the tools described but must answer in text.
            choice: Literal["auto", "none"] = "none" if len(rounds) >= max_rounds else "auto"
            round_request = replace(request, tool_rounds=tuple(rounds), tool_choice=choice)
            round_text: list[str] = []
            uses: list[ToolUse] = []
            async for event in call(round_request):
                await _after_model_for_new_attempts(pipeline, ctx)
                if isinstance(event, TextDelta):
                    round_text.append(event.text)
                    text = restorer.feed(event.text)
                    if text:
                        answer_parts.append(text)
                        yield frame("token", text=text)
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
                elif isinstance(event, UsageReport):
                    pass  # attempts carry usage; the ledger and metrics read them in the hooks
            await _after_model_for_new_attempts(pipeline, ctx)
            if choice == "none":
                uses = []  # a model ignoring tool_choice "none" gets no further round
            exchanges = [await _answer_tool_use(ctx, run_tool, use) for use in uses]
            # Calculations the cache replayed are in ctx.tool_results too; show each once.
            for result in ctx.tool_results[shown_tools:]:
                yield frame("tool", **_tool_frame(result))
            shown_tools = len(ctx.tool_results)
            if not uses:
                break
            rounds.append(ToolRound(text="".join(round_text), exchanges=tuple(exchanges)))
        tail = restorer.flush()
        if tail:
            answer_parts.append(tail)
            yield frame("token", text=tail)
        answer = "".join(answer_parts)
        for citation in citations_for(answer, request.passages):
            data = citation.as_dict()
            data["text"] = pii_restore(citation.snippet, ctx.pii_mapping)
            citations.append(data)
            yield frame("citation", **data)
        yield _verification_frame(ctx, answer, request.passages, citations)
        status = "ok"
    except ProviderError as exc:
        status = "error"
        ctx.error_code = "provider_failed_midstream" if exc.partial else "provider_error"
        yield error_frame(
            ctx.error_code,
            "The model stopped answering partway; the partial answer is kept. Try again.",
            {"provider": getattr(exc, "provider", "")},
        )
    except ServiceRestarting as exc:
        # The process is draining (DrainHook): kept as interrupted, like a user's stop.
        status = "interrupted"
        ctx.error_code = exc.code
        yield error_frame(exc.code, exc.message, exc.details)
    except ApplicationError as exc:
        status = "error"
        ctx.error_code = exc.code
        yield error_frame(exc.code, exc.message, exc.details)
    finally:
        # Settlement (ledger rows of answered calls, the budget hold, the stream slot, the trace)
        # runs on every path, even when the turn cannot be saved.
        try:
            with contextlib.suppress(Exception):
                await _after_model_for_new_attempts(pipeline, ctx)
            if user_message is not None:
                saved = await _save_turn_shielded(
                    ctx=ctx,
                    conversation=conversation,
                    user_message=user_message,
                    answer="".join(answer_parts),
                    status=status,
                    citations=citations,
                    scope=scope,
                    latency_ms=int((time.perf_counter() - started) * 1000),
                    chunk_ids=chunk_ids,
                )
                ctx.state["message_id"] = saved.pk
        except Exception:
            logger.exception("The turn of query %s could not be saved", ctx.query_id)
        finally:
            if saved is None:
                status = "error"
                ctx.error_code = TURN_NOT_SAVED
            ctx.status = status
            with contextlib.suppress(Exception):
                await pipeline.after_agent(
                    ctx, RunOutcome(status=status, answer="".join(answer_parts))
                )
    if saved is None:
        yield error_frame(
            TURN_NOT_SAVED,
            "The answer could not be saved, so it is not in the conversation. Try again.",
            {"query_id": str(ctx.query_id)},
        )
        return
    final = next((a for a in reversed(ctx.attempts) if a.outcome in ("ok", "interrupted")), None)
    yield frame(
        "usage",
        provider=final.provider if final else "",
        model=final.model if final else "",
        input_tokens=saved.input_tokens,
        output_tokens=saved.output_tokens,
        cost_usd=str(saved.cost_usd),
        estimated_cost_usd=str(ctx.estimated_cost_usd),
        failovers=failovers,
        offline=bool(ctx.state.get("offline_only")),
        budget_warning=ctx.state.get("budget_warning"),
    )
    yield frame(
        "end",
        message_id=saved.pk,
        conversation_id=conversation.pk,
        status=saved.status,
        latency_ms=saved.latency_ms,
    )


async def answer_turn_collect(**kwargs: Any) -> dict[str, Any]:
    """Run answer_turn to the end and return one JSON-ready object (REST JSON, `ask --json`)."""
    return await turn_collect(await turn_prepare(**kwargs))


async def turn_collect(prepared: PreparedTurn) -> dict[str, Any]:
    """The frames of a prepared turn as one JSON-ready object; a turn that fails before its
    start frame still has every field (TurnOutputSerializer)."""
    tokens: list[str] = []
    result: dict[str, Any] = {
        "citations": [],
        "tools": [],
        "verification": {"figures": [], "summary": {}},
        "error": None,
        "query_id": str(prepared.ctx.query_id),
        "conversation": prepared.conversation.pk,
        "standalone_question": prepared.question,
        "scope": {},
        "offline": bool(prepared.ctx.state.get("offline_only")),
    }
    async for event in turn_stream(prepared):
        data = event.data
        if event.type == "start":
            result.update(
                query_id=data["query_id"],
                conversation=data["conversation_id"],
                standalone_question=data["standalone_question"],
                scope=data["scope"],
                offline=data["offline"],
            )
        elif event.type == "token":
            tokens.append(data["text"])
        elif event.type == "citation":
            result["citations"].append(data)
        elif event.type == "tool":
            result["tools"].append(data)
        elif event.type == "verification":
            result["verification"] = data
        elif event.type == "usage":
            result.update(
                provider=data["provider"],
                model=data["model"],
                tokens={"input": data["input_tokens"], "output": data["output_tokens"]},
                cost_usd=data["cost_usd"],
                estimated_cost_usd=data["estimated_cost_usd"],
                failovers=data["failovers"],
                budget_warning=data.get("budget_warning"),
            )
        elif event.type == "end":
            result.update(message_id=data["message_id"], status=data["status"])
        elif event.type == "error":
            result["error"] = data["error"]
    result["answer"] = "".join(tokens)
    return result


FIGURE_VERDICT_LABELS = {
    "supported": "found in {source}",
    "calculated": "calculated: `{source}`",
    "unsupported": "**not found in the cited sources**",
}


def _figure_line(figure: dict[str, Any]) -> str:
    label = FIGURE_VERDICT_LABELS.get(figure.get("verdict", ""), "{verdict}")
    return f"- {figure.get('text', '')}: " + label.format(**{"source": "", **figure})


def conversation_export(*, conversation: Conversation, fmt: str) -> str:
    """The conversation as JSON or Markdown (with citations)."""
    messages = list(conversation.messages.select_related("checkpoint").order_by("created_at", "id"))
    tools = {m.pk: message_checkpoint_state(m, "tool_results") for m in messages}
    figures = {m.pk: message_checkpoint_state(m, "verification") for m in messages}
    if fmt == "json":
        return json.dumps(
            {
                "id": conversation.pk,
                "title": conversation.title,
                "scope": conversation.scope,
                "created_at": conversation.created_at.isoformat(),
                "messages": [
                    {
                        "role": m.role,
                        "content": m.content,
                        "citations": m.citations,
                        "tools": tools[m.pk],
                        "verification": figures[m.pk],
                        "provider": m.provider,
                        "model": m.model,
                        "input_tokens": m.input_tokens,
                        "output_tokens": m.output_tokens,
                        "cost_usd": str(m.cost_usd),
                        "status": m.status,
                        "created_at": m.created_at.isoformat(),
                    }
                    for m in messages
                ],
            },
            indent=2,
        )
    if fmt != "markdown":
        raise ValidationFailed("Export format must be json or markdown.")
    lines = [f"# {conversation.title or 'Conversation'}", ""]
    for m in messages:
        who = "Question" if m.role == "user" else "Answer"
        lines += [f"## {who}", "", m.content, ""]
        for c in m.citations:
            lines.append(f"- [{c['number']}] {c['document']}, page {c['page']}")
        if m.citations:
            lines.append("")
        if tools[m.pk]:
            lines += ["Calculations:", ""]
            lines += [f"- `{t['output']}`" for t in tools[m.pk]]
            lines.append("")
        if figures[m.pk]:
            lines += ["Figures checked against the sources:", ""]
            lines += [_figure_line(f) for f in figures[m.pk]]
            lines.append("")
    lines.append(f"_Exported {date.today().isoformat()}_")  # noqa: DTZ011 - a calendar label
    return "\n".join(lines)
