"""Writes to the cost ledger: one row per model or embedding call, one summary per question."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.postgres.aggregates import BoolOr
from django.db import connection
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Tenant, User
from billing.contracts import PricedLine, PriceQuote, UsageLine
from billing.models import MONEY_PLACES, LedgerEntry
from billing.pricing import line_cost, price_get

MONEY_ZERO = Decimal(0).quantize(Decimal(10) ** -MONEY_PLACES)


# --- Periods -----------------------------------------------------------------------------


def period_start_for(at: datetime) -> date:
    """The first day (UTC) of the calendar month holding `at`."""
    at = at.astimezone(UTC)
    return date(at.year, at.month, 1)


def period_resets_at(period_start: date) -> datetime:
    """Midnight UTC on the first day of the month after `period_start`."""
    year, month = period_start.year, period_start.month
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


# --- Ledger ------------------------------------------------------------------------------


def ledger_line_price(
    *, line: UsageLine, at: datetime | None = None, price: PriceQuote | None = None
) -> PricedLine:
    """`line` priced at `at` (default now), with `price` when the caller already holds the quote
    valid then (so no price table read is needed)."""
    at = at or timezone.now()
    price = price or price_get(provider=line.provider, model=line.model, at=at)
    return PricedLine(line=line, at=at, cost_usd=line_cost(line=line, price=price))


_LINE_COLUMNS = """
    (created_at, tenant_id, user_id, conversation_id, query_id, kind, provider, model,
     input_tokens, output_tokens, cached_input_tokens, cache_write_input_tokens, cost_usd,
     cost_saved_usd, latency_ms, cache_hit, status, providers_tried)
"""
_LINES_SQL = "INSERT INTO billing_ledgerentry {columns} VALUES {rows}"


def _line_rows(lines: Sequence[PricedLine], params: dict[str, Any], *, user: User | None) -> str:
    """VALUES rows for `lines`, their values added to `params` (tenant, conversation and query
    are the shared %(tenant)s, %(conversation)s and %(query)s)."""
    params["user"] = user.pk if user is not None else None
    rows = []
    for n, priced in enumerate(lines):
        line = priced.line
        values = {
            "at": priced.at,
            "kind": line.kind,
            "provider": line.provider,
            "model": line.model,
            "input": line.input_tokens,
            "output": line.output_tokens,
            "cached": line.cached_input_tokens,
            "cache_write": line.cache_write_input_tokens,
            "cost": priced.cost_usd,
            "saved": line.cost_saved_usd,
            "latency": line.latency_ms,
            "hit": line.cache_hit,
            "status": line.status,
        }
        params.update({f"{name}_{n}": value for name, value in values.items()})
        rows.append(
            f"(%(at_{n})s, %(tenant)s, %(user)s, %(conversation)s, %(query)s, %(kind_{n})s, "
            f"%(provider_{n})s, %(model_{n})s, %(input_{n})s, %(output_{n})s, %(cached_{n})s, "
            f"%(cache_write_{n})s, %(cost_{n})s, %(saved_{n})s, %(latency_{n})s, %(hit_{n})s, "
            f"%(status_{n})s, '{{}}')"
        )
    return ",\n".join(rows)


def ledger_lines_record(
    *,
    tenant: Tenant,
    user: User | None,
    conversation_id: int | None,
    query_id: uuid.UUID,
    lines: Sequence[PricedLine],
) -> None:
    """Append calls priced earlier to the ledger, in their order, in one INSERT."""
    if not lines:
        return
    params: dict[str, Any] = {
        "tenant": tenant.pk,
        "conversation": conversation_id,
        "query": query_id,
    }
    rows = _line_rows(lines, params, user=user)
    # Plain SQL: this runs for the calls of every question, and the ORM's save machinery would
    # cost more than the statement itself.
    with connection.cursor() as cursor:
        cursor.execute(_LINES_SQL.format(columns=_LINE_COLUMNS, rows=rows), params)


def ledger_line_record(
    *,
    tenant: Tenant,
    user: User | None,
    conversation_id: int | None,
    query_id: uuid.UUID,
    line: UsageLine,
    at: datetime | None = None,
) -> Decimal:
    """Append one model or embedding call to the ledger, priced now; returns its cost in USD."""
    priced = ledger_line_price(line=line, at=at)
    ledger_lines_record(
        tenant=tenant,
        user=user,
        conversation_id=conversation_id,
        query_id=query_id,
        lines=[priced],
    )
    return priced.cost_usd


@dataclass(frozen=True)
class QueryTotals:
    cost_usd: Decimal
    tokens: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cost_saved_usd: Decimal
    cache_hit: bool


def query_totals(*, tenant: Tenant | int, query_id: uuid.UUID) -> QueryTotals:
    """The sum of a query's call rows (every attempt and embedding, failed ones included)."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    totals = (
        LedgerEntry.objects.filter(tenant_id=tenant_id, query_id=query_id)
        .exclude(kind=LedgerEntry.Kind.QUERY)
        .aggregate(
            cost=Coalesce(Sum("cost_usd"), MONEY_ZERO),
            input=Coalesce(Sum("input_tokens"), 0),
            output=Coalesce(Sum("output_tokens"), 0),
            cached=Coalesce(Sum("cached_input_tokens"), 0),
            saved=Coalesce(Sum("cost_saved_usd"), MONEY_ZERO),
            hit=Coalesce(BoolOr("cache_hit"), False),
        )
    )
    return QueryTotals(
        cost_usd=totals["cost"],
        tokens=int(totals["input"]) + int(totals["output"]),
        input_tokens=int(totals["input"]),
        output_tokens=int(totals["output"]),
        cached_input_tokens=int(totals["cached"]),
        cost_saved_usd=totals["saved"],
        cache_hit=bool(totals["hit"]),
    )


