"""Billing in the turn: rate limits and the stream slot, the budget hold, one ledger row per
call as it ends, and settlement to the ledger's total.

Billing owns the figures (billing.services.estimates, billing.pricing, the ledger); these hooks
count what only the agents can (prompt tokens per model of the turn's resolved chain) and hand it
over as billing.contracts data. Their places in the stack are fixed in agents.hooks.stack.
"""

from __future__ import annotations

from decimal import Decimal

from asgiref.sync import sync_to_async

from accounts.selectors import tenant_quota_get
from agents.contracts import AttemptRecord, ModelRequest
from agents.engines.condense import CONDENSE_MAX_TOKENS
from agents.outage_retry import through_outage
from agents.pipeline import Hook, RunOutcome
from agents.tokens import count_request_tokens, estimate_tokens
from agents.tools import tool_rounds_allowed
from agents.turns.turn import Turn
from billing.contracts import PricedLine, Reservation, StreamSlot, UsageLine
from billing.pricing import embedding_model
from billing.ratelimit import request_count, stream_slot_acquire, stream_slot_release
from billing.services import (
    budget_reserve,
    ledger_line_price,
    ledger_lines_record,
    query_summary_record,
    reservation_settle,
    reservation_shrink,
)
from billing.services.estimates import Plan, chain_prices, request_plan, worst_case_plan

CACHE_PROVIDER = "cache"
_STATUS = {
    "ok": "ok",
    "interrupted": "interrupted",
    "error": "error",
    "timeout": "error",
}


def embedding_tokens(question: str) -> int:
    """The question's tokens as the embedder is billed for them."""
    return estimate_tokens("openai", "text-embedding-3-small", question)


def turn_hold_plan(turn: Turn) -> Plan:
    """The worst case of a turn before retrieval, on its resolved chain."""
    return worst_case_plan(
        models=turn.chain_models,
        embedding_tokens=embedding_tokens(turn.question),
        tool_rounds=tool_rounds_allowed(),
        condense_output_tokens=CONDENSE_MAX_TOKENS if turn.is_follow_up else None,
    )


def turn_request_plan(turn: Turn, request: ModelRequest) -> Plan:
    """The refined hold once the answer's prompt is final, on top of what the turn has spent."""
    return request_plan(
        prompt_tokens={
            (provider, model): count_request_tokens(provider, model, request)
            for provider, model in turn.chain_models
        },
        prices=turn.billing.prices,
        max_tokens=request.max_tokens,
        tool_rounds=tool_rounds_allowed() if request.tools else 0,
        embedding_tokens=embedding_tokens(turn.question),
        spent_usd=turn.cost_usd,
    )


async def _slot_release(turn: Turn) -> None:
    slot, turn.billing.slot = turn.billing.slot, None
    if slot is not None:
        await sync_to_async(stream_slot_release)(slot=slot)


class RateLimitHook(Hook):
    """before_agent: count the question against the per-minute limits of the member and the
    tenant, then take a concurrent-stream slot (429 with Retry-After when over);
    after_agent: give the slot back, on every path."""

    name = "rate_limit"

    async def before_agent(self, turn: Turn) -> None:
        def admit() -> StreamSlot:
            quota = tenant_quota_get(tenant=turn.tenant)
            request_count(tenant=turn.tenant, user=turn.user, quota=quota)
            return stream_slot_acquire(
                tenant=turn.tenant, user=turn.user, quota=quota, slot_id=str(turn.query_id)
            )

        turn.billing.slot = await sync_to_async(admit)()

    async def after_agent(self, turn: Turn, outcome: RunOutcome) -> None:
        await _slot_release(turn)


