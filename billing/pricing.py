"""Price look-up (cached per process for a short while) and the cost of a usage line."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import timezone

from billing.contracts import PriceQuote, UsageLine

logger = logging.getLogger(__name__)

MILLION = Decimal(1_000_000)
COST_QUANTUM = Decimal("0.0000000001")  # the ledger's 10 decimals
ZERO = Decimal(0)

# The list prices a fresh install starts from (also seeded by migration 0003); admin edits are
# new rows with a later valid_from, so these never overwrite them.
SEED_FROM = datetime(2020, 1, 1, tzinfo=UTC)
DEFAULT_PRICES: tuple[dict[str, object], ...] = (
    {
        "provider": "anthropic",
        "model": "claude-sonnet-5-5",
        "kind": "chat",
        "input_per_mtok": Decimal("3.00"),
        "output_per_mtok": Decimal("15.00"),
        "cached_input_per_mtok": Decimal("0.30"),
        "cache_write_per_mtok": Decimal("3.75"),
        "notes": "Anthropic's published Claude Sonnet tier: $3 input, $15 output, $0.30 cache "
        "read, $3.75 five-minute cache write per MTok.",
    },
    {
        "provider": "openai",
        "model": "gpt-5.4-mini",
        "kind": "chat",
        "input_per_mtok": Decimal("0.75"),
        "output_per_mtok": Decimal("4.50"),
        "cached_input_per_mtok": Decimal("0.075"),
        "cache_write_per_mtok": Decimal("0"),
        "notes": "OpenAI list price for gpt-5.4-mini (March 2026): $0.75 input, $4.50 output, "
        "$0.075 cached input per MTok; no cache-write surcharge.",
    },
    {
        "provider": "openai",
        "model": "text-embedding-3-small",
        "kind": "embedding",
        "input_per_mtok": Decimal("0.02"),
        "notes": "OpenAI list price for text-embedding-3-small: $0.02 per MTok.",
    },
    {
        "provider": "offline",
        "model": "*",
        "kind": "chat",
        "input_per_mtok": Decimal("0"),
        "notes": "The offline extractive provider runs in-process: free.",
    },
    {
        "provider": "local",
        "model": "all-MiniLM-L6-v2",
        "kind": "embedding",
        "input_per_mtok": Decimal("0"),
        "notes": "The MiniLM embedder runs in-process on CPU: free.",
    },
)

_lock = threading.Lock()
_cache: dict[str, object] = {"loaded_at": 0.0, "rows": ()}
_warned: set[tuple[str, str]] = set()


def price_cache_clear() -> None:
    """Forget the cached price table (admin edits and tests call this)."""
    with _lock:
        _cache["loaded_at"] = 0.0
        _cache["rows"] = ()


def prices_ensure_defaults(*, using: str = "default") -> int:
    """Give every default model its list price when it has no price row at all (a fresh or
    flushed database; run after migrate and flush); a model with any row, edited or not, is left
    alone. Returns how many rows were created."""
    from billing.models import Price

    prices = Price.objects.using(using)
    priced = set(prices.values_list("provider", "model").distinct())
    created = 0
    for row in DEFAULT_PRICES:
        if (row["provider"], row["model"]) in priced:
            continue
        prices.get_or_create(
            provider=row["provider"],
            model=row["model"],
            valid_from=SEED_FROM,
            defaults={k: v for k, v in row.items() if k not in ("provider", "model")},
        )
        created += 1
    return created


def _rows() -> Sequence[tuple[str, str, str, datetime, PriceQuote]]:
    ttl = float(settings.BILLING_PRICE_CACHE_SECONDS)
    now = time.monotonic()
    with _lock:
        if now - float(_cache["loaded_at"]) < ttl and _cache["rows"]:  # type: ignore[arg-type]
            return _cache["rows"]  # type: ignore[return-value]
    from billing.models import Price

    rows = tuple(
        (
            p.provider,
            p.model,
            p.kind,
            p.valid_from,
            PriceQuote(
                provider=p.provider,
                model=p.model,
                kind=p.kind,
                input_per_mtok=p.input_per_mtok,
                output_per_mtok=p.output_per_mtok,
                cached_input_per_mtok=p.cached_input_per_mtok,
                cache_write_per_mtok=p.cache_write_per_mtok or p.input_per_mtok,
            ),
        )
        for p in Price.objects.order_by("-valid_from")
    )
    with _lock:
        _cache["rows"] = rows
        _cache["loaded_at"] = now
    return rows


def price_get(*, provider: str, model: str, at: datetime | None = None) -> PriceQuote:
    """The price valid at `at` (default now) for provider and model.

    Falls back to the provider's `*` row, then to the most expensive chat price known (logged
    once per model), so an unpriced model is budgeted conservatively rather than for free.
    """
    at = at or timezone.now()
    rows = _rows()
    for wanted in (model, "*"):
        for row_provider, row_model, _kind, valid_from, quote in rows:
            if row_provider == provider and row_model == wanted and valid_from <= at:
                return quote
    chat = [q for _, _, kind, valid_from, q in rows if kind == "chat" and valid_from <= at]
    if (provider, model) not in _warned:
        _warned.add((provider, model))
        logger.warning(
            "No price for %s/%s: charging the most expensive chat price until one is added",
            provider,
            model,
        )
    if not chat:
        return PriceQuote(provider, model, "chat", ZERO, ZERO, ZERO, ZERO, known=False)
    dearest = max(chat, key=lambda q: (q.output_per_mtok, q.input_per_mtok))
    return PriceQuote(
        provider=provider,
        model=model,
        kind="chat",
        input_per_mtok=dearest.input_per_mtok,
        output_per_mtok=dearest.output_per_mtok,
        cached_input_per_mtok=dearest.input_per_mtok,
        cache_write_per_mtok=dearest.cache_write_per_mtok,
        known=False,
    )


def chat_prices(*, at: datetime | None = None) -> list[PriceQuote]:
    """Every chat model's price valid at `at`, one per provider and model."""
    at = at or timezone.now()
    seen: dict[tuple[str, str], PriceQuote] = {}
    for provider, model, kind, valid_from, quote in _rows():
        if kind == "chat" and valid_from <= at and (provider, model) not in seen:
            seen[(provider, model)] = quote
    return list(seen.values())


