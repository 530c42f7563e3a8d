"""The Anthropic provider driving the real SDK against the local fake Messages API."""

import asyncio

import pytest

from agents.contracts import ChatMessage, ModelRequest, StreamEnd, TextDelta, UsageReport
from agents.providers.anthropic_provider import DEFAULT_ANTHROPIC_MODEL, AnthropicProvider
from agents.providers.base import ProviderError
from tests.fakes.llm_server import (
    FakeLLMServer,
    drop_after,
    error_status,
    llm_env_fixture,  # noqa: F401 - pytest fixture
    llm_server_fixture,  # noqa: F401 - pytest fixture
    ok,
    overloaded,
    rate_limited,
    slow,
)

REQUEST = ModelRequest(
    system="Answer from the passages and cite them.",
    messages=(ChatMessage("user", "What was revenue in 2023?"),),
    question="What was revenue in 2023?",
    max_tokens=300,
)


def provider_for(server: FakeLLMServer) -> AnthropicProvider:
    return AnthropicProvider(api_key="sk-ant-test", base_url=server.anthropic_base_url)


def credential(headers: dict[str, str]) -> str:
    """The API key as sent: this SDK version uses a bearer token, older ones x-api-key."""
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")


async def collect(provider: AnthropicProvider) -> list:
    return [event async for event in provider.stream(REQUEST)]


async def collect_text(provider: AnthropicProvider, received: list[str]) -> None:
    async for event in provider.stream(REQUEST):
        if isinstance(event, TextDelta):
            received.append(event.text)


@pytest.mark.asyncio
async def test_streamed_answer_arrives_word_by_word_then_usage_with_cache_counts(llm_server):
    llm_server.script(
        ok(
            "Revenue was $4.2 billion.",
            input_tokens=1200,
            output_tokens=9,
            cached_input_tokens=1000,
            cache_creation_input_tokens=150,
        )
    )

    events = await collect(provider_for(llm_server))

    deltas = [event.text for event in events if isinstance(event, TextDelta)]
    assert deltas == ["Revenue ", "was ", "$4.2 ", "billion."]
    assert isinstance(events[-2], UsageReport)
    assert events[-1] == StreamEnd("end_turn")
    usage = events[-2].usage
    assert (usage.provider, usage.model) == ("anthropic", DEFAULT_ANTHROPIC_MODEL)
    assert usage.input_tokens == 1200
    assert usage.cached_input_tokens == 1000
    assert usage.cache_creation_input_tokens == 150
    assert usage.uncached_input_tokens == 50
    assert usage.output_tokens == 9


@pytest.mark.asyncio
async def test_complete_returns_the_whole_answer_and_usage_without_streaming(llm_server):
    llm_server.script(ok("Net income was $300 million.", input_tokens=80, output_tokens=7))

    text, usage = await provider_for(llm_server).complete(REQUEST)

    assert text == "Net income was $300 million."
    assert (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens) == (80, 7, 0)
    assert llm_server.requests[0].stream is False


@pytest.mark.asyncio
async def test_request_sends_the_system_prompt_marked_for_caching_and_the_messages(llm_server):
    await collect(provider_for(llm_server))

    body = llm_server.requests[0].body
    assert body["model"] == DEFAULT_ANTHROPIC_MODEL
    assert body["max_tokens"] == 300
    assert body["stream"] is True
    assert body["system"] == [
        {
            "type": "text",
            "text": "Answer from the passages and cite them.",
            "cache_control": {"type": "ephemeral"},
        }
    ]
    assert body["messages"] == [{"role": "user", "content": "What was revenue in 2023?"}]
    assert credential(llm_server.requests[0].headers) == "sk-ant-test"
    assert "anthropic-version" in llm_server.requests[0].headers


@pytest.mark.asyncio
async def test_max_output_tokens_setting_caps_the_request(llm_server):
    provider = AnthropicProvider(
        api_key="k", base_url=llm_server.anthropic_base_url, max_output_tokens=128
    )

    await collect(provider)

    assert llm_server.requests[0].body["max_tokens"] == 128


@pytest.mark.asyncio
async def test_overloaded_529_is_a_retryable_error_and_the_sdk_does_not_retry_it(llm_server):
    llm_server.script(overloaded(), ok())

    with pytest.raises(ProviderError) as caught:
        await collect(provider_for(llm_server))

    assert caught.value.status == 529
    assert caught.value.retryable is True
    assert caught.value.partial is False
    assert len(llm_server.requests) == 1


@pytest.mark.asyncio
async def test_rate_limit_reports_the_retry_after_the_api_asked_for(llm_server):
    llm_server.script(rate_limited(retry_after=7))

    with pytest.raises(ProviderError) as caught:
        await collect(provider_for(llm_server))

    assert caught.value.status == 429
    assert caught.value.retryable is True
    assert caught.value.retry_after == 7.0


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_client_errors_are_not_retryable(llm_server, status):
    llm_server.script(error_status(status, "no"))

    with pytest.raises(ProviderError) as caught:
        await collect(provider_for(llm_server))

    assert caught.value.status == status
    assert caught.value.retryable is False


@pytest.mark.asyncio
async def test_server_error_500_is_retryable(llm_server):
    llm_server.script(error_status(500))

    with pytest.raises(ProviderError) as caught:
        await collect(provider_for(llm_server))

    assert (caught.value.status, caught.value.retryable) == (500, True)


@pytest.mark.asyncio
async def test_connection_dropped_mid_stream_raises_a_partial_error_with_the_text_and_usage(
    llm_server,
):
    llm_server.script(drop_after(3, "Revenue was $4.2 billion in fiscal 2023."))
    received: list[str] = []

    with pytest.raises(ProviderError) as caught:
        await collect_text(provider_for(llm_server), received)

    error = caught.value
    assert error.partial is True
    assert error.partial_text == "Revenue was $4.2 " == "".join(received)
    assert error.kind == "connection"
    assert error.usage is not None
    assert error.usage.output_tokens > 0
    assert error.usage.input_tokens > 0


@pytest.mark.asyncio
async def test_closing_the_stream_closes_the_upstream_connection(llm_server):
    llm_server.script(slow("one two three four five six seven eight", delay=0.2))
    stream = provider_for(llm_server).stream(REQUEST)

    first = await anext(stream)
    await stream.aclose()

    assert first == TextDelta("one ")
    request = llm_server.requests[0]
    assert await asyncio.to_thread(request.client_closed.wait, 5)
    assert request.tokens_sent < 8


@pytest.mark.asyncio
async def test_key_and_base_url_come_from_the_environment(llm_env):
    llm_env.script(ok("From the environment."))

    text, _ = await AnthropicProvider().complete(REQUEST)

    assert text == "From the environment."
    assert credential(llm_env.requests_for("anthropic")[0].headers) == "sk-ant-test"


def test_default_model_is_not_in_the_sdk_deprecation_table():
    from anthropic._data.deprecated_models import DEPRECATED_MODELS

    assert DEFAULT_ANTHROPIC_MODEL not in DEPRECATED_MODELS
