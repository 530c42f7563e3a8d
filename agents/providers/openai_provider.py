"""OpenAI, or any OpenAI-compatible server, through the official SDK's streamed Chat Completions."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import httpx2
import openai

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

# A current small model the installed SDK does not list as deprecated
# (openai/types/shared/chat_model.py schedules gpt-4.1-mini and gpt-5-mini for shutdown).
DEFAULT_OPENAI_MODEL = "gpt-5.4-mini"

# Reasoning models accept only their default temperature and reject any other value.
_REASONING_PREFIXES = ("gpt-5", "o1", "o3", "o4")


class OpenAIProvider(LLMProvider):
    """Chat Completions via `AsyncOpenAI`.

    The key and base URL come from OPENAI_API_KEY / OPENAI_BASE_URL, read by the SDK, so a
    self-hosted OpenAI-compatible server works by setting the URL; `api_key` and `base_url`
    exist for tests. The SDK's own retries are off: FailoverChain owns them.
    """

    is_offline = False

    def __init__(
        self,
        *,
        model: str = DEFAULT_OPENAI_MODEL,
        timeout_s: float = 60.0,
        max_output_tokens: int | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        name: str = "openai",
    ):
        self.name = name
        self.model = model
        self.timeout_s = timeout_s
        self.max_output_tokens = max_output_tokens
        self._api_key = api_key
        self._base_url = base_url

    def _client(self) -> openai.AsyncOpenAI:
        def build() -> openai.AsyncOpenAI:
            kwargs: dict[str, Any] = {
                "max_retries": 0,
                "timeout": httpx2.Timeout(self.timeout_s, connect=min(5.0, self.timeout_s)),
            }
            if self._api_key is not None:
                kwargs["api_key"] = self._api_key
            if self._base_url is not None:
                kwargs["base_url"] = self._base_url
            return openai.AsyncOpenAI(**kwargs)

        key = ("openai", self._api_key, self._base_url, self.timeout_s)
        return client_for_running_loop(key, build)

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        max_tokens = request.max_tokens
        if self.max_output_tokens is not None:
            max_tokens = min(max_tokens, self.max_output_tokens)
        messages: list[dict[str, Any]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.extend({"role": m.role, "content": m.content} for m in request.messages)
        messages.extend(_tool_round_messages(request))
        params: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            # max_tokens is deprecated and refused by reasoning models; this one works for all.
            "max_completion_tokens": max_tokens,
        }
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in request.tools
            ]
            params["tool_choice"] = request.tool_choice
        if not self.model.lower().startswith(_REASONING_PREFIXES):
            params["temperature"] = request.temperature
        return params

    def _usage(self, usage: Any) -> ModelUsage:
        details = getattr(usage, "prompt_tokens_details", None)
        return ModelUsage(
            provider=self.name,
            model=self.model,
            input_tokens=usage.prompt_tokens,
            output_tokens=usage.completion_tokens,
            cached_input_tokens=(getattr(details, "cached_tokens", None) or 0),
            cache_creation_input_tokens=(getattr(details, "cache_write_tokens", None) or 0),
        )

    async def stream(self, request: ModelRequest) -> AsyncGenerator[StreamEvent, None]:
        streamed: list[str] = []
        usage: ModelUsage | None = None
        finish_reason: str | None = None
        # Tool calls stream as fragments keyed by index: the id and name first, then arguments.
        tool_calls: dict[int, tuple[list[str], list[str], list[str]]] = {}
        sdk_stream = None
        try:
            sdk_stream = await self._client().chat.completions.create(
                **self._params(request),
                stream=True,
                stream_options={"include_usage": True},
            )
            async for chunk in sdk_stream:
                if chunk.usage is not None:
                    usage = self._usage(chunk.usage)
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    if choice.delta is not None and choice.delta.content:
                        streamed.append(choice.delta.content)
                        yield TextDelta(choice.delta.content)
                    for call in (choice.delta.tool_calls if choice.delta else None) or ():
                        ids, names, arguments = tool_calls.setdefault(call.index, ([], [], []))
                        if call.id:
                            ids.append(call.id)
                        if call.function is not None:
                            names.append(call.function.name or "")
                            arguments.append(call.function.arguments or "")
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
        except ProviderError:
            raise
        except Exception as exc:
            raise self._error(exc, partial_text="".join(streamed), request=request) from exc
        finally:
            if sdk_stream is not None:
                await sdk_stream.close()

        for index in sorted(tool_calls):
            ids, names, arguments = tool_calls[index]
            yield tool_use_from_json(
                ids[0] if ids else f"call_{index}", "".join(names), "".join(arguments)
            )
        # Some OpenAI-compatible servers ignore include_usage; an estimate beats no ledger row.
        yield UsageReport(usage or self.estimate_usage(request, "".join(streamed)))
        yield StreamEnd(normalise_stop_reason(finish_reason))

    async def complete(self, request: ModelRequest) -> tuple[str, ModelUsage]:
        try:
            completion = await self._client().chat.completions.create(**self._params(request))
        except Exception as exc:
            raise self._error(exc, partial_text="", request=request) from exc
        text = (completion.choices[0].message.content or "") if completion.choices else ""
        if completion.usage is None:
            return text, self.estimate_usage(request, text)
        return text, self._usage(completion.usage)

    def _error(self, exc: Exception, *, partial_text: str, request: ModelRequest) -> ProviderError:
        usage = self.estimate_usage(request, partial_text) if partial_text else None
        common: dict[str, Any] = {
            "provider": self.name,
            "partial_text": partial_text,
            "usage": usage,
        }
        if isinstance(exc, openai.APIStatusError):
            return ProviderError(
                _error_message(exc.body) or str(exc),
                status=exc.status_code,
                retryable=retryable_status(exc.status_code),
                retry_after=parse_retry_after(exc.response.headers),
                kind="status",
                **common,
            )
        if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
            return ProviderError("timed out", retryable=True, kind="timeout", **common)
        if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
            return ProviderError(
                f"connection failed: {exc}", retryable=True, kind="connection", **common
            )
        if isinstance(exc, openai.APIError):
            # An error object inside a 200 stream: the server gave up mid-answer.
            return ProviderError(
                _error_message(exc.body) or str(exc), retryable=True, kind="status", **common
            )
        return ProviderError(
            f"unexpected response: {type(exc).__name__}: {exc}",
            retryable=False,
            kind="protocol",
            **common,
        )


def _tool_round_messages(request: ModelRequest) -> list[dict[str, Any]]:
    """Each tool round as an assistant message with tool_calls and one `tool` message per call."""
    messages: list[dict[str, Any]] = []
    for tool_round in request.tool_rounds:
        messages.append(
            {
                "role": "assistant",
                "content": tool_round.text or None,
                "tool_calls": [
                    {
                        "id": x.call_id,
                        "type": "function",
                        "function": {"name": x.name, "arguments": json.dumps(x.arguments)},
                    }
                    for x in tool_round.exchanges
                ],
            }
        )
        messages.extend(
            {"role": "tool", "tool_call_id": x.call_id, "content": x.output}
            for x in tool_round.exchanges
        )
    return messages


def _error_message(body: object) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
    return ""
