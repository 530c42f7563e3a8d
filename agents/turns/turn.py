"""The typed state of one question's turn, which every step and hook reads and fills."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agents.contracts import AttemptRecord, ContextPassage
from agents.providers.chains import ResolvedChain
from agents.tools import ToolResult
from billing.contracts import CachedAnswer, PriceQuote, Reservation, StreamSlot, UsageLine

ANSWERED = ("ok", "interrupted")


@dataclass(frozen=True)
class CacheLookup:
    """The answer cache looked up under `key`, for a request of prompt `version` on `chain`."""

    key: str
    version: str
    chain: tuple[str, ...]
    entry: CachedAnswer | None
    saved_usd: Decimal


@dataclass
class CacheOutcome:
    """What the answer cache did for this turn."""

    lookup: CacheLookup | None = None
    # A hit found before any work: its passages, so the turn skips retrieval and the prompt.
    passages: tuple[dict[str, Any], ...] | None = None
    # The entry replayed instead of a model call, and what answering again would have cost.
    hit: CachedAnswer | None = None
    saved_usd: Decimal = Decimal(0)


@dataclass
class Billing:
    """The turn's money: the hold on the budget, the slot it streams in, the chain's prices."""

    slot: StreamSlot | None = None
    reservation: Reservation | None = None
    prices: dict[tuple[str, str], PriceQuote] = field(default_factory=dict)
    embedding_recorded: bool = False
    budget_warning: dict[str, str] | None = None
    # Calls not on the ledger yet: an answer-cache replay's row, which the query's summary
    # statement appends (one round trip and one commit for a hit's whole ledger).
    unrecorded: list[UsageLine] = field(default_factory=list)


@dataclass
class Timings:
    """perf_counter marks of the turn; latency is measured from `started`."""

    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started

    @property
    def elapsed_ms(self) -> int:
        return int(self.elapsed_s * 1000)


AttemptReporter = Callable[[AttemptRecord], Awaitable[None]]


async def _unreported(attempt: AttemptRecord) -> None:
    raise RuntimeError("A turn's attempts are reported through its pipeline (Pipeline.bind).")


@dataclass
class Turn:
    """One question from validation to its saved answer.

    `question` becomes the standalone question once a follow-up has been condensed. `chain` is
    resolved once, before any hook runs, and is what both failover and billing use. Attempts
    arrive through `attempt_ended` (the failover chain's callback, or the answer cache's replay),
    which runs every hook's after_model as each attempt ends.
    """

    tenant: Any
    user: Any
    membership: Any
    conversation_id: int
    question: str
    chain: ResolvedChain | None = None
    query_id: uuid.UUID = field(default_factory=uuid.uuid4)
    tier: str = "free"
    is_follow_up: bool = False
    scope: dict[str, Any] | None = None  # the conversation's scope, once read (the cache key)
    corpus_version: str | None = None
    pii_mapping: dict[str, str] = field(default_factory=dict)
    attempts: list[AttemptRecord] = field(default_factory=list)
    tool_results: list[ToolResult] = field(default_factory=list)
    passages: tuple[ContextPassage, ...] = ()  # what the model was sent, after trimming
    sub_questions: list[str] = field(default_factory=list)
    billing: Billing = field(default_factory=Billing)
    cache: CacheOutcome = field(default_factory=CacheOutcome)
    timings: Timings = field(default_factory=Timings)
    estimated_input_tokens: int = 0
    estimated_cost_usd: Decimal = Decimal(0)
    cost_usd: Decimal = Decimal(0)
    status: str = "ok"
    error_code: str = ""
    verification: list[dict[str, Any]] = field(default_factory=list)
    masked_question: str | None = None
    message_id: int | None = None
    attempt_ended: AttemptReporter = _unreported

    @property
    def answering_attempt(self) -> AttemptRecord | None:
        """The attempt whose text the user saw, else the last attempt made (None before any)."""
        for attempt in reversed(self.attempts):
            if attempt.outcome in ANSWERED:
                return attempt
        return self.attempts[-1] if self.attempts else None

    @property
    def answered_by(self) -> AttemptRecord | None:
        """The attempt whose text the user saw, if any did."""
        attempt = self.answering_attempt
        return attempt if attempt is not None and attempt.outcome in ANSWERED else None

    @property
    def input_tokens(self) -> int:
        return sum(a.usage.input_tokens for a in self.attempts if a.usage)

    @property
    def output_tokens(self) -> int:
        return sum(a.usage.output_tokens for a in self.attempts if a.usage)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def latency_ms(self) -> int:
        return self.timings.elapsed_ms

    @property
    def offline_only(self) -> bool:
        return self.chain is not None and self.chain.is_offline_only

    @property
    def cache_hit(self) -> bool:
        return self.cache.hit is not None

    @property
    def chain_models(self) -> tuple[tuple[str, str], ...]:
        """(provider, model) of the resolved chain; raises RuntimeError before it is resolved."""
        if self.chain is None:
            raise RuntimeError("The turn's chain is resolved when the turn is prepared.")
        return self.chain.models

    @property
    def chain_names(self) -> list[str]:
        return list(self.chain.names) if self.chain is not None else []