_SUMMARY_SQL = """
{calls}
INSERT INTO billing_ledgerentry
    (created_at, tenant_id, user_id, conversation_id, query_id, kind, provider, model,
     input_tokens, output_tokens, cached_input_tokens, cache_write_input_tokens, cost_usd,
     cost_saved_usd, estimated_cost_usd, latency_ms, cache_hit, status, providers_tried)
SELECT %(at)s, %(tenant)s, %(user)s, %(conversation)s, %(query)s, 'query', %(provider)s,
       %(model)s, COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),
       COALESCE(SUM(cached_input_tokens), 0), COALESCE(SUM(cache_write_input_tokens), 0),
       COALESCE(SUM(cost_usd), 0), COALESCE(SUM(cost_saved_usd), 0), %(estimated)s,
       %(latency)s, COALESCE(BOOL_OR(cache_hit), false), %(status)s, %(tried)s
  FROM calls
RETURNING cost_usd, input_tokens, output_tokens, cached_input_tokens, cost_saved_usd, cache_hit
"""
# The query's calls already on the ledger.
_CALLS_RECORDED_SQL = """
WITH calls AS (
    SELECT input_tokens, output_tokens, cached_input_tokens, cache_write_input_tokens, cost_usd,
           cost_saved_usd, cache_hit
      FROM billing_ledgerentry
     WHERE tenant_id = %(tenant)s AND query_id = %(query)s AND kind <> 'query'
)
"""
# Those, and calls not on the ledger yet, which the same statement appends: its snapshot does not
# see them in the table, so they are summed from what their INSERT returns.
_CALLS_WITH_NEW_SQL = """
WITH added AS (
    INSERT INTO billing_ledgerentry {columns}
    VALUES {rows}
    RETURNING input_tokens, output_tokens, cached_input_tokens, cache_write_input_tokens,
              cost_usd, cost_saved_usd, cache_hit
), calls AS (
    SELECT input_tokens, output_tokens, cached_input_tokens, cache_write_input_tokens, cost_usd,
           cost_saved_usd, cache_hit
      FROM billing_ledgerentry
     WHERE tenant_id = %(tenant)s AND query_id = %(query)s AND kind <> 'query'
    UNION ALL
    SELECT * FROM added
)
"""


