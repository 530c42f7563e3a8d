"""The interface every LLM provider implements, and the one error type providers raise."""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
import weakref
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import UTC, datetime
from typing import Literal, TypeVar

from agents.contracts import (
    ModelRequest,
    ModelUsage,
    StreamEvent,
    TextDelta,
    ToolUse,
    UsageReport,
)
from agents.tokens import count_request_tokens, estimate_tokens

ErrorKind = Literal["status", "timeout", "connection", "protocol"]

# 408 request timeout, 409 conflict (Anthropic uses it for transient lock contention), 425 too
# early, 429 rate limited; every 5xx including Anthropic's 529 "overloaded" is transient too.
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})

_WORD_PIECE = re.compile(r"\s*\S+\s*")


class ProviderError(Exception):
    """A provider call failed.

    `retryable` says whether the same call may succeed if repeated; `status` is the HTTP status
    when there was one; `retry_after` the seconds the provider asked us to wait. When the
    failure came after text was already streamed, `partial` is true and `partial_text` holds what
    the user has already seen, so nobody repeats it or asks another provider to start over.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        retryable: bool,
        kind: ErrorKind = "status",
        status: int | None = None,
        retry_after: float | None = None,
        partial_text: str = "",
        usage: ModelUsage | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.retryable = retryable
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.partial_text = partial_text
        self.usage = usage

    @property
    def partial(self) -> bool:
        return bool(self.partial_text)

    @property
    def counts_against_provider(self) -> bool:
        """Whether the failure says something about the provider's health (for the breaker).

        A 400/404/422 says our request was wrong, not that the provider is down.
        """
        if self.status is None:
            return True
        return self.retryable or self.status in (401, 403)

    def __str__(self) -> str:
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{self.provider}: {self.message}{status}"


def retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(tz=UTC)).total_seconds())


def word_pieces(text: str) -> list[str]:
    """Split text into streamable pieces that concatenate back to exactly the text."""
    pieces = _WORD_PIECE.findall(text)
    if "".join(pieces) != text:
        return [text] if text else []
    return pieces


class LLMProvider(ABC):
    """One language model behind one API.

    `stream` yields TextDelta events, then exactly one UsageReport, then one StreamEnd, and
    raises ProviderError on failure. Closing the iterator early must close the upstream
    connection before `aclose()` returns.
    """

    name: str
    model: str
    is_offline: bool = False

    @abstractmethod
    def stream(self, request: ModelRequest) -> AsyncGenerator[StreamEvent, None]:
        """Stream the answer to `request`; raises ProviderError."""

    async def complete(self, request: ModelRequest) -> tuple[str, ModelUsage]:
        """The whole answer and its usage; raises ProviderError."""
        parts: list[str] = []
        usage: ModelUsage | None = None
        async for event in self.stream(request):
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, UsageReport):
                usage = event.usage
        text = "".join(parts)
        return text, usage or self.estimate_usage(request, text)

    def estimate_input_tokens(self, request: ModelRequest) -> int:
        return count_request_tokens(self.name, self.model, request)

    def estimate_usage(self, request: ModelRequest, output_text: str) -> ModelUsage:
        """Usage to record when the provider reported none (cut-short streams, bare servers)."""
        return ModelUsage(
            provider=self.name,
            model=self.model,
            input_tokens=self.estimate_input_tokens(request),
            output_tokens=estimate_tokens(self.name, self.model, output_text),
        )


def normalise_stop_reason(reason: str | None) -> str:
    mapping = {
        "stop": "end_turn",
        "length": "max_tokens",
        "content_filter": "refusal",
        "tool_calls": "tool_use",
        "function_call": "tool_use",
    }
    if not reason:
        return "end_turn"
    return mapping.get(reason, reason)


def tool_use_from_json(call_id: str, name: str, raw: str) -> ToolUse:
    """A ToolUse from the argument JSON a model streamed; unreadable arguments are kept as an
    error for the model to correct rather than raised."""
    if not raw.strip():
        return ToolUse(call_id=call_id, name=name, arguments={})
    try:
        arguments = json.loads(raw)
    except json.JSONDecodeError as exc:
        return ToolUse(call_id, name, {}, f"The arguments were not valid JSON ({exc.msg}).")
    if not isinstance(arguments, dict):
        return ToolUse(call_id, name, {}, "The arguments must be a JSON object.")
    return ToolUse(call_id=call_id, name=name, arguments=arguments)


ClientT = TypeVar("ClientT")

# SDK clients hold an httpx connection pool bound to the event loop that opened it, and Django
# runs async code on more than one loop (ASGI, async_to_sync in threads), so a client is kept per
# loop rather than per process.
_clients_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, object]] = (
    weakref.WeakKeyDictionary()
)


def client_for_running_loop(key: tuple, factory: Callable[[], ClientT]) -> ClientT:
    loop = asyncio.get_running_loop()
    clients = _clients_by_loop.setdefault(loop, {})
    client = clients.get(key)
    if client is None:
        client = factory()
        clients[key] = client
    return client  # type: ignore[return-value]