def attempt_line(turn: Turn, attempt: AttemptRecord) -> UsageLine | None:
    """The ledger line of one attempt; None for a provider skipped with its circuit open."""
    if attempt.provider == CACHE_PROVIDER:
        hit = turn.cache.hit
        return UsageLine(
            kind="model",
            provider=hit.provider if hit else CACHE_PROVIDER,
            model=hit.model if hit else attempt.model,
            latency_ms=attempt.latency_ms,
            cache_hit=True,
            cost_saved_usd=turn.cache.saved_usd,
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


def _record(turn: Turn, priced: PricedLine) -> None:
    ledger_lines_record(
        tenant=turn.tenant,
        user=turn.user,
        conversation_id=turn.conversation_id,
        query_id=turn.query_id,
        lines=[priced],
    )


class BudgetHook(Hook):
    """Holds the worst case on the budget before the run, refines it once the prompt is known,
    writes each call's ledger row as the call ends (an answer-cache replay's free row goes in
    with the summary), and after the run settles the hold to the ledger's total (a summary row
    summed from the call rows in the same statement).

    The chain's prices are read once, with the refine; `turn.cost_usd` counts every call as soon
    as it is on the ledger, so the estimate and the saved answer agree with the ledger.
    """

    name = "budget"

    async def before_agent(self, turn: Turn) -> None:
        def hold() -> tuple[Plan, Reservation]:
            plan = turn_hold_plan(turn)
            reservation = budget_reserve(
                tenant=turn.tenant,
                user=turn.user,
                query_id=turn.query_id,
                amount_usd=plan.amount_usd,
                tokens=plan.tokens,
                user_cap_usd=getattr(turn.membership, "monthly_budget_usd_cap", None),
            )
            return plan, reservation

        try:
            plan, reservation = await sync_to_async(hold)()
        except BaseException:
            # No after_agent runs for a refused question: give the stream slot back now.
            await _slot_release(turn)
            raise
        turn.billing.reservation = reservation
        turn.estimated_cost_usd = plan.estimate_usd
        if reservation.budget_warning:
            turn.billing.budget_warning = {
                "used_ratio": str(reservation.budget_used_ratio.quantize(Decimal("0.0001"))),
                "period_start": reservation.period_start.isoformat(),
            }

    async def before_model(self, turn: Turn, request: ModelRequest) -> ModelRequest:
        if turn.billing.embedding_recorded or request.purpose != "answer":
            return request
        # The first answer request of the run: retrieval has embedded the question by now.
        turn.billing.embedding_recorded = True
        held = turn.billing.reservation

        def refine() -> Decimal:
            provider, model = embedding_model()
            embedded = ledger_line_price(
                line=UsageLine(
                    kind="embedding",
                    provider=provider,
                    model=model,
                    input_tokens=embedding_tokens(turn.question),
                )
            )
            turn.billing.prices = chain_prices(turn.chain_models)
            plan = turn_request_plan(turn, request)
            turn.estimated_cost_usd = plan.estimate_usd
            _record(turn, embedded)
            if held is not None and (
                plan.amount_usd < held.amount_usd or plan.tokens < held.tokens
            ):
                turn.billing.reservation = reservation_shrink(
                    reservation=held, amount_usd=plan.amount_usd, tokens=plan.tokens
                )
            return embedded.cost_usd

        turn.cost_usd += await sync_to_async(refine)()
        return request

    async def after_model(self, turn: Turn, attempt: AttemptRecord) -> None:
        line = attempt_line(turn, attempt)
        if line is None:
            return
        if line.cache_hit:
            # A replay has no tokens, so it costs nothing and the saved answer's totals are the
            # same without it: its row goes on the ledger with the query's summary (after_agent).
            turn.billing.unrecorded.append(line)
            return
        price = turn.billing.prices.get((line.provider, line.model))

        def record() -> Decimal:
            priced = ledger_line_price(line=line, price=price)
            _record(turn, priced)
            return priced.cost_usd

        # One insert; a short database outage delays it rather than losing the attempt's cost.
        turn.cost_usd += await sync_to_async(through_outage(record))()

    async def after_agent(self, turn: Turn, outcome: RunOutcome) -> None:
        reservation, turn.billing.reservation = turn.billing.reservation, None
        answering = turn.answering_attempt
        latency_ms = turn.latency_ms

        unrecorded, turn.billing.unrecorded = turn.billing.unrecorded, []
        # One statement: a short database outage delays it rather than losing the query's rows.
        summary_record = through_outage(query_summary_record)

        def finish() -> Decimal:
            prices = turn.billing.prices
            lines = [
                ledger_line_price(line=line, price=prices.get((line.provider, line.model)))
                for line in unrecorded
            ]
            totals = summary_record(
                tenant=turn.tenant,
                user=turn.user,
                conversation_id=turn.conversation_id,
                query_id=turn.query_id,
                status=outcome.status,
                latency_ms=latency_ms,
                providers_tried=[a.provider for a in turn.attempts],
                provider=answering.provider if answering else "",
                model=answering.model if answering else "",
                estimated_cost_usd=turn.estimated_cost_usd,
                lines=lines,
            )
            if reservation is not None:
                reservation_settle(reservation=reservation, tenant=turn.tenant, totals=totals)
            return totals.cost_usd or Decimal(0)

        turn.cost_usd = await sync_to_async(finish)()
