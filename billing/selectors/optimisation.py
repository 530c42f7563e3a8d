"""The measured optimisation report: cache hit rate and savings, and what routing short answers
to the cheapest model would have saved."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Tenant
from billing.contracts import OptimisationReport, PriceQuote, RoutingLine, UsageLine
from billing.models import LedgerEntry, UsageUserBucket
from billing.pricing import chat_prices, line_cost, price_get
from billing.rollups import Plan, short_answer_tokens
from billing.selectors.reports import (
    ModelUsage,
    accumulate,
    add_into,
    days_window,
    provider_rows,
    rolled_buckets,
    usage_by_model,
)


def routing_target_price(*, at: datetime | None = None) -> PriceQuote | None:
    """The model cheaper questions could go to: BILLING_ROUTING_TARGET ("provider/model"), else
    the cheapest paid chat model in the price table."""
    configured = str(settings.BILLING_ROUTING_TARGET or "")
    if "/" in configured:
        provider, model = configured.split("/", 1)
        return price_get(provider=provider, model=model, at=at)
    paid = [p for p in chat_prices(at=at) if not p.is_free and p.model != "*"]
    if not paid:
        return None
    return min(paid, key=lambda p: (p.input_per_mtok + p.output_per_mtok, p.provider, p.model))


def optimisation_report(
    *, tenant: Tenant | None, days: int = 7, now: datetime | None = None
) -> OptimisationReport:
    """Cache hit rate and savings, and what routing short answers to the cheapest model would
    have saved, re-pricing the tokens those answers really used (measured, not a fixed ratio),
    over the last `days` calendar days.

    A "short answer" is a successful, uncached model call whose output was at most
    BILLING_ROUTING_SHORT_ANSWER_TOKENS tokens: look-ups a small model handles as well.
    """
    now = now or timezone.now()
    window = days_window(days=days, now=now)
    threshold = short_answer_tokens()
    usage = usage_by_model(tenant, window, short_tokens=threshold, include_summaries=True)
    summary = _question_summary(tenant, window, usage)
    target = routing_target_price(at=now)
    return OptimisationReport(
        days=days,
        total_cost_usd=Decimal(summary.get("cost", 0)),
        queries=int(summary.get("calls", 0)),
        cache_hits=int(summary.get("hits", 0)),
        cache_savings_usd=Decimal(summary.get("saved", 0)),
        routing_target=f"{target.provider}/{target.model}" if target else "",
        routing_short_answer_tokens=threshold,
        routing_lines=tuple(_routing_lines(_short_answers(usage), target)),
        costs_by_provider=tuple(provider_rows(usage)),
    )


def _question_summary(tenant: Tenant | None, window: Plan, usage: ModelUsage) -> dict[str, Any]:
    """Questions over the window: how many, cache hits, savings and cost (calls, hits, saved,
    cost), closed days from the member rollup and open ones from the summary rows."""
    summary: dict[str, Any] = {}
    rolled = rolled_buckets(UsageUserBucket, tenant, window).aggregate(
        calls=Sum("queries"),
        hits=Sum("cache_hits"),
        saved=Sum("cost_saved_usd"),
        cost=Sum("cost_usd"),
    )
    accumulate(summary, rolled)
    for (kind, _provider, _model, _short), values in usage.items():
        if kind == LedgerEntry.Kind.QUERY:
            accumulate(summary, {k: values.get(k) for k in ("calls", "hits", "saved", "cost")})
    return summary


def _short_answers(usage: ModelUsage) -> dict[tuple[str, str], dict[str, Any]]:
    """The short-answer model calls' sums per (provider, model)."""
    short: dict[tuple[str, str], dict[str, Any]] = {}
    for (kind, provider, model, is_short), values in usage.items():
        if kind == LedgerEntry.Kind.MODEL and is_short:
            add_into(short, (provider, model), values)
    return short


def _routing_lines(
    short: dict[tuple[str, str], dict[str, Any]], target: PriceQuote | None
) -> list[RoutingLine]:
    """Each paid model's short answers: what they cost, and what the target would have."""
    lines: list[RoutingLine] = []
    for (provider, model), r in sorted(short.items()):
        if target is None or (provider, model) == (target.provider, target.model):
            continue
        if not r.get("cost"):
            continue  # free models (offline) gain nothing from routing
        target_cost = line_cost(
            line=UsageLine(
                kind="model",
                provider=target.provider,
                model=target.model,
                input_tokens=int(r.get("input", 0)),
                cached_input_tokens=int(r.get("cached", 0)),
                cache_write_input_tokens=int(r.get("written", 0)),
                output_tokens=int(r.get("output", 0)),
            ),
            price=target,
        )
        lines.append(
            RoutingLine(
                provider=provider,
                model=model,
                queries=int(r.get("calls", 0)),
                actual_cost_usd=Decimal(r["cost"]),
                target_cost_usd=target_cost,
            )
        )
    return lines