def line_cost(*, line: UsageLine, price: PriceQuote) -> Decimal:
    """USD for one call: uncached input, cache reads, cache writes and output at their rates."""
    total = (
        Decimal(line.uncached_input_tokens) * price.input_per_mtok
        + Decimal(line.cached_input_tokens) * price.cached_input_per_mtok
        + Decimal(line.cache_write_input_tokens) * price.cache_write_per_mtok
        + Decimal(line.output_tokens) * price.output_per_mtok
    ) / MILLION
    # A plain 0 for free calls: Decimal("0E-10") is the same amount but reads badly in JSON.
    return total.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP) if total else ZERO


def tokens_cost(
    *, price: PriceQuote, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0
) -> Decimal:
    """USD for a token count on one model (estimates, reservations, what-if re-pricing)."""
    return line_cost(
        line=UsageLine(
            kind="model",
            provider=price.provider,
            model=price.model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_input_tokens=cached_input_tokens,
        ),
        price=price,
    )


def embedding_model() -> tuple[str, str]:
    """(provider, model) of the query embedder (settings.EMBEDDING_MODEL), as the price table
    names them."""
    name = str(settings.EMBEDDING_MODEL)
    key = name.strip().lower().removeprefix("sentence-transformers/").removeprefix("openai/")
    if key.startswith("text-embedding"):
        return "openai", key
    return "local", "all-MiniLM-L6-v2" if key in {"minilm", "all-minilm-l6-v2"} else name