def query_summary_record(
    *,
    tenant: Tenant,
    user: User | None,
    conversation_id: int | None,
    query_id: uuid.UUID,
    status: str,
    latency_ms: int,
    providers_tried: Sequence[str],
    provider: str = "",
    model: str = "",
    estimated_cost_usd: Decimal | None = None,
    at: datetime | None = None,
    lines: Sequence[PricedLine] = (),
) -> QueryTotals:
    """Append the one summary row of a query: its total cost, tokens, latency and the providers
    tried, summed from its call rows in the same statement. `lines` are calls priced but not
    on the ledger yet: the same statement appends them first (one round trip, one commit).
    Returns those totals."""
    params: dict[str, Any] = {
        "at": at or timezone.now(),
        "tenant": tenant.pk,
        "user": user.pk if user is not None else None,
        "conversation": conversation_id,
        "query": query_id,
        "provider": provider,
        "model": model,
        "estimated": estimated_cost_usd,
        "latency": latency_ms,
        "status": status if status in LedgerEntry.Status.values else "error",
        "tried": list(providers_tried),
    }
    calls = _CALLS_RECORDED_SQL
    if lines:
        rows = _line_rows(lines, params, user=user)
        calls = _CALLS_WITH_NEW_SQL.format(columns=_LINE_COLUMNS, rows=rows)
    with connection.cursor() as cursor:
        cursor.execute(_SUMMARY_SQL.format(calls=calls), params)
        cost, tokens_in, tokens_out, cached, saved, hit = cursor.fetchone()
    return QueryTotals(
        cost_usd=cost,
        tokens=int(tokens_in) + int(tokens_out),
        input_tokens=int(tokens_in),
        output_tokens=int(tokens_out),
        cached_input_tokens=int(cached),
        cost_saved_usd=saved,
        cache_hit=bool(hit),
    )


@dataclass(frozen=True)
class AnswerTotals:
    """What a saved answer shows: the cost of all its calls (embedding included) and the tokens
    of its model calls, summed from the ledger at the ledger's precision."""

    cost_usd: Decimal
    input_tokens: int
    output_tokens: int


# A query's call rows (not its summary), summed for the message that answers it.
_ANSWER_TOTALS_SQL = """
SELECT COALESCE(SUM(cost_usd), 0),
       COALESCE(SUM(input_tokens) FILTER (WHERE kind = %(model)s), 0),
       COALESCE(SUM(output_tokens) FILTER (WHERE kind = %(model)s), 0)
  FROM billing_ledgerentry
 WHERE tenant_id = %(tenant)s AND query_id = %(query)s AND kind <> %(summary)s
"""


def query_answer_totals(*, tenant: Tenant, query_id: uuid.UUID) -> AnswerTotals:
    """The ledger's totals of a query's call rows, for the message that answers it."""
    # Plain SQL: this runs once per answer, and compiling the ORM's aggregate cost more than
    # running it (bench/billing_cache).
    with connection.cursor() as cursor:
        cursor.execute(
            _ANSWER_TOTALS_SQL,
            {
                "tenant": tenant.pk,
                "query": query_id,
                "model": LedgerEntry.Kind.MODEL.value,
                "summary": LedgerEntry.Kind.QUERY.value,
            },
        )
        cost, input_tokens, output_tokens = cursor.fetchone()
    return AnswerTotals(
        # A plain 0 for a free answer, as line_cost gives: Decimal("0E-10") reads badly in JSON.
        cost_usd=cost or Decimal(0),
        input_tokens=int(input_tokens),
        output_tokens=int(output_tokens),
    )
