"""The OpenAI provider driving the real SDK against the local fake Chat Completions API."""

import asyncio

import pytest

from agents.contracts import ChatMessage, ModelRequest, StreamEnd, TextDelta, UsageReport
from agents.providers.base import ProviderError
from agents.providers.openai_provider import DEFAULT_OPENAI_MODEL, OpenAIProvider
from agents.tokens import estimate_tokens
from tests.fakes.llm_server import (
    FakeLLMServer,
    drop_after,
    error_status,
    llm_env_fixture,  # noqa: F401 - pytest fixture
    llm_server_fixture,  # noqa: F401 - pytest fixture
    ok,
    rate_limited,
    slow,
)

REQUEST = ModelRequest(
    system="Answer from the passages and cite them.",
    messages=(
        ChatMessage("user", "What was revenue in 2022?"),
        ChatMessage("assistant", "Revenue was $3.9 billion [1]."),
        ChatMessage("user", "And in 2023?"),
    ),
    question="And in 2023?",
    max_tokens=256,
    temperature=0.0,
)


def provider_for(server: FakeLLMServer, model: str = DEFAULT_OPENAI_MODEL) -> OpenAIProvider:
    return OpenAIProvider(api_key="sk-test", base_url=server.openai_base_url, model=model)


async def collect(provider: OpenAIProvider) -> list:
    return [event async for event in provider.stream(REQUEST)]


@pytest.mark.asyncio
async def test_streamed_answer_arrives_word_by_word_then_usage_with_cached_tokens(llm_server):
    llm_server.script(
        ok(
            "Revenue was $4.2 billion.",
            input_tokens=2048,
            output_tokens=8,
            cached_input_tokens=1024,
        )
    )

    events = await collect(provider_for(llm_server))

    assert [e.text for e in events if isinstance(e, TextDelta)] == [
        "Revenue ",
        "was ",
        "$4.2 ",
        "billion.",
    ]
    assert isinstance(events[-2], UsageReport)
    assert events[-1] == StreamEnd("end_turn")
    usage = events[-2].usage
    assert (usage.provider, usage.model) == ("openai", DEFAULT_OPENAI_MODEL)
    assert (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens) == (2048, 1024, 8)
    assert usage.uncached_input_tokens == 1024


@pytest.mark.asyncio
async def test_stream_asks_for_usage_and_sends_system_then_conversation(llm_server):
    await collect(provider_for(llm_server))

    body = llm_server.requests[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_completion_tokens"] == 256
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert body["messages"][0]["content"] == "Answer from the passages and cite them."
    assert llm_server.requests[0].headers["authorization"] == "Bearer sk-test"


@pytest.mark.asyncio
async def test_reasoning_models_get_no_temperature_but_older_models_do(llm_server):
    await collect(provider_for(llm_server, model="gpt-5.4-mini"))
    await collect(provider_for(llm_server, model="gpt-4o"))

    assert "temperature" not in llm_server.requests[0].body
    assert llm_server.requests[1].body["temperature"] == 0.0


@pytest.mark.asyncio
async def test_complete_returns_the_whole_answer_and_usage_without_streaming(llm_server):
    llm_server.script(ok("It was $4.2 billion.", input_tokens=500, output_tokens=6))

    text, usage = await provider_for(llm_server).complete(REQUEST)

    assert text == "It was $4.2 billion."
    assert (usage.input_tokens, usage.output_tokens) == (500, 6)
    assert "stream" not in llm_server.requests[0].body or not llm_server.requests[0].stream


@pytest.mark.asyncio
async def test_rate_limit_is_retryable_with_retry_after_and_the_sdk_does_not_retry(llm_server):
    llm_server.script(rate_limited(retry_after=3), ok())

    with pytest.raises(ProviderError) as caught:
        await collect(provider_for(llm_server))

    assert (caught.value.status, caught.value.retryable) == (429, True)
    assert caught.value.retry_after == 3.0
    assert len(llm_server.requests) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (401, False)])
async def test_status_errors_map_to_retryable_or_not(llm_server, status, retryable):
    llm_server.script(error_status(status))

    with pytest.raises(ProviderError) as caught:
        await collect(provider_for(llm_server))

    assert (caught.value.status, caught.value.retryable) == (status, retryable)


@pytest.mark.asyncio
async def test_connection_dropped_mid_stream_raises_a_partial_error_with_estimated_usage(
    llm_server,
):
    llm_server.script(drop_after(2, "Revenue was $4.2 billion."))

    with pytest.raises(ProviderError) as caught:
        await collect(provider_for(llm_server))

    error = caught.value
    assert error.partial_text == "Revenue was "
    assert error.retryable is True
    assert error.usage is not None
    assert error.usage.output_tokens == estimate_tokens(
        "openai", DEFAULT_OPENAI_MODEL, "Revenue was "
    )


@pytest.mark.asyncio
async def test_closing_the_stream_closes_the_upstream_connection(llm_server):
    llm_server.script(slow("one two three four five six seven eight", delay=0.2))
    stream = provider_for(llm_server).stream(REQUEST)

    assert await anext(stream) == TextDelta("one ")
    await stream.aclose()

    request = llm_server.requests[0]
    assert await asyncio.to_thread(request.client_closed.wait, 5)
    assert request.tokens_sent < 8


@pytest.mark.asyncio
async def test_server_that_ignores_include_usage_still_yields_an_estimated_usage(llm_server):
    llm_server.script(ok("Revenue was $4.2 billion.", report_usage=False))

    events = await collect(provider_for(llm_server))

    usage = events[-2].usage
    assert usage.output_tokens == estimate_tokens(
        "openai", DEFAULT_OPENAI_MODEL, "Revenue was $4.2 billion."
    )
    assert usage.input_tokens > 0


@pytest.mark.asyncio
async def test_key_and_base_url_come_from_the_environment(llm_env):
    llm_env.script(ok("From the environment."))

    text, _ = await OpenAIProvider().complete(REQUEST)

    assert text == "From the environment."
    assert llm_env.requests_for("openai")[0].headers["authorization"] == "Bearer sk-test"
