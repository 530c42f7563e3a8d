"""Billing in the agent pipeline: rate limits and stream slots, budget holds, the cost ledger,
the answer cache, and each answer's estimated and actual cost.

List them in settings.AGENT_HOOKS in this order (see config/settings/base.py):
- RateLimitHook after TenantGuardHook: per-minute limits and a stream slot before any work.
- BudgetHook after ContextTrimHook: its before_model must see the final prompt to refine the
  hold; its after_model prices every attempt (so ctx.cost_usd is final before the turn is
  saved) and writes its ledger row, or leaves an answered one for after_agent, which writes it
  with the query's summary row and settles the hold.
- AnswerCacheHook just before FailoverHook: wrappers nest first-listed outermost, so a hit
  answers without the provider chain ever being called.

Billing itself never imports agents: what crosses is billing.contracts (UsageLine, Reservation,
CachedAnswer) built here from agents.contracts.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from accounts.contracts import Quota
from accounts.selectors import tenant_quota_get
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
from agents.engines.condense import CONDENSE_MAX_TOKENS
from agents.models import Conversation
from agents.pipeline import Hook, ModelCall, RunContext, RunOutcome, ToolCall
from agents.providers.base import word_pieces
from agents.providers.failover import enabled_provider_names, provider_settings_from_django
from agents.providers.offline import OFFLINE_MODEL
from agents.tokens import count_request_tokens, estimate_tokens
from agents.tools import ToolResult, tool_definitions, tool_rounds_allowed
from billing.answer_cache import (
    answer_cache_enabled,
    answer_cache_get,
    answer_cache_key,
    answer_cache_put,
)
from billing.contracts import CachedAnswer, PriceQuote, Reservation, StreamSlot, UsageLine
from billing.pricing import embedding_model, line_cost, price_get, tokens_cost
from billing.ratelimit import request_count, stream_slot_acquire, stream_slot_release
from billing.services import (
    PricedLine,
    budget_reserve,
    ledger_line_price,
    ledger_lines_record,
    query_summary_record,
    reservation_settle,
    reservation_shrink,
)
from retrieval.selectors import corpus_version_get

# RunContext.state keys this module writes and reads.
STATE_SLOT = "billing.stream_slot"
STATE_RESERVATION = "billing.reservation"
STATE_EMBEDDING = "billing.embedding_recorded"
STATE_UNRECORDED = "billing.unrecorded"  # priced calls (PricedLine) not on the ledger yet
STATE_PRICES = "billing.prices"  # {(provider, model): PriceQuote} of the chain, from the refine
STATE_HIT = "billing.cache_hit"
STATE_CACHE_HIT = "cache_hit"  # True on a hit; read by agents.observability_hooks
STATE_BUDGET_WARNING = "budget_warning"  # {"used_ratio", "period_start"} at >= the warning ratio
STATE_CORPUS_VERSION = "corpus_version"  # set by agents.services when it knows it
STATE_FILTERS = "filters"  # the conversation's scope, set by agents.services when it knows it
STATE_LOOKUP = "billing.cache_lookup"  # the answer cache lookup made in before_agent
# A hit found before any work: the cached answer's passages, so agents.services skips retrieval.
STATE_CACHED_PASSAGES = "answer_cache.passages"

CACHE_PROVIDER = "cache"
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*_\d+>")
_STATUS = {
    "ok": "ok",
    "interrupted": "interrupted",
    "error": "error",
    "timeout": "error",
}


# --- What the tier's chain may cost ---------------------------------------------------------


def chain_models(tier: str) -> list[tuple[str, str]]:
    """(provider, model) of the tier's chain as build_chain will assemble it: configured
    providers that have a key, in order; offline when none has."""
    provider_settings = provider_settings_from_django()
    names = provider_settings.chains.get(tier) or ("offline",)
    enabled = enabled_provider_names()
    models = [
        (name, _model_of(name, provider_settings.anthropic_model, provider_settings.openai_model))
        for name in names
        if name in enabled
    ]
    return models or [("offline", OFFLINE_MODEL)]


def _model_of(name: str, anthropic_model: str, openai_model: str) -> str:
    if name == "offline":
        return OFFLINE_MODEL
    if name == "anthropic":
        if anthropic_model:
            return anthropic_model
        from agents.providers.anthropic_provider import DEFAULT_ANTHROPIC_MODEL

        return DEFAULT_ANTHROPIC_MODEL
    if name == "openai":
        if openai_model:
            return openai_model
        from agents.providers.openai_provider import DEFAULT_OPENAI_MODEL

        return DEFAULT_OPENAI_MODEL
    return name


def _margin() -> Decimal:
    return Decimal(str(settings.BUDGET_TOKEN_MARGIN))


@dataclass(frozen=True)
class Plan:
    """A hold: the worst a query may cost and the tokens it may use."""

    amount_usd: Decimal
    tokens: int
    estimate_usd: Decimal


def _embedding_cost(question: str) -> tuple[Decimal, int]:
    provider, model = embedding_model()
    tokens = estimate_tokens("openai", "text-embedding-3-small", question)
    price = price_get(provider=provider, model=model)
    return tokens_cost(price=price, input_tokens=tokens, output_tokens=0), tokens


# A follow-up's condensing prompt: at most HISTORY_TURNS x 2 earlier messages cut to
# CONDENSE_MESSAGE_CHARS, the question (QUESTION_MAX_CHARS) and the template: under 9,000
# characters, so under 4,000 tokens even at an unusually dense 2.25 characters a token.
CONDENSE_HOLD_INPUT_TOKENS = 4_000

# What one tool round adds to the next call's prompt besides the model's own output: the call's
# framing and the calculator's one-line result, generously.
TOOL_RESULT_TOKENS = 256


def with_tool_rounds(prompt: int, max_tokens: int, rounds: int) -> tuple[int, int]:
    """Input and output tokens of a turn that calls tools `rounds` times before answering: each
    call may write max_tokens, and each later call re-reads everything before it."""
    calls = rounds + 1
    growth = max_tokens + TOOL_RESULT_TOKENS
    input_tokens = calls * prompt + growth * rounds * calls // 2
    return input_tokens, calls * max_tokens


def plan_worst_case(*, tier: str, question: str, follow_up: bool = False) -> Plan:
    """Before retrieval: the largest prompt the pipeline may send (the context budget, with the
    tokenizer margin) plus max_tokens of output, for every call a turn with tool rounds may make,
    and a follow-up's condensing call, on the dearest model of the chain, plus the question's
    embedding."""
    max_tokens = int(settings.LLM_MAX_TOKENS)
    context = int(settings.LLM_CONTEXT_TOKENS)
    prompt = math.ceil(max(0, context - max_tokens) * _margin())
    input_tokens, output_tokens = with_tool_rounds(prompt, max_tokens, tool_rounds_allowed())
    if follow_up:
        input_tokens += CONDENSE_HOLD_INPUT_TOKENS
        output_tokens += CONDENSE_MAX_TOKENS
    embed_usd, embed_tokens = _embedding_cost(question)
    costs = [
        tokens_cost(
            price=price_get(provider=provider, model=model),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )
        for provider, model in chain_models(tier)
    ]
    return Plan(
        amount_usd=max(costs) + embed_usd,
        tokens=input_tokens + output_tokens + embed_tokens,
        estimate_usd=max(costs) + embed_usd,
    )


def plan_for_request(
    *, tier: str, request: ModelRequest, question: str, spent_usd: Decimal = Decimal(0)
) -> Plan:
    """With the final prompt: the estimate is the chain's first model answering with up to
    max_tokens in one call; the hold is the dearest model with the tokenizer margin on the counted
    prompt, for every call the turn's tool rounds may make, on top of what the turn has already
    spent (a follow-up's condensing call)."""
    rounds = tool_rounds_allowed() if request.tools else 0
    embed_usd, embed_tokens = _embedding_cost(question)
    holds: list[tuple[Decimal, int]] = []
    estimate: Decimal | None = None
    for provider, model in chain_models(tier):
        counted = count_request_tokens(provider, model, request)
        price = price_get(provider=provider, model=model)
        if estimate is None:
            estimate = tokens_cost(
                price=price, input_tokens=counted, output_tokens=request.max_tokens
            )
        padded = math.ceil(counted * _margin())
        input_tokens, output_tokens = with_tool_rounds(padded, request.max_tokens, rounds)
        holds.append(
            (
                tokens_cost(price=price, input_tokens=input_tokens, output_tokens=output_tokens),
                input_tokens + output_tokens,
            )
        )
    hold_usd = max(h[0] for h in holds)
    hold_tokens = max(h[1] for h in holds)
    return Plan(
        amount_usd=hold_usd + embed_usd + spent_usd,
        tokens=hold_tokens + embed_tokens,
        estimate_usd=(estimate or Decimal(0)) + embed_usd + spent_usd,
    )


# --- Rate limits ---------------------------------------------------------------------------


def _quota(ctx: RunContext) -> Quota:
    return tenant_quota_get(tenant=ctx.tenant)


async def _slot_release(ctx: RunContext) -> None:
    slot: StreamSlot | None = ctx.state.pop(STATE_SLOT, None)
    if slot is not None:
        await sync_to_async(stream_slot_release)(slot=slot)


class RateLimitHook(Hook):
    """before_agent: count the question against the per-minute limits of the member and the
    tenant, then take a concurrent-stream slot (429 with Retry-After when over);
    after_agent: give the slot back, on every path."""

    name = "rate_limit"

    async def before_agent(self, ctx: RunContext) -> None:
        def admit() -> StreamSlot:
            quota = _quota(ctx)
            request_count(tenant=ctx.tenant, user=ctx.user, quota=quota)
            return stream_slot_acquire(
                tenant=ctx.tenant, user=ctx.user, quota=quota, slot_id=str(ctx.query_id)
            )

        ctx.state[STATE_SLOT] = await sync_to_async(admit)()

    async def after_agent(self, ctx: RunContext, outcome: RunOutcome) -> None:
        await _slot_release(ctx)


# --- Budget and ledger ---------------------------------------------------------------------


def _attempt_line(ctx: RunContext, attempt: AttemptRecord) -> UsageLine | None:
    if attempt.provider == CACHE_PROVIDER:
        hit = ctx.state.get(STATE_HIT) or {}
        return UsageLine(
            kind="model",
            provider=str(hit.get("provider", CACHE_PROVIDER)),
            model=str(hit.get("model", attempt.model)),
            latency_ms=attempt.latency_ms,
            cache_hit=True,
            cost_saved_usd=Decimal(str(hit.get("saved_usd", "0"))),
        )
    if attempt.outcome == "circuit_open":
        return None  # nothing was sent, nothing to bill
    usage = attempt.usage
    return UsageLine(
        kind="model",
        provider=attempt.provider,
        model=attempt.model,
        input_tokens=usage.input_tokens if usage else 0,
        output_tokens=usage.output_tokens if usage else 0,
        cached_input_tokens=usage.cached_input_tokens if usage else 0,
        cache_write_input_tokens=usage.cache_creation_input_tokens if usage else 0,
        latency_ms=attempt.latency_ms,
        status=_STATUS.get(attempt.outcome, "error"),  # type: ignore[arg-type]
    )


_Prices = dict[tuple[str, str], PriceQuote]


def _embedding_line(ctx: RunContext) -> PricedLine:
    provider, model = embedding_model()
    return ledger_line_price(
        line=UsageLine(
            kind="embedding",
            provider=provider,
            model=model,
            input_tokens=estimate_tokens("openai", "text-embedding-3-small", ctx.question),
        )
    )


async def _unrecorded_record(ctx: RunContext, line: UsageLine | None = None) -> Decimal:
    """Append the run's calls still waiting for the ledger, then `line` (priced now), in one
    INSERT; returns `line`'s cost. The waiting calls are dropped only once they are written."""
    waiting: list[PricedLine] = ctx.state.setdefault(STATE_UNRECORDED, [])
    lines = list(waiting)

    def record() -> Decimal:
        priced = ledger_line_price(line=line) if line is not None else None
        ledger_lines_record(
            tenant=ctx.tenant,
            user=ctx.user,
            conversation_id=ctx.conversation_id,
            query_id=ctx.query_id,
            lines=[*lines, priced] if priced is not None else lines,
        )
        return priced.cost_usd if priced is not None else Decimal(0)

    cost = await sync_to_async(record)()
    del waiting[: len(lines)]
    return cost


def _answering(ctx: RunContext) -> AttemptRecord | None:
    for attempt in reversed(ctx.attempts):
        if attempt.outcome in ("ok", "interrupted"):
            return attempt
    return ctx.attempts[-1] if ctx.attempts else None


class BudgetHook(Hook):
    """Holds the worst case on the budget before the run, refines it once the prompt is known,
    prices every attempt, and after the run settles the hold to the ledger's total.

    A call's ledger row is written as late as is safe, so that a plain turn touches the database
    three times (hold, refine, settle): an answered call on a model priced when the hold was
    refined waits until the run ends (milliseconds later) or the model asks for a tool, and is
    then appended in the same statement as the query's summary (or before the tool runs). A
    failed or cut-short call, or one on a model not priced yet in this run, is written at once
    with whatever waits. ctx.cost_usd counts every call as soon as it is priced, so it is final
    before the turn is saved.
    """

    name = "budget"

    async def before_agent(self, ctx: RunContext) -> None:
        def hold() -> tuple[Plan, Reservation]:
            plan = plan_worst_case(tier=ctx.tier, question=ctx.question, follow_up=ctx.is_follow_up)
            reservation = budget_reserve(
                tenant=ctx.tenant,
                user=ctx.user,
                query_id=ctx.query_id,
                amount_usd=plan.amount_usd,
                tokens=plan.tokens,
                user_cap_usd=getattr(ctx.membership, "monthly_budget_usd_cap", None),
            )
            return plan, reservation

        try:
            plan, reservation = await sync_to_async(hold)()
        except BaseException:
            # No after_agent runs for a refused question: give the stream slot back now.
            await _slot_release(ctx)
            raise
        ctx.state[STATE_RESERVATION] = reservation
        ctx.state["billing.started"] = time.perf_counter()
        ctx.estimated_cost_usd = plan.estimate_usd
        if reservation.budget_warning:
            ctx.state[STATE_BUDGET_WARNING] = {
                "used_ratio": str(reservation.budget_used_ratio.quantize(Decimal("0.0001"))),
                "period_start": reservation.period_start.isoformat(),
            }

    async def before_model(self, ctx: RunContext, request: ModelRequest) -> ModelRequest:
        if ctx.state.get(STATE_EMBEDDING) or request.purpose != "answer":
            return request
        # The first model request of the run: retrieval has embedded the question by now.
        ctx.state[STATE_EMBEDDING] = True
        held: Reservation | None = ctx.state.get(STATE_RESERVATION)

        # A follow-up's condensing call is already on the ledger: the hold keeps covering it.
        spent = ctx.cost_usd

        def refine() -> tuple[PricedLine, Plan, Reservation | None, _Prices]:
            embedded = _embedding_line(ctx)
            plan = plan_for_request(
                tier=ctx.tier, request=request, question=ctx.question, spent_usd=spent
            )
            # The chain's prices now, so that after_model can price its calls without a read.
            prices = {
                (provider, model): price_get(provider=provider, model=model)
                for provider, model in chain_models(ctx.tier)
            }
            reservation = held
            if reservation is not None and (
                plan.amount_usd < reservation.amount_usd or plan.tokens < reservation.tokens
            ):
                reservation = reservation_shrink(
                    reservation=reservation, amount_usd=plan.amount_usd, tokens=plan.tokens
                )
            return embedded, plan, reservation, prices

        embedded, plan, reservation, prices = await sync_to_async(refine)()
        ctx.state.setdefault(STATE_UNRECORDED, []).append(embedded)
        ctx.state[STATE_PRICES] = prices
        ctx.cost_usd += embedded.cost_usd
        ctx.estimated_cost_usd = plan.estimate_usd
        if reservation is not None:
            ctx.state[STATE_RESERVATION] = reservation
        return request

    async def after_model(self, ctx: RunContext, attempt: AttemptRecord) -> None:
        line = _attempt_line(ctx, attempt)
        if line is None:
            return
        price = (ctx.state.get(STATE_PRICES) or {}).get((line.provider, line.model))
        if attempt.outcome == "ok" and price is not None:
            priced = ledger_line_price(line=line, price=price)
            ctx.state.setdefault(STATE_UNRECORDED, []).append(priced)
            ctx.cost_usd += priced.cost_usd
            return
        # Failover or the end of the turn follows a failed or cut-short call: no reason to wait.
        ctx.cost_usd += await _unrecorded_record(ctx, line)

    def wrap_tool_call(self, ctx: RunContext, call: ToolCall) -> ToolCall:
        async def recorded(name: str, arguments: dict[str, Any]) -> ToolResult:
            # The call that asked for the tool is over and another follows: its row goes on the
            # ledger now rather than after the whole tool round.
            if ctx.state.get(STATE_UNRECORDED):
                await _unrecorded_record(ctx)
            return await call(name, arguments)

        return recorded

    async def after_agent(self, ctx: RunContext, outcome: RunOutcome) -> None:
        reservation: Reservation | None = ctx.state.pop(STATE_RESERVATION, None)
        started = ctx.state.get("billing.started")
        latency_ms = int((time.perf_counter() - started) * 1000) if started else 0
        answering = _answering(ctx)
        waiting: list[PricedLine] = ctx.state.pop(STATE_UNRECORDED, None) or []

        def finish() -> Decimal:
            # The waiting calls and the summary in one statement, then the settlement: two round
            # trips, and the tenant's budget row is not held while the ledger's commit flushes.
            totals = query_summary_record(
                tenant=ctx.tenant,
                user=ctx.user,
                conversation_id=ctx.conversation_id,
                query_id=ctx.query_id,
                status=outcome.status,
                latency_ms=latency_ms,
                providers_tried=[a.provider for a in ctx.attempts],
                provider=answering.provider if answering else "",
                model=answering.model if answering else "",
                estimated_cost_usd=ctx.estimated_cost_usd,
                lines=waiting,
            )
            if reservation is not None:
                reservation_settle(reservation=reservation, tenant=ctx.tenant, totals=totals)
            return totals.cost_usd or Decimal(0)

        ctx.cost_usd = await sync_to_async(finish)()


# --- Answer cache --------------------------------------------------------------------------


def _filters(ctx: RunContext) -> dict[str, Any]:
    known = ctx.state.get(STATE_FILTERS)
    if known is not None:
        return dict(known)
    scope = (
        Conversation.objects.filter(pk=ctx.conversation_id, tenant=ctx.tenant)
        .values_list("scope", flat=True)
        .first()
    )
    return dict(scope or {})


def prompt_version(request: ModelRequest) -> str:
    """Changes whenever the instructions or the generation settings change."""
    material = f"{request.system}\x00{request.max_tokens}\x00{request.temperature}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _cache_key(ctx: RunContext, version: str, chain: tuple[str, ...]) -> str:
    corpus_version = ctx.state.get(STATE_CORPUS_VERSION)
    if corpus_version is None:
        corpus_version = corpus_version_get(tenant=ctx.tenant)
    return answer_cache_key(
        tenant=ctx.tenant,
        corpus_version=str(corpus_version),
        question=ctx.question,
        filters=_filters(ctx),
        chain=chain,
        prompt_version=version,
    )


@dataclass(frozen=True)
class _Lookup:
    key: str
    version: str
    chain: tuple[str, ...]
    entry: CachedAnswer | None
    saved_usd: Decimal


def _lookup(*, key: str, version: str, chain: tuple[str, ...]) -> _Lookup:
    entry = answer_cache_get(key=key)
    saved = _saved_usd(entry) if entry is not None else Decimal(0)
    return _Lookup(key=key, version=version, chain=chain, entry=entry, saved_usd=saved)


def _chain_key(tier: str) -> tuple[str, ...]:
    """The chain's providers with their models: another model (or a new version of the offline
    provider's rules, which bumps OFFLINE_MODEL) must not be served an older one's answers."""
    return tuple(f"{provider}:{model}" for provider, model in chain_models(tier))


def _expected_prompt_version() -> str:
    """The prompt version of the answer request the turn will build (the instructions and
    generation settings do not depend on the passages), known before retrieval."""
    return _prompt_version_for(int(settings.LLM_MAX_TOKENS), tool_rounds_allowed())


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


def _replayable(entry: CachedAnswer, ctx: RunContext) -> bool:
    # Placeholders are restored from this run's PII mapping; one it lacks would reach the user.
    return all(p in ctx.pii_mapping for p in _PLACEHOLDER.findall(entry.answer))


def _store(
    ctx: RunContext, key: str, request: ModelRequest, answer: str, usage: ModelUsage | None
) -> None:
    answering = _answering(ctx)
    if not answer or answering is None or answering.outcome != "ok":
        return
    if any(not result.ok for result in ctx.tool_results):
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
                for r in ctx.tool_results
            ),
        ),
    )


