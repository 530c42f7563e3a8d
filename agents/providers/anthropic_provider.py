"""Claude through the official Anthropic SDK: streamed Messages API, errors as ProviderError."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import anthropic
import httpx2

from agents.contracts import (
    ModelRequest,
    ModelUsage,
    StreamEnd,
    StreamEvent,
    TextDelta,
    UsageReport,
)
from agents.providers.base import (
    LLMProvider,
    ProviderError,
    client_for_running_loop,
    normalise_stop_reason,
    parse_retry_after,
    retryable_status,
    tool_use_from_json,
)
from agents.tokens import estimate_tokens

# The newest Sonnet the installed SDK lists (anthropic/types/model_param.py) that is not in its
# deprecation table (anthropic/_data/deprecated_models.py retires claude-sonnet-4-5).
DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-5-5"

_INPUT_COUNTERS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


class AnthropicProvider(LLMProvider):
    """Claude via `AsyncAnthropic`.

    The key and base URL come from ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL, read by the SDK;
    `api_key` and `base_url` exist for tests. The SDK's own retries are off: FailoverChain owns
    them. The Messages API version this SDK speaks has no sampling temperature, so
    `request.temperature` is not sent.
    """

    is_offline = False

    def __init__(
        self,
        *,
        model: str = DEFAULT_ANTHROPIC_MODEL,
        timeout_s: float = 60.0,
        max_output_tokens: int | None = None,
        cache_system_prompt: bool = True,
        api_key: str | None = None,
        base_url: str | None = None,
        name: str = "anthropic",
    ):
        self.name = name
        self.model = model
        self.timeout_s = timeout_s
        self.max_output_tokens = max_output_tokens
        self.cache_system_prompt = cache_system_prompt
        self._api_key = api_key
        self._base_url = base_url

    def _client(self) -> anthropic.AsyncAnthropic:
        def build() -> anthropic.AsyncAnthropic:
            return anthropic.AsyncAnthropic(
                api_key=self._api_key,
                base_url=self._base_url,
                max_retries=0,
                timeout=httpx2.Timeout(self.timeout_s, connect=min(5.0, self.timeout_s)),
            )

        key = ("anthropic", self._api_key, self._base_url, self.timeout_s)
        return client_for_running_loop(key, build)

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        max_tokens = request.max_tokens
        if self.max_output_tokens is not None:
            max_tokens = min(max_tokens, self.max_output_tokens)
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "messages": [
                *({"role": m.role, "content": m.content} for m in request.messages),
                *_tool_round_messages(request),
            ],
        }
        if request.tools:
            params["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
            params["tool_choice"] = {"type": request.tool_choice}
        if request.system:
            block: dict[str, Any] = {"type": "text", "text": request.system}
            if self.cache_system_prompt:
                # The system prompt (instructions and passages) is the long part repeated across a
                # conversation's turns; marking it lets follow-up turns read it from the cache.
                block["cache_control"] = {"type": "ephemeral"}
            params["system"] = [block]
        return params

    def _usage(self, counters: dict[str, int], output_tokens: int) -> ModelUsage:
        cache_read = counters.get("cache_read_input_tokens", 0)
        cache_write = counters.get("cache_creation_input_tokens", 0)
        return ModelUsage(
            provider=self.name,
            model=self.model,
            input_tokens=counters.get("input_tokens", 0) + cache_read + cache_write,
            output_tokens=output_tokens,
            cached_input_tokens=cache_read,
            cache_creation_input_tokens=cache_write,
        )

    async def stream(self, request: ModelRequest) -> AsyncGenerator[StreamEvent, None]:
        streamed: list[str] = []
        counters: dict[str, int] = {}
        output_tokens: int | None = None
        stop_reason: str | None = None
        # Tool calls arrive as a content block whose JSON arguments stream in fragments.
        tool_blocks: dict[int, tuple[str, str, list[str]]] = {}
        sdk_stream = None
        try:
            sdk_stream = await self._client().messages.create(**self._params(request), stream=True)
            async for event in sdk_stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    if event.delta.text:
                        streamed.append(event.delta.text)
                        yield TextDelta(event.delta.text)
                elif event.type == "content_block_start" and event.content_block.type == "tool_use":
                    block = event.content_block
                    tool_blocks[event.index] = (block.id, block.name, [])
                elif event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                    if event.index in tool_blocks:
                        tool_blocks[event.index][2].append(event.delta.partial_json)
                elif event.type == "content_block_stop" and event.index in tool_blocks:
                    call_id, name, fragments = tool_blocks.pop(event.index)
                    yield tool_use_from_json(call_id, name, "".join(fragments))
                elif event.type == "message_start":
                    _merge_counters(counters, event.message.usage)
                    output_tokens = event.message.usage.output_tokens
                elif event.type == "message_delta":
                    # message_delta counters are cumulative, so they replace message_start's.
                    _merge_counters(counters, event.usage)
                    output_tokens = event.usage.output_tokens
                    stop_reason = event.delta.stop_reason or stop_reason
        except ProviderError:
            raise
        except Exception as exc:
            partial_text = "".join(streamed)
            usage = None
            if partial_text:
                # Input counts arrived with message_start; the output so far has to be counted.
                estimated = estimate_tokens(self.name, self.model, partial_text)
                if counters:
                    usage = self._usage(counters, max(estimated, output_tokens or 0))
                else:
                    usage = self.estimate_usage(request, partial_text)
            raise self._error(exc, partial_text=partial_text, usage=usage) from exc
        finally:
            if sdk_stream is not None:
                await sdk_stream.close()

        text = "".join(streamed)
        if output_tokens is None:
            usage = self.estimate_usage(request, text)
        else:
            usage = self._usage(counters, output_tokens)
        yield UsageReport(usage)
        yield StreamEnd(normalise_stop_reason(stop_reason))

    async def complete(self, request: ModelRequest) -> tuple[str, ModelUsage]:
        try:
            message = await self._client().messages.create(**self._params(request))
        except Exception as exc:
            raise self._error(exc, partial_text="", usage=None) from exc
        text = "".join(block.text for block in message.content if block.type == "text")
        counters: dict[str, int] = {}
        _merge_counters(counters, message.usage)
        return text, self._usage(counters, message.usage.output_tokens)

    def _error(
        self, exc: Exception, *, partial_text: str, usage: ModelUsage | None
    ) -> ProviderError:
        common: dict[str, Any] = {
            "provider": self.name,
            "partial_text": partial_text,
            "usage": usage,
        }
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            error_type = _error_field(exc.body, "type")
            if status == 200 and error_type == "overloaded_error":
                # An `error` event inside a 200 stream is how the API reports overload mid-answer.
                status = 529
            return ProviderError(
                _error_field(exc.body, "message") or str(exc),
                status=status,
                retryable=retryable_status(status)
                or error_type in ("overloaded_error", "api_error"),
                retry_after=parse_retry_after(exc.response.headers),
                kind="status",
                **common,
            )
        if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
            return ProviderError("timed out", retryable=True, kind="timeout", **common)
        if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
            return ProviderError(
                f"connection failed: {exc}", retryable=True, kind="connection", **common
            )
        return ProviderError(
            f"unexpected response: {type(exc).__name__}: {exc}",
            retryable=False,
            kind="protocol",
            **common,
        )


def _tool_round_messages(request: ModelRequest) -> list[dict[str, Any]]:
    """Each tool round as the assistant's tool_use blocks and the user's tool_result blocks."""
    messages: list[dict[str, Any]] = []
    for tool_round in request.tool_rounds:
        content: list[dict[str, Any]] = []
        if tool_round.text:
            content.append({"type": "text", "text": tool_round.text})
        content += [
            {"type": "tool_use", "id": x.call_id, "name": x.name, "input": x.arguments}
            for x in tool_round.exchanges
        ]
        messages.append({"role": "assistant", "content": content})
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": x.call_id,
                        "content": x.output,
                        "is_error": x.is_error,
                    }
                    for x in tool_round.exchanges
                ],
            }
        )
    return messages


def _merge_counters(counters: dict[str, int], usage: Any) -> None:
    for field in _INPUT_COUNTERS:
        value = getattr(usage, field, None)
        if value is not None:
            counters[field] = value


def _error_field(body: object, field: str) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get(field), str):
            return error[field]
    return ""
