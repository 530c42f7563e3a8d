"""Token estimates for budgeting before a call, measured against what providers later report.

Which tokenizer:
- OpenAI gpt-4o, gpt-4.1, gpt-4.5, gpt-5.x and the o-series use `o200k_base`; gpt-4 / gpt-3.5 and
  other older OpenAI models use `cl100k_base`. Unknown models served through an OpenAI-compatible
  endpoint are counted with `o200k_base` as well.
- Claude's tokenizer is not published. We count with `cl100k_base` and multiply by
  `CLAUDE_CL100K_FACTOR`. Public side-by-side counts of English prose and financial filings
  (Anthropic's `count_tokens` endpoint against tiktoken) put Claude 3/4 at roughly 10-20% more
  tokens than cl100k, so 1.15 is the midpoint. It is an estimate for reserving budget only: the
  ledger always bills the usage the provider reports, and `estimate_error` lets monitoring watch
  the drift per model so the factor can be re-tuned from production numbers.
- The offline provider counts with `o200k_base`.

There is no internet: tiktoken reads its encodings from the copy llama-index ships, so the cache
directory is pointed there before tiktoken loads an encoding.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

    from agents.contracts import ModelRequest

CLAUDE_CL100K_FACTOR = 1.15

# Chat formats wrap each message in a few control tokens and prime the reply with a few more
# (OpenAI's published accounting: 3 per message, 3 for the reply); Claude's format is close enough
# that the same overhead keeps estimates within the tokenizer's own error.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3
# Anthropic documents a tool-use system prompt of a few hundred tokens added whenever tools are
# offered (346 for auto tool choice on current models); OpenAI's is smaller. The larger is used.
TOOLS_OVERHEAD = 346

_O200K_PREFIXES = (
    "gpt-4o",
    "gpt-4.1",
    "gpt-4.5",
    "gpt-5",
    "o1",
    "o3",
    "o4",
    "chatgpt-4o",
    "gpt-oss",
)
_CL100K_PREFIXES = ("gpt-4", "gpt-3.5", "text-embedding-ada", "text-embedding-3")


def _tiktoken_cache_dir() -> str | None:
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "_static" / "tiktoken_cache"
        if candidate.is_dir():
            return str(candidate)
    return None


@cache
def _encoding(name: str) -> tiktoken.Encoding:
    cache_dir = _tiktoken_cache_dir()
    if cache_dir:
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", cache_dir)
    import tiktoken

    return tiktoken.get_encoding(name)


# A turn counts the same texts several times (the budget hold prices the prompt on each model of
# the chain, the context trim and the usage estimate count it again): count each text once.
# Bounded: a few hundred recent texts, the longest a whole prompt.
@lru_cache(maxsize=256)
def _token_count(encoding_name: str, text: str) -> int:
    return len(_encoding(encoding_name).encode(text, disallowed_special=()))


def encoding_name_for(provider: str, model: str) -> str:
    """The tiktoken encoding used to count text for this provider and model."""
    model = model.lower()
    if provider == "anthropic" or model.startswith("claude"):
        return "cl100k_base"
    if model.startswith(_O200K_PREFIXES):
        return "o200k_base"
    if model.startswith(_CL100K_PREFIXES):
        return "cl100k_base"
    return "o200k_base"


def estimate_tokens(provider: str, model: str, text: str) -> int:
    """Estimated number of tokens `text` costs on this provider and model."""
    if not text:
        return 0
    count = _token_count(encoding_name_for(provider, model), text)
    if provider == "anthropic" or model.lower().startswith("claude"):
        return math.ceil(count * CLAUDE_CL100K_FACTOR)
    return count


def count_request_tokens(provider: str, model: str, request: ModelRequest) -> int:
    """Estimated input tokens of a whole request, message framing included.

    The offline provider reads the question and the passages rather than the rendered prompt,
    so that is what is counted for it.
    """
    if provider == "offline":
        parts = [request.question, *(passage.text for passage in request.passages)]
        return sum(estimate_tokens(provider, model, part) for part in parts)
    total = TOKENS_PER_REPLY
    if request.system:
        total += TOKENS_PER_MESSAGE + estimate_tokens(provider, model, request.system)
    for message in request.messages:
        total += TOKENS_PER_MESSAGE + estimate_tokens(provider, model, message.content)
    if request.tools:
        # Providers render the definitions into the prompt as JSON with some framing of their own.
        definitions = json.dumps(
            [[tool.name, tool.description, tool.parameters] for tool in request.tools]
        )
        total += TOOLS_OVERHEAD + estimate_tokens(provider, model, definitions)
    for tool_round in request.tool_rounds:
        total += 2 * TOKENS_PER_MESSAGE + estimate_tokens(provider, model, tool_round.text)
        for exchange in tool_round.exchanges:
            call = f"{exchange.call_id}{exchange.name}{json.dumps(exchange.arguments)}"
            total += TOKENS_PER_MESSAGE + estimate_tokens(provider, model, call + exchange.output)
    return total


def passage_tokens(provider: str, model: str, *, text: str, rendered: str) -> int:
    """About what one passage adds to count_request_tokens: its text for the offline provider
    (which reads the passages, not the prompt), else its block as rendered into the prompt.

    Counted on its own, so close to but not exactly its share of the whole prompt: tokens may
    merge across the block's edges and the Claude factor rounds per text.
    """
    return estimate_tokens(provider, model, text if provider == "offline" else rendered)


def estimate_error(estimated: int, actual: int) -> float:
    """Signed relative error of an estimate: positive when it over-counted.

    An actual count of zero is treated as one token so the ratio stays finite.
    """
    return (estimated - actual) / max(actual, 1)