def _replay(
    ctx: RunContext, entry: CachedAnswer, saved: Decimal, started: float
) -> Iterator[StreamEvent]:
    ctx.state[STATE_HIT] = {
        "provider": entry.provider,
        "model": entry.model,
        "saved_usd": str(saved),
    }
    ctx.state[STATE_CACHE_HIT] = True
    ctx.tool_results.extend(
        ToolResult(name=t["name"], arguments=t["arguments"], output=t["output"])
        for t in entry.tools
    )
    elapsed = int((time.perf_counter() - started) * 1000)
    usage = ModelUsage(provider=CACHE_PROVIDER, model=entry.model, input_tokens=0, output_tokens=0)
    ctx.attempts.append(
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
    and the prompt (agents.services reads STATE_CACHED_PASSAGES); wrap_model_call: replay a hit
    without calling a model (the cached text streams as usual, so citations and PII restoring work
    unchanged), otherwise pass through and keep a complete answer. Follow-ups are never cached."""

    name = "answer_cache"

    async def before_agent(self, ctx: RunContext) -> None:
        if not answer_cache_enabled() or ctx.is_follow_up:
            return
        chain = _chain_key(ctx.tier)

        def look_up() -> _Lookup:
            version = _expected_prompt_version()
            return _lookup(key=_cache_key(ctx, version, chain), version=version, chain=chain)

        found = await sync_to_async(look_up)()
        ctx.state[STATE_LOOKUP] = found
        entry = found.entry
        if entry is not None and _replayable(entry, ctx):
            # Placeholders would need this turn's PII mapping, which masking the prompt builds:
            # such an answer takes the usual path and is replayed at the model call.
            ctx.state[STATE_CACHED_PASSAGES] = entry.passages

    def wrap_model_call(self, ctx: RunContext, call: ModelCall) -> ModelCall:
        if not answer_cache_enabled() or ctx.is_follow_up:
            return call
        chain = _chain_key(ctx.tier)

        key = ""
        # With tools, one answer spans several model calls (tool rounds); the cache keeps and
        # replays the text of all of them, with the calculations, as one answer.
        parts: list[str] = []

        async def cached(request: ModelRequest) -> AsyncIterator[StreamEvent]:
            nonlocal key
            started = time.perf_counter()

            def look_up(version: str) -> _Lookup:
                return _lookup(key=_cache_key(ctx, version, chain), version=version, chain=chain)

            if not request.tool_rounds and request.purpose == "answer":
                # One Redis read per question: the lookup before_agent made stands if the request
                # turned out as expected.
                version = prompt_version(request)
                found: _Lookup | None = ctx.state.pop(STATE_LOOKUP, None)
                if found is None or (found.version, found.chain) != (version, chain):
                    found = await sync_to_async(look_up)(version)
                key = found.key
                if found.entry is not None and _replayable(found.entry, ctx):
                    for event in _replay(ctx, found.entry, found.saved_usd, started):
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
                        await sync_to_async(_store)(ctx, key, request, "".join(parts), usage_seen)
                    yield event

        return cached
