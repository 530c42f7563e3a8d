"""Frozen data shapes crossing between the agent engine, the LLM providers and billing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AttemptOutcome = Literal["ok", "error", "timeout", "circuit_open", "interrupted"]


@dataclass(frozen=True)
class ContextPassage:
    """One retrieved passage as the model sees it; `number` is the `[n]` marker an answer cites."""

    number: int
    text: str
    document: str
    page: int | None
    source: str = ""
    chunk_id: int | None = None
    document_id: int | None = None


@dataclass(frozen=True)
class ChatMessage:
    """One turn of the conversation sent to a model."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class ToolDefinition:
    """A tool the model may call: its name, what it does, and its arguments as JSON Schema."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolUse:
    """The model asks for a tool call. `arguments_error` says why the arguments could not be
    read (not JSON, not an object); the call is then answered with that error, not run."""

    call_id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    arguments_error: str = ""


@dataclass(frozen=True)
class ToolExchange:
    """One tool call the model made and the output we sent back."""

    call_id: str
    name: str
    arguments: dict[str, Any]
    output: str
    is_error: bool = False


@dataclass(frozen=True)
class ToolRound:
    """One model turn that ended by calling tools: the text it wrote first and the calls with
    their outputs. Providers render these into their own wire format on the next call."""

    text: str
    exchanges: tuple[ToolExchange, ...]


@dataclass(frozen=True)
class ModelRequest:
    """What one model call needs.

    Real providers send `system` and `messages` (the engine has already rendered the passages into
    them), then the `tool_rounds` of this turn so far; the offline provider answers from
    `question` and `passages` directly. `tools` are offered to the model; with `tool_choice`
    "none" they are described but may not be called (the last round must answer in text).
    """

    system: str
    messages: tuple[ChatMessage, ...]
    question: str
    passages: tuple[ContextPassage, ...] = ()
    max_tokens: int = 1024
    temperature: float = 0.0
    tools: tuple[ToolDefinition, ...] = ()
    tool_rounds: tuple[ToolRound, ...] = ()
    tool_choice: Literal["auto", "none"] = "auto"
    # "condense" rewrites a follow-up as a standalone question before retrieval; hooks that shape
    # or price the answer's prompt (context trim, the budget's refined hold, the cache) skip it.
    purpose: Literal["answer", "condense"] = "answer"


@dataclass(frozen=True)
class ModelUsage:
    """Tokens one model call consumed, normalised across providers.

    `input_tokens` is the whole prompt, cache reads and cache writes included (OpenAI reports it
    that way; Anthropic's three counters are summed). `cached_input_tokens` and
    `cache_creation_input_tokens` are the parts of it read from and written to the prompt cache,
    so a price table charges `uncached_input_tokens` at the base input rate.
    """

    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    @property
    def uncached_input_tokens(self) -> int:
        return max(
            0, self.input_tokens - self.cached_input_tokens - self.cache_creation_input_tokens
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class TextDelta:
    """A piece of answer text, in order; concatenating every delta gives the answer."""

    text: str


@dataclass(frozen=True)
class UsageReport:
    """The usage of the attempt that produced the answer; sent once, after the last TextDelta."""

    usage: ModelUsage


@dataclass(frozen=True)
class StreamEnd:
    """The answer is complete.

    `stop_reason` is normalised: "end_turn", "max_tokens", "tool_use" (the ToolUse events before
    it want answers), "refusal", or the provider's own word.
    """

    stop_reason: str


@dataclass(frozen=True)
class ProviderSwitched:
    """The failover chain gave up on one provider before it streamed anything and moved on."""

    from_provider: str
    to_provider: str
    reason: str


StreamEvent = TextDelta | ToolUse | UsageReport | StreamEnd | ProviderSwitched


@dataclass(frozen=True)
class AttemptRecord:
    """One call (or skipped call) to one provider, for the cost ledger, metrics and traces.

    `usage` is what the provider reported, or an estimate when the attempt was cut short
    before the provider reported any (interrupted or failed mid-stream).
    """

    provider: str
    model: str
    outcome: AttemptOutcome
    latency_ms: int
    first_token_ms: int | None
    usage: ModelUsage | None
    error: str = ""
