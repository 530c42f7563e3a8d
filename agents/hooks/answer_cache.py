"""The answer cache in the turn: a question asked before is answered without retrieval or a
model call, on the same chain and corpus version; a complete new answer is kept."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.conf import settings

from agents.contracts import (
    AttemptRecord,
    ModelRequest,
    ModelUsage,
    StreamEnd,
    StreamEvent,
    TextDelta,
    UsageReport,
)
from agents.engines.citation import build_request
from agents.hooks.billing import CACHE_PROVIDER
from agents.models import Conversation
from agents.pipeline import Hook, ModelCall
from agents.providers.base import word_pieces
from agents.tools import ToolResult, tool_definitions, tool_rounds_allowed
from agents.turns.turn import CacheLookup, Turn
from billing.answer_cache import (
    answer_cache_enabled,
    answer_cache_get,
    answer_cache_key,
    answer_cache_put,
)
from billing.contracts import CachedAnswer, UsageLine
from billing.pricing import line_cost, price_get
from retrieval.selectors import corpus_version_get

_PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*_\d+>")


def prompt_version(request: ModelRequest) -> str:
    """Changes whenever the instructions or the generation settings change."""
    material = f"{request.system}\x00{request.max_tokens}\x00{request.temperature}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _scope(turn: Turn) -> dict[str, object]:
    if turn.scope is not None:
        return dict(turn.scope)
    scope = (
        Conversation.objects.filter(pk=turn.conversation_id, tenant=turn.tenant)
        .values_list("scope", flat=True)
        .first()
    )
    return dict(scope or {})


def _chain_key(turn: Turn) -> tuple[str, ...]:
    """The chain's providers with their models: another model (or a new version of the offline
    provider's rules, which bumps OFFLINE_MODEL) must not be served an older one's answers."""
    models = turn.chain.models if turn.chain is not None else ()
    return tuple(f"{provider}:{model}" for provider, model in models)


def _look_up(turn: Turn, version: str, chain: tuple[str, ...]) -> CacheLookup:
    corpus_version = turn.corpus_version
    if corpus_version is None:
        corpus_version = corpus_version_get(tenant=turn.tenant)
    key = answer_cache_key(
        tenant=turn.tenant,
        corpus_version=str(corpus_version),
        question=turn.question,
        filters=_scope(turn),
        chain=chain,
        prompt_version=version,
    )
    entry = answer_cache_get(key=key)
    saved = _saved_usd(entry) if entry is not None else Decimal(0)
    return CacheLookup(key=key, version=version, chain=chain, entry=entry, saved_usd=saved)


def _expected_prompt_version() -> str:
    """The prompt version of the answer request the turn will build (the instructions and
    generation settings do not depend on the passages), known before retrieval."""
    return _prompt_version_for(settings.LLM_MAX_TOKENS, tool_rounds_allowed())


@functools.lru_cache(maxsize=8)
def _prompt_version_for(max_tokens: int, tool_rounds: int) -> str:
    skeleton = build_request(
        question="",
        passages=(),
        history=(),
        max_tokens=max_tokens,
        tools=tool_definitions() if tool_rounds else (),
    )
    return prompt_version(skeleton)


def _saved_usd(entry: CachedAnswer) -> Decimal:
    """What answering again would cost now on the model that produced the cached answer."""
    return line_cost(
        line=UsageLine(
            kind="model",
            provider=entry.provider,
            model=entry.model,
            input_tokens=entry.input_tokens,
            output_tokens=entry.output_tokens,
            cached_input_tokens=entry.cached_input_tokens,
            cache_write_input_tokens=entry.cache_write_input_tokens,
        ),
        price=price_get(provider=entry.provider, model=entry.model),
    )


def _replayable(entry: CachedAnswer, turn: Turn) -> bool:
    # Placeholders are restored from this run's PII mapping; one it lacks would reach the user.
    return all(p in turn.pii_mapping for p in _PLACEHOLDER.findall(entry.answer))


def _store(
    turn: Turn, key: str, request: ModelRequest, answer: str, usage: ModelUsage | None
) -> None:
    answering = turn.answering_attempt
    if not answer or answering is None or answering.outcome != "ok":
        return
    if any(not result.ok for result in turn.tool_results):
        return  # a calculation that failed or timed out is worth trying again
    usage = usage or answering.usage
    answer_cache_put(
        key=key,
        entry=CachedAnswer(
            answer=answer,
            provider=answering.provider,
            model=answering.model,
            input_tokens=usage.input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            cached_input_tokens=usage.cached_input_tokens if usage else 0,
            cache_write_input_tokens=usage.cache_creation_input_tokens if usage else 0,
            passages=tuple(asdict(p) for p in request.passages),
            tools=tuple(
                {"name": r.name, "arguments": r.arguments, "output": r.output}
                for r in turn.tool_results
            ),
        ),
    )


async def _replay(
    turn: Turn, entry: CachedAnswer, saved_usd: Decimal, started: float
) -> AsyncIterator[StreamEvent]:
    turn.cache.hit = entry
    turn.cache.saved_usd = saved_usd
    turn.tool_results.extend(
        ToolResult(name=t["name"], arguments=t["arguments"], output=t["output"])
        for t in entry.tools
    )
    elapsed = int((time.perf_counter() - started) * 1000)
    usage = ModelUsage(provider=CACHE_PROVIDER, model=entry.model, input_tokens=0, output_tokens=0)
    await turn.attempt_ended(
        AttemptRecord(
            provider=CACHE_PROVIDER,
            model=entry.model,
            outcome="ok",
            latency_ms=elapsed,
            first_token_ms=elapsed,
            usage=usage,
        )
    )
    for piece in word_pieces(entry.answer):
        yield TextDelta(piece)
    yield UsageReport(usage)
    yield StreamEnd("end_turn")


class AnswerCacheHook(Hook):
    """before_agent: look the standalone question up before any work, so a hit skips retrieval
    and the prompt (the turn reads `cache.passages`); wrap_model_call: replay a hit without
    calling a model (the cached text streams as usual, so citations and PII restoring work
    unchanged), otherwise pass through and keep a complete answer. Follow-ups are never cached."""

    name = "answer_cache"

    async def before_agent(self, turn: Turn) -> None:
        if not answer_cache_enabled() or turn.is_follow_up:
            return
        chain = _chain_key(turn)
        found = await sync_to_async(_look_up)(turn, _expected_prompt_version(), chain)
        turn.cache.lookup = found
        entry = found.entry
        if entry is not None and _replayable(entry, turn):
            # Placeholders would need this turn's PII mapping, which masking the prompt builds:
            # such an answer takes the usual path and is replayed at the model call.
            turn.cache.passages = entry.passages

    def wrap_model_call(self, turn: Turn, call: ModelCall) -> ModelCall:
        if not answer_cache_enabled() or turn.is_follow_up:
            return call
        chain = _chain_key(turn)
        key = ""
        # With tools, one answer spans several model calls (tool rounds); the cache keeps and
        # replays the text of all of them, with the calculations, as one answer.
        parts: list[str] = []

        async def cached(request: ModelRequest) -> AsyncIterator[StreamEvent]:
            nonlocal key
            started = time.perf_counter()
            if not request.tool_rounds and request.purpose == "answer":
                # One Redis read per question: the lookup before_agent made stands if the request
                # turned out as expected.
                version = prompt_version(request)
                found, turn.cache.lookup = turn.cache.lookup, None
                if found is None or (found.version, found.chain) != (version, chain):
                    found = await sync_to_async(_look_up)(turn, version, chain)
                key = found.key
                if found.entry is not None and _replayable(found.entry, turn):
                    async for event in _replay(turn, found.entry, found.saved_usd, started):
                        yield event
                    return
            usage_seen: ModelUsage | None = None
            # Closed with this wrapper (a stop, a drain), so the inner attempt settles now.
            async with contextlib.aclosing(call(request)) as events:  # type: ignore[type-var]
                async for event in events:
                    if isinstance(event, TextDelta):
                        parts.append(event.text)
                    elif isinstance(event, UsageReport):
                        usage_seen = event.usage
                    elif isinstance(event, StreamEnd) and event.stop_reason == "end_turn" and key:
                        await sync_to_async(_store)(turn, key, request, "".join(parts), usage_seen)
                    yield event

        return cached
