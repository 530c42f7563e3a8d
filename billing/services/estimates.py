"""What a question may cost before it is answered: the worst case held on the budget, the
refined hold once the prompt is known, and the prices of the chain's models.

Billing owns these figures; the agents pass in what only they can count (the chain's models as
(provider, model) pairs, prompt tokens per model, the question's embedding tokens).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from billing.contracts import PriceQuote
from billing.pricing import embedding_model, price_get, tokens_cost

ChainModels = Sequence[tuple[str, str]]
ChainPrices = Mapping[tuple[str, str], PriceQuote]

# A follow-up's condensing prompt: at most HISTORY_TURNS x 2 earlier messages cut to
# CONDENSE_MESSAGE_CHARS, the question (QUESTION_MAX_CHARS) and the template: under 9,000
# characters, so under 4,000 tokens even at an unusually dense 2.25 characters a token.
CONDENSE_HOLD_INPUT_TOKENS = 4_000

# What one tool round adds to the next call's prompt besides the model's own output: the call's
# framing and the calculator's one-line result, generously.
TOOL_RESULT_TOKENS = 256


@dataclass(frozen=True)
class Plan:
    """A hold: the worst a query may cost and the tokens it may use, and the estimate shown."""

    amount_usd: Decimal
    tokens: int
    estimate_usd: Decimal


def chain_prices(models: ChainModels) -> dict[tuple[str, str], PriceQuote]:
    """The price now of every model of a chain, so its calls are priced without another read."""
    return {
        (provider, model): price_get(provider=provider, model=model) for provider, model in models
    }


def embedding_cost(tokens: int) -> Decimal:
    """The question's embedding on the configured embedder."""
    provider, model = embedding_model()
    price = price_get(provider=provider, model=model)
    return tokens_cost(price=price, input_tokens=tokens, output_tokens=0)


def with_tool_rounds(prompt: int, max_tokens: int, rounds: int) -> tuple[int, int]:
    """Input and output tokens of a turn that calls tools `rounds` times before answering: each
    call may write max_tokens, and each later call re-reads everything before it."""
    calls = rounds + 1
    growth = max_tokens + TOOL_RESULT_TOKENS
    input_tokens = calls * prompt + growth * rounds * calls // 2
    return input_tokens, calls * max_tokens


def _padded(tokens: int) -> int:
    return math.ceil(tokens * settings.BUDGET_TOKEN_MARGIN)


def worst_case_plan(
    *,
    models: ChainModels,
    embedding_tokens: int,
    tool_rounds: int,
    condense_output_tokens: int | None = None,
) -> Plan:
    """Before retrieval: the largest prompt the turn may send (the context budget, with the
    tokenizer margin) plus max_tokens of output, for every call a turn with `tool_rounds` may
    make, and a follow-up's condensing call (when `condense_output_tokens` is given), on the
    dearest model of the chain, plus the question's embedding."""
    max_tokens = settings.LLM_MAX_TOKENS
    prompt = _padded(max(0, settings.LLM_CONTEXT_TOKENS - max_tokens))
    input_tokens, output_tokens = with_tool_rounds(prompt, max_tokens, tool_rounds)
    if condense_output_tokens is not None:
        input_tokens += CONDENSE_HOLD_INPUT_TOKENS
        output_tokens += condense_output_tokens
    prices = chain_prices(models)
    dearest = max(
        tokens_cost(price=price, input_tokens=input_tokens, output_tokens=output_tokens)
        for price in prices.values()
    )
    amount = dearest + embedding_cost(embedding_tokens)
    return Plan(
        amount_usd=amount,
        tokens=input_tokens + output_tokens + embedding_tokens,
        estimate_usd=amount,
    )


def request_plan(
    *,
    prompt_tokens: Mapping[tuple[str, str], int],
    prices: ChainPrices,
    max_tokens: int,
    tool_rounds: int,
    embedding_tokens: int,
    spent_usd: Decimal = Decimal(0),
) -> Plan:
    """With the final prompt (`prompt_tokens` counted per model, in chain order): the estimate is
    the chain's first model answering with up to max_tokens in one call; the hold is the dearest
    model with the tokenizer margin on the counted prompt, for every call the turn's tool rounds
    may make, on top of what the turn has already spent (a follow-up's condensing call)."""
    holds: list[tuple[Decimal, int]] = []
    estimate: Decimal | None = None
    for key, counted in prompt_tokens.items():
        price = prices.get(key) or price_get(provider=key[0], model=key[1])
        if estimate is None:
            estimate = tokens_cost(price=price, input_tokens=counted, output_tokens=max_tokens)
        input_tokens, output_tokens = with_tool_rounds(_padded(counted), max_tokens, tool_rounds)
        holds.append(
            (
                tokens_cost(price=price, input_tokens=input_tokens, output_tokens=output_tokens),
                input_tokens + output_tokens,
            )
        )
    embed_usd = embedding_cost(embedding_tokens)
    return Plan(
        amount_usd=max(h[0] for h in holds) + embed_usd + spent_usd,
        tokens=max(h[1] for h in holds) + embedding_tokens,
        estimate_usd=(estimate or Decimal(0)) + embed_usd + spent_usd,
    )
