"""Frozen data crossing into and out of billing: usage lines, prices, reservations, reports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

LineKind = Literal["model", "embedding"]
LineStatus = Literal["ok", "error", "interrupted"]


@dataclass(frozen=True)
class UsageLine:
    """One model or embedding call to record in the ledger.

    `input_tokens` is the whole prompt, cached parts included (as agents.contracts.ModelUsage
    counts it); `cached_input_tokens` and `cache_write_input_tokens` are the parts of it read from
    and written to the provider's prompt cache, each charged at its own rate.
    """

    kind: LineKind
    provider: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    latency_ms: int = 0
    status: LineStatus = "ok"
    cache_hit: bool = False
    cost_saved_usd: Decimal = Decimal(0)

    @property
    def uncached_input_tokens(self) -> int:
        return max(0, self.input_tokens - self.cached_input_tokens - self.cache_write_input_tokens)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class PriceQuote:
    """USD per million tokens for one provider and model, as valid at some moment.

    `known` is False when no row matched and the most expensive chat price stood in (so an
    unpriced model is never free by accident).
    """

    provider: str
    model: str
    kind: str
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal
    cache_write_per_mtok: Decimal
    known: bool = True

    @property
    def is_free(self) -> bool:
        return not any(
            (
                self.input_per_mtok,
                self.output_per_mtok,
                self.cached_input_per_mtok,
                self.cache_write_per_mtok,
            )
        )


@dataclass(frozen=True)
class Reservation:
    """A hold on a tenant's (and its user's) budget for one query, until settled or expired."""

    id: int
    tenant_id: int
    user_id: int | None
    query_id: uuid.UUID
    period_start: date
    amount_usd: Decimal
    tokens: int
    expires_at: datetime
    budget_used_ratio: Decimal = Decimal(0)  # tenant spend / limit when the hold was taken
    budget_warning: bool = False  # at or past BUDGET_WARNING_RATIO: UI and API say so


@dataclass(frozen=True)
class Settlement:
    """What one query actually cost, from its ledger rows, once its reservation is settled."""

    query_id: uuid.UUID
    reserved_usd: Decimal
    actual_usd: Decimal
    actual_tokens: int
    released_usd: Decimal
    warning_sent: bool = False


@dataclass(frozen=True)
class BudgetStatus:
    """A budget for the current period: allocated, spent, held and what is left."""

    scope: Literal["tenant", "user"]
    period_start: date
    resets_at: datetime
    limit_usd: Decimal | None
    spent_usd: Decimal
    reserved_usd: Decimal
    limit_tokens: int | None
    spent_tokens: int
    reserved_tokens: int
    warning_ratio: Decimal

    @property
    def remaining_usd(self) -> Decimal | None:
        if self.limit_usd is None:
            return None
        return max(Decimal(0), self.limit_usd - self.spent_usd)

    @property
    def used_ratio(self) -> Decimal:
        if not self.limit_usd:
            return Decimal(1) if self.limit_usd is not None and self.spent_usd > 0 else Decimal(0)
        return self.spent_usd / self.limit_usd

    @property
    def warning(self) -> bool:
        return self.limit_usd is not None and self.used_ratio >= self.warning_ratio

    @property
    def exhausted(self) -> bool:
        return self.limit_usd is not None and self.spent_usd >= self.limit_usd


@dataclass(frozen=True)
class RateLimitDecision:
    """The outcome of counting one request against the per-user and per-tenant limits."""

    allowed: bool
    scope: Literal["user", "tenant", "none"]
    limit: int
    remaining: int
    reset_seconds: float
    retry_after_seconds: float
    degraded: bool = False  # Redis was unreachable and the fail-open policy let it through


@dataclass(frozen=True)
class StreamSlot:
    """A concurrent-stream slot held by one query; `acquired` is False when Redis was down
    and the fail-open policy let the stream start without one."""

    key: str
    member: str
    acquired: bool


@dataclass(frozen=True)
class CachedAnswer:
    """An answer kept in the answer cache: its text, what produced it, and what it cost.

    `passages` and `tools` are opaque to billing: the agents layer stores what it needs to
    rebuild citations and show the calculations the answer used.
    """

    answer: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    passages: tuple[dict[str, Any], ...] = ()
    created_at: str = ""
    tools: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class UserCostRow:
    tenant: str
    user_id: int | None
    email: str
    query_count: int
    total_tokens: int
    total_cost_usd: Decimal
    avg_latency_ms: float
    cache_hit_rate: float


@dataclass(frozen=True)
class ProviderCostRow:
    provider: str
    total_cost_usd: Decimal
    total_tokens: int
    calls: int
    query_count: int
    avg_cost_per_query_usd: Decimal


@dataclass(frozen=True)
class ExpensiveQueryRow:
    query_id: uuid.UUID
    tenant: str
    email: str
    providers: tuple[str, ...]
    total_tokens: int
    cost_usd: Decimal
    latency_ms: int
    status: str
    created_at: datetime


@dataclass(frozen=True)
class RoutingLine:
    """Short answers one model gave, and what the same tokens cost on the routing target."""

    provider: str
    model: str
    queries: int
    actual_cost_usd: Decimal
    target_cost_usd: Decimal

    @property
    def savings_usd(self) -> Decimal:
        return max(Decimal(0), self.actual_cost_usd - self.target_cost_usd)


@dataclass(frozen=True)
class OptimisationReport:
    days: int
    total_cost_usd: Decimal
    queries: int
    cache_hits: int
    cache_savings_usd: Decimal
    routing_target: str
    routing_short_answer_tokens: int
    routing_lines: tuple[RoutingLine, ...] = field(default_factory=tuple)
    costs_by_provider: tuple[ProviderCostRow, ...] = field(default_factory=tuple)

    @property
    def cache_hit_rate(self) -> float:
        return self.cache_hits / self.queries if self.queries else 0.0

    @property
    def routing_savings_usd(self) -> Decimal:
        return sum((line.savings_usd for line in self.routing_lines), Decimal(0))

    @property
    def routing_savings_ratio(self) -> float:
        if not self.total_cost_usd:
            return 0.0
        return float(self.routing_savings_usd / self.total_cost_usd)


@dataclass(frozen=True)
class PricedLine:
    """A model or embedding call priced when it was made, to append to the ledger later (with
    the query's other calls, or with its summary) at its own time and cost."""

    line: UsageLine
    at: datetime
    cost_usd: Decimal
