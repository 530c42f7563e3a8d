"""The failover chain over real SDKs: retries, backoff, breakers, switching and cancelling."""

import asyncio
import email.utils
from datetime import UTC, datetime, timedelta

import pytest

from accounts.errors import ProviderUnavailable
from agents.contracts import (
    AttemptRecord,
    ChatMessage,
    ContextPassage,
    ModelRequest,
    ProviderSwitched,
    StreamEnd,
    TextDelta,
    UsageReport,
)
from agents.providers.anthropic_provider import AnthropicProvider
from agents.providers.base import ProviderError, parse_retry_after
from agents.providers.breakers import (
    BREAKERS,
    BreakerConfig,
    BreakerRegistry,
    BreakerState,
    CircuitBreaker,
    breaker_states,
)
from agents.providers.chains import ProviderSettings, build_chain, provider_settings_from_django
from agents.providers.failover import FailoverChain
from agents.providers.offline import OfflineProvider
from agents.providers.openai_provider import OpenAIProvider
from tests.fakes.llm_server import (
    FakeLLMServer,
    drop_after,
    error_status,
    hang,
    llm_server_fixture,  # noqa: F401 - pytest fixture
    ok,
    overloaded,
    rate_limited,
    server_error,
    slow,
    stall_after,
)

REQUEST = ModelRequest(
    system="Answer from the passages.",
    messages=(ChatMessage("user", "What was revenue in fiscal 2023?"),),
    question="What was revenue in fiscal 2023?",
    passages=(ContextPassage(1, "Revenue was $4.2 billion in fiscal 2023.", "10-K", 41),),
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Waits:
    """Stands in for asyncio.sleep: records each backoff instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def anthropic(server: FakeLLMServer) -> AnthropicProvider:
    return AnthropicProvider(api_key="sk-ant-test", base_url=server.anthropic_base_url)


def openai(server: FakeLLMServer) -> OpenAIProvider:
    return OpenAIProvider(api_key="sk-test", base_url=server.openai_base_url)


def chain_of(providers, **options) -> FailoverChain:
    options.setdefault("sleep", Waits())
    options.setdefault("breakers", BreakerRegistry())
    options.setdefault("jitter", lambda cap: cap)
    options.setdefault("first_token_timeout_s", 5.0)
    return FailoverChain(providers, **options)


async def run(chain: FailoverChain) -> list:
    return [event async for event in chain.stream(REQUEST)]


def text_of(events: list) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


@pytest.mark.asyncio
async def test_primary_overloaded_answer_comes_from_the_secondary(llm_server):
    llm_server.script(overloaded(), overloaded(), api="anthropic")
    llm_server.script(ok("Secondary says $4.2 billion.", input_tokens=40), api="openai")
    chain = chain_of([anthropic(llm_server), openai(llm_server)], max_retries=1)

    events = await run(chain)

    assert events[0] == ProviderSwitched("anthropic", "openai", "http_529")
    assert text_of(events) == "Secondary says $4.2 billion."
    assert events[-2].usage.provider == "openai"
    assert [(a.provider, a.outcome) for a in chain.attempts] == [
        ("anthropic", "error"),
        ("anthropic", "error"),
        ("openai", "ok"),
    ]
    assert chain.attempts[-1].usage.input_tokens == 40
    assert chain.attempts[-1].first_token_ms is not None


@pytest.mark.asyncio
async def test_primary_that_hangs_times_out_and_the_secondary_answers(llm_server):
    llm_server.script(hang(), api="anthropic")
    llm_server.script(ok("Here it is."), api="openai")
    chain = chain_of(
        [anthropic(llm_server), openai(llm_server)], max_retries=0, first_token_timeout_s=1.0
    )

    events = await run(chain)

    assert events[0] == ProviderSwitched("anthropic", "openai", "timeout")
    assert text_of(events) == "Here it is."
    assert chain.attempts[0].outcome == "timeout"
    hung = llm_server.requests_for("anthropic")[0]
    assert await asyncio.to_thread(hung.client_closed.wait, 5)


@pytest.mark.asyncio
async def test_retry_after_from_a_429_is_honoured_before_retrying_the_same_provider(llm_server):
    llm_server.script(rate_limited(retry_after=2), ok("After waiting."), api="anthropic")
    waits = Waits()
    chain = chain_of([anthropic(llm_server), openai(llm_server)], sleep=waits)

    events = await run(chain)

    assert waits.delays == [2.0]
    assert text_of(events) == "After waiting."
    assert not any(isinstance(event, ProviderSwitched) for event in events)
    assert llm_server.requests_for("openai") == []


@pytest.mark.asyncio
async def test_retry_after_longer_than_the_backoff_cap_fails_over_instead_of_waiting(llm_server):
    llm_server.script(rate_limited(retry_after=120), api="anthropic")
    waits = Waits()
    chain = chain_of([anthropic(llm_server), openai(llm_server)], sleep=waits, backoff_max=8)

    events = await run(chain)

    assert waits.delays == []
    assert events[0] == ProviderSwitched("anthropic", "openai", "http_429")


@pytest.mark.asyncio
async def test_server_errors_are_retried_with_exponential_backoff(llm_server):
    llm_server.script(server_error(500), server_error(503), ok("Third time."), api="anthropic")
    waits = Waits()
    chain = chain_of([anthropic(llm_server)], sleep=waits, max_retries=2, backoff_base=0.5)

    events = await run(chain)

    # The jitter is pinned to its cap here: base * 2**retry.
    assert waits.delays == [0.5, 1.0]
    assert text_of(events) == "Third time."


def test_backoff_uses_full_jitter_below_the_capped_exponential():
    caps: list[float] = []
    chain = FailoverChain(
        [], backoff_base=1.0, backoff_max=5.0, jitter=lambda cap: caps.append(cap) or cap / 2
    )

    delays = [chain._backoff(retry, None) for retry in range(5)]

    assert caps == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert delays == [0.5, 1.0, 2.0, 2.5, 2.5]


@pytest.mark.asyncio
async def test_authentication_failure_is_never_retried(llm_server):
    llm_server.script(error_status(401, "invalid x-api-key"), api="anthropic")
    waits = Waits()
    chain = chain_of([anthropic(llm_server)], sleep=waits, max_retries=3)

    with pytest.raises(ProviderUnavailable):
        await run(chain)

    assert len(llm_server.requests_for("anthropic")) == 1
    assert waits.delays == []


@pytest.mark.asyncio
async def test_when_every_provider_fails_the_error_is_503_listing_the_attempts(llm_server):
    llm_server.script(overloaded(), api="anthropic")
    llm_server.script(server_error(502), api="openai")
    chain = chain_of([anthropic(llm_server), openai(llm_server)], max_retries=0)

    with pytest.raises(ProviderUnavailable) as caught:
        await run(chain)

    assert caught.value.status_code == 503
    attempts = caught.value.details["attempts"]
    assert [(a["provider"], a["outcome"]) for a in attempts] == [
        ("anthropic", "error"),
        ("openai", "error"),
    ]
    assert "529" in attempts[0]["error"]


@pytest.mark.asyncio
async def test_offline_provider_answers_when_both_paid_providers_are_down(llm_server):
    llm_server.script(overloaded(), api="anthropic")
    llm_server.script(server_error(500), api="openai")
    chain = chain_of([anthropic(llm_server), openai(llm_server), OfflineProvider()], max_retries=0)

    events = await run(chain)

    switches = [event for event in events if isinstance(event, ProviderSwitched)]
    assert [s.to_provider for s in switches] == ["openai", "offline"]
    assert "[1]" in text_of(events)
    assert chain.attempts[-1].outcome == "ok"


@pytest.mark.asyncio
async def test_breaker_opens_after_repeated_failures_and_the_next_call_skips_the_provider(
    llm_server,
):
    registry = BreakerRegistry()
    config = BreakerConfig(failure_rate=0.5, min_calls=2, window_s=60, cooldown_s=30)
    llm_server.script(overloaded(), overloaded(), api="anthropic")

    for _ in range(2):
        chain = chain_of(
            [anthropic(llm_server), openai(llm_server)],
            breakers=registry,
            breaker_config=config,
            max_retries=0,
        )
        await run(chain)
    assert registry.states()["anthropic"] == "open"

    chain = chain_of(
        [anthropic(llm_server), openai(llm_server)],
        breakers=registry,
        breaker_config=config,
        max_retries=0,
    )
    events = await run(chain)

    assert len(llm_server.requests_for("anthropic")) == 2
    assert events[0] == ProviderSwitched("anthropic", "openai", "circuit_open")
    assert [(a.provider, a.outcome) for a in chain.attempts] == [
        ("anthropic", "circuit_open"),
        ("openai", "ok"),
    ]


@pytest.mark.asyncio
async def test_half_open_probe_that_succeeds_closes_the_breaker(llm_server):
    clock = FakeClock()
    registry = BreakerRegistry(clock=clock)
    config = BreakerConfig(failure_rate=0.5, min_calls=1, window_s=60, cooldown_s=30)
    llm_server.script(overloaded(), ok("Back again."), api="anthropic")

    def chain() -> FailoverChain:
        return chain_of(
            [anthropic(llm_server), openai(llm_server)],
            breakers=registry,
            breaker_config=config,
            max_retries=0,
        )

    await run(chain())
    assert registry.states()["anthropic"] == "open"

    clock.now += 31
    assert registry.states()["anthropic"] == "half_open"
    events = await run(chain())

    assert text_of(events) == "Back again."
    assert registry.states()["anthropic"] == "closed"


def test_half_open_breaker_admits_one_probe_and_reopens_when_it_fails():
    clock = FakeClock()
    breaker = CircuitBreaker(
        "anthropic", BreakerConfig(failure_rate=0.5, min_calls=2, cooldown_s=10), clock=clock
    )
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.allow() is False

    clock.now += 10
    assert breaker.allow() is True
    assert breaker.allow() is False
    breaker.record_failure()

    assert breaker.state is BreakerState.OPEN
    clock.now += 9
    assert breaker.allow() is False


def test_breaker_needs_the_minimum_calls_and_forgets_failures_outside_its_window():
    clock = FakeClock()
    breaker = CircuitBreaker(
        "openai", BreakerConfig(failure_rate=0.5, min_calls=4, window_s=60), clock=clock
    )
    for _ in range(3):
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED

    clock.now += 61
    breaker.record_success()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN


def test_process_wide_breaker_states_are_readable_for_metrics():
    BREAKERS.reset()
    try:
        BREAKERS.get("anthropic", BreakerConfig(min_calls=1, failure_rate=0.5)).record_failure()
        BREAKERS.get("openai")

        assert breaker_states() == {"anthropic": "open", "openai": "closed"}
    finally:
        BREAKERS.reset()


@pytest.mark.asyncio
async def test_failure_after_tokens_keeps_the_partial_text_and_never_asks_another_provider(
    llm_server,
):
    llm_server.script(drop_after(3, "Revenue was $4.2 billion in fiscal 2023."), api="anthropic")
    chain = chain_of([anthropic(llm_server), openai(llm_server)])
    received: list = []

    with pytest.raises(ProviderError) as caught:
        await collect_into(chain, received)

    error = caught.value
    assert error.partial is True
    assert error.partial_text == "Revenue was $4.2 " == text_of(received)
    assert error.retryable is False
    assert "cut off" in str(error)
    assert error.usage is not None
    assert error.usage.output_tokens > 0
    assert llm_server.requests_for("openai") == []
    assert len(llm_server.requests_for("anthropic")) == 1
    attempt = chain.attempts[-1]
    assert (attempt.provider, attempt.outcome) == ("anthropic", "error")
    assert attempt.usage == error.usage


async def collect_into(chain: FailoverChain, received: list) -> None:
    async for event in chain.stream(REQUEST):
        received.append(event)


@pytest.mark.asyncio
async def test_stall_after_tokens_times_out_as_a_partial_answer(llm_server):
    llm_server.script(stall_after(2, "one two three four"), api="anthropic")
    chain = chain_of([anthropic(llm_server), openai(llm_server)], timeout_s=1.0)

    with pytest.raises(ProviderError) as caught:
        await run(chain)

    assert caught.value.partial_text == "one two "
    assert caught.value.kind == "timeout"
    assert chain.attempts[-1].outcome == "timeout"
    assert llm_server.requests_for("openai") == []


@pytest.mark.asyncio
async def test_closing_the_stream_closes_upstream_and_records_an_interrupted_attempt(llm_server):
    llm_server.script(slow("one two three four five six seven eight", delay=0.2), api="anthropic")
    recorded: list[AttemptRecord] = []
    chain = chain_of([anthropic(llm_server), openai(llm_server)], on_attempt=recorded.append)
    stream = chain.stream(REQUEST)

    assert await anext(stream) == TextDelta("one ")
    assert await anext(stream) == TextDelta("two ")
    await stream.aclose()

    upstream = llm_server.requests_for("anthropic")[0]
    assert await asyncio.to_thread(upstream.client_closed.wait, 5)
    assert upstream.tokens_sent < 8
    assert [a.outcome for a in recorded] == ["interrupted"]
    assert recorded[0].usage is not None
    assert recorded[0].usage.output_tokens > 0
    assert recorded[0].first_token_ms is not None
    assert chain.attempts == recorded


@pytest.mark.asyncio
async def test_cancelling_the_consumer_task_records_an_interrupted_attempt(llm_server):
    llm_server.script(hang(), api="anthropic")
    chain = chain_of([anthropic(llm_server)], first_token_timeout_s=30)
    consumer = asyncio.create_task(run(chain))
    await asyncio.to_thread(llm_server.wait_for_requests, 1)

    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer

    assert [a.outcome for a in chain.attempts] == ["interrupted"]
    hung = llm_server.requests_for("anthropic")[0]
    assert await asyncio.to_thread(hung.client_closed.wait, 5)


@pytest.mark.asyncio
async def test_answer_ends_with_one_usage_report_then_stream_end(llm_server):
    llm_server.script(ok("Fine.", input_tokens=12, output_tokens=2), api="anthropic")
    awaited: list[AttemptRecord] = []

    async def on_attempt(record: AttemptRecord) -> None:
        awaited.append(record)

    chain = chain_of([anthropic(llm_server)], on_attempt=on_attempt)
    events = await run(chain)

    assert [type(e) for e in events] == [TextDelta, UsageReport, StreamEnd]
    assert events[1].usage.input_tokens == 12
    assert [a.outcome for a in awaited] == ["ok"]
    assert awaited[0].usage == events[1].usage


@pytest.mark.asyncio
async def test_complete_collects_the_answer_and_its_usage(llm_server):
    llm_server.script(ok("All of it."), api="openai")

    text, usage = await chain_of([openai(llm_server)]).complete(REQUEST)

    assert text == "All of it."
    assert usage.provider == "openai"


def test_provider_settings_read_django_settings(settings):
    settings.LLM_CHAINS = {"free": ["offline"], "pro": ["openai", "offline"]}
    settings.ANTHROPIC_MODEL = "claude-haiku-4-5"
    settings.LLM_TIMEOUT_SECONDS = 30
    settings.LLM_MAX_RETRIES = "1"
    settings.LLM_BREAKER_MIN_CALLS = 10

    provider_settings = provider_settings_from_django()

    assert provider_settings.chains == {"free": ("offline",), "pro": ("openai", "offline")}
    assert provider_settings.anthropic_model == "claude-haiku-4-5"
    assert provider_settings.timeout_s == 30.0
    assert provider_settings.max_retries == 1
    assert provider_settings.breaker_config.min_calls == 10
    assert provider_settings.first_token_timeout_s == settings.LLM_FIRST_TOKEN_TIMEOUT_SECONDS


def test_chain_includes_only_providers_whose_key_is_set():
    settings = ProviderSettings()

    with_openai = build_chain("pro", settings, environ={"OPENAI_API_KEY": "sk"})
    with_both = build_chain(
        "enterprise", settings, environ={"OPENAI_API_KEY": "sk", "ANTHROPIC_API_KEY": "sk-ant"}
    )
    without_keys = build_chain("pro", settings, environ={})

    assert [p.name for p in with_openai.providers] == ["openai", "offline"]
    assert [p.name for p in with_both.providers] == ["anthropic", "openai", "offline"]
    assert [p.name for p in without_keys.providers] == ["offline"]
    assert without_keys.is_offline_only


def test_free_tier_chain_is_offline_only_even_with_keys():
    chain = build_chain("free", ProviderSettings(), environ={"ANTHROPIC_API_KEY": "sk-ant"})

    assert [p.name for p in chain.providers] == ["offline"]


def test_chain_takes_models_timeouts_and_retries_from_settings():
    settings = ProviderSettings(
        anthropic_model="claude-haiku-4-5", timeout_s=12, max_retries=4, max_tokens=333
    )

    chain = build_chain("pro", settings, environ={"ANTHROPIC_API_KEY": "sk-ant"})

    primary = chain.providers[0]
    assert (primary.name, primary.model) == ("anthropic", "claude-haiku-4-5")
    assert primary.max_output_tokens == 333
    assert (chain.timeout_s, chain.max_retries) == (12, 4)


def test_unknown_tier_is_a_configuration_error():
    with pytest.raises(ValueError, match="platinum"):
        build_chain("platinum", ProviderSettings(), environ={})


def test_retry_after_is_read_from_milliseconds_seconds_or_an_http_date():
    soon = email.utils.format_datetime(datetime.now(tz=UTC) + timedelta(seconds=30), usegmt=True)

    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert 25 < parse_retry_after({"retry-after": soon}) <= 30
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
