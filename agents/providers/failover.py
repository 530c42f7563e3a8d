"""Retries, circuit breakers and failover across providers, recording every attempt for billing."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from accounts.errors import ProviderUnavailable
from agents.contracts import (
    AttemptOutcome,
    AttemptRecord,
    ModelRequest,
    ModelUsage,
    ProviderSwitched,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolUse,
    UsageReport,
)
from agents.providers.base import LLMProvider, ProviderError
from agents.providers.offline import OFFLINE_MODEL, OfflineProvider

logger = logging.getLogger(__name__)

DEFAULT_CHAINS: Mapping[str, tuple[str, ...]] = {
    "free": ("offline",),
    "pro": ("anthropic", "openai", "offline"),
    "enterprise": ("anthropic", "openai", "offline"),
}


class BreakerState(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


@dataclass(frozen=True)
class BreakerConfig:
    """When a provider is taken out of rotation and for how long."""

    failure_rate: float = 0.5
    min_calls: int = 5
    window_s: float = 60.0
    cooldown_s: float = 30.0


class CircuitBreaker:
    """Failure-rate breaker over a sliding time window, with a single half-open probe.

    Closed: calls pass and outcomes are counted. Once the window holds at least `min_calls`
    outcomes and the failure share reaches `failure_rate`, it opens. Open: calls are refused
    until `cooldown_s` has passed, then one probe is let through (half-open). The probe's success
    closes the breaker with a clean window; its failure opens it for another cool-down.
    """

    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.name = name
        self.config = config or BreakerConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._outcomes: deque[tuple[float, bool]] = deque()
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The state as a metric should show it: an open breaker past its cool-down is half-open."""
        with self._lock:
            if self._state is BreakerState.OPEN and self._cooled_down():
                return BreakerState.HALF_OPEN
            return self._state

    def allow(self) -> bool:
        """Whether a call may go to the provider now; a half-open breaker admits one probe."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                if not self._cooled_down():
                    return False
                self._state = BreakerState.HALF_OPEN
                self._probe_in_flight = False
            if self._probe_in_flight:
                return False
            self._probe_in_flight = True
            return True

    def record_success(self) -> None:
        with self._lock:
            if self._state is not BreakerState.CLOSED:
                self._state = BreakerState.CLOSED
                self._outcomes.clear()
                self._probe_in_flight = False
                return
            self._add(ok=True)

    def record_failure(self) -> None:
        with self._lock:
            if self._state is not BreakerState.CLOSED:
                self._open()
                return
            self._add(ok=False)
            failures = sum(1 for _, ok in self._outcomes if not ok)
            calls = len(self._outcomes)
            if calls >= self.config.min_calls and failures / calls >= self.config.failure_rate:
                self._open()

    def release(self) -> None:
        """The call ended without a verdict on the provider (cancelled, or our own bad request)."""
        with self._lock:
            self._probe_in_flight = False

    def _add(self, *, ok: bool) -> None:
        now = self._clock()
        self._outcomes.append((now, ok))
        horizon = now - self.config.window_s
        while self._outcomes and self._outcomes[0][0] < horizon:
            self._outcomes.popleft()

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._probe_in_flight = False
        self._outcomes.clear()

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self.config.cooldown_s


class BreakerRegistry:
    """The process-wide breakers, one per provider name, shared by every chain."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, name: str, config: BreakerConfig | None = None) -> CircuitBreaker:
        with self._lock:
            breaker = self._breakers.get(name)
            if breaker is None:
                breaker = CircuitBreaker(name, config, clock=self._clock)
                self._breakers[name] = breaker
            elif config is not None:
                breaker.config = config
            return breaker

    def states(self) -> dict[str, str]:
        with self._lock:
            breakers = list(self._breakers.values())
        return {breaker.name: breaker.state.value for breaker in breakers}

    def reset(self) -> None:
        with self._lock:
            self._breakers.clear()


BREAKERS = BreakerRegistry()


def breaker_states() -> dict[str, str]:
    """Provider name -> "closed" / "half_open" / "open", for metrics and health checks."""
    return BREAKERS.states()


AttemptCallback = Callable[[AttemptRecord], Awaitable[None] | None]


def _full_jitter(cap: float) -> float:
    # Jitter only spreads retries in time; it needs no cryptographic randomness.
    return random.uniform(0.0, cap)  # noqa: S311


class FailoverChain:
    """Streams an answer from the first provider able to give one.

    Per provider: up to `max_retries` retries with exponential backoff and full jitter for
    transient failures (429 honouring retry-after, 5xx, 529, connection errors, timeouts), none for
    400/401/403/404. A provider whose breaker is open is skipped. A provider that fails before
    its first token hands over to the next one (a ProviderSwitched event says so); a failure after
    text was streamed ends the stream with a partial ProviderError, since asking another model
    would repeat or contradict what the user already read.

    Every attempt becomes an AttemptRecord in `attempts` and is passed to `on_attempt`. When
    every provider fails, ProviderUnavailable (503) is raised. Closing the stream early closes
    the upstream request and records an `interrupted` attempt with the usage so far. Use one
    chain per answer.
    """

    def __init__(
        self,
        providers: Sequence[LLMProvider],
        *,
        max_retries: int = 2,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        timeout_s: float = 60.0,
        first_token_timeout_s: float = 20.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        on_attempt: AttemptCallback | None = None,
        breakers: BreakerRegistry | None = None,
        breaker_config: BreakerConfig | None = None,
        jitter: Callable[[float], float] = _full_jitter,
    ):
        self.providers = tuple(providers)
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.timeout_s = timeout_s
        self.first_token_timeout_s = first_token_timeout_s
        self.attempts: list[AttemptRecord] = []
        self._sleep = sleep
        self._on_attempt = on_attempt
        self._breakers = BREAKERS if breakers is None else breakers
        self._breaker_config = breaker_config
        self._jitter = jitter

    @property
    def is_offline_only(self) -> bool:
        return all(provider.is_offline for provider in self.providers)

    def breaker(self, provider: LLMProvider) -> CircuitBreaker:
        return self._breakers.get(provider.name, self._breaker_config)

    async def complete(self, request: ModelRequest) -> tuple[str, ModelUsage]:
        """The whole answer and the usage of the attempt that produced it."""
        parts: list[str] = []
        usage: ModelUsage | None = None
        async for event in self.stream(request):
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, UsageReport):
                usage = event.usage
        if usage is None:
            raise ProviderUnavailable(details={"attempts": self._attempt_details()})
        return "".join(parts), usage

    async def stream(self, request: ModelRequest) -> AsyncGenerator[StreamEvent, None]:
        """Answer events; raises ProviderError (partial) mid-stream or ProviderUnavailable."""
        reason = ""
        for index, provider in enumerate(self.providers):
            if index > 0:
                yield ProviderSwitched(self.providers[index - 1].name, provider.name, reason)
            breaker = self.breaker(provider)
            for retry in range(self.max_retries + 1):
                if not breaker.allow():
                    reason = "circuit_open"
                    if retry == 0:
                        await self._record(provider, "circuit_open", 0, None, None, "circuit open")
                    break
                attempt = self._attempt(provider, breaker, request)
                try:
                    async for event in attempt:
                        yield event
                    return
                except _FailedBeforeFirstToken as failed:
                    failure = failed.error
                finally:
                    # Closing this generator early must reach the attempt now, not at garbage
                    # collection, so the upstream request is closed while the user waits.
                    await attempt.aclose()
                reason = _describe(failure)
                if not failure.retryable or retry == self.max_retries:
                    break
                delay = self._backoff(retry, failure.retry_after)
                if delay is None:
                    break
                await self._sleep(delay)
        raise ProviderUnavailable(details={"attempts": self._attempt_details()})

    async def _attempt(
        self, provider: LLMProvider, breaker: CircuitBreaker, request: ModelRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        first_token_at: float | None = None
        text: list[str] = []
        # Tool calls are held until the response is complete: a call from an answer that then
        # fails must not run, and the next provider starts the round over.
        tool_uses: list[ToolUse] = []
        usage: ModelUsage | None = None
        stop_reason = "end_turn"
        upstream = provider.stream(request)

        def elapsed_ms() -> int:
            return int((loop.time() - started) * 1000)

        def first_token_ms() -> int | None:
            return None if first_token_at is None else int((first_token_at - started) * 1000)

        try:
            while True:
                deadline = started + self.timeout_s
                if first_token_at is None:
                    deadline = min(deadline, started + self.first_token_timeout_s)
                try:
                    async with asyncio.timeout_at(deadline):
                        event = await anext(upstream)
                except StopAsyncIteration:
                    break
                except TimeoutError as exc:
                    waited = "first token" if first_token_at is None else "end of the answer"
                    raise ProviderError(
                        f"no {waited} within {deadline - started:.1f}s",
                        provider=provider.name,
                        retryable=True,
                        kind="timeout",
                    ) from exc
                if isinstance(event, TextDelta):
                    if first_token_at is None:
                        first_token_at = loop.time()
                    text.append(event.text)
                    yield event
                elif isinstance(event, ToolUse):
                    if first_token_at is None:
                        first_token_at = loop.time()
                    tool_uses.append(event)
                elif isinstance(event, UsageReport):
                    usage = event.usage
                elif isinstance(event, StreamEnd):
                    stop_reason = event.stop_reason
                    break
        except (GeneratorExit, asyncio.CancelledError):
            # The consumer went away (a user's stop, a closed socket): close upstream first so
            # the provider stops generating tokens we would pay for, then account for them.
            await _close_quietly(upstream)
            streamed = "".join(text)
            if streamed:
                breaker.record_success()
            else:
                breaker.release()
            await self._record(
                provider,
                "interrupted",
                elapsed_ms(),
                first_token_ms(),
                usage or provider.estimate_usage(request, streamed),
                "closed by the consumer",
            )
            raise
        except Exception as exc:
            await _close_quietly(upstream)
            error = exc if isinstance(exc, ProviderError) else _unexpected(provider, exc)
            outcome: AttemptOutcome = "timeout" if error.kind == "timeout" else "error"
            if error.counts_against_provider:
                breaker.record_failure()
            else:
                breaker.release()
            streamed = "".join(text)
            if not streamed:
                await self._record(provider, outcome, elapsed_ms(), None, None, str(error))
                raise _FailedBeforeFirstToken(error) from exc
            partial_usage = error.usage or provider.estimate_usage(request, streamed)
            await self._record(
                provider, outcome, elapsed_ms(), first_token_ms(), partial_usage, str(error)
            )
            raise ProviderError(
                f"the answer was cut off: {error.message}",
                provider=provider.name,
                retryable=False,
                kind=error.kind,
                status=error.status,
                partial_text=streamed,
                usage=partial_usage,
            ) from exc

        await _close_quietly(upstream)
        breaker.record_success()
        usage = usage or provider.estimate_usage(request, "".join(text))
        # Recorded before the last events go out: the answer is complete even if the consumer
        # stops reading at StreamEnd.
        await self._record(provider, "ok", elapsed_ms(), first_token_ms(), usage, "")
        for tool_use in tool_uses:
            yield tool_use
        yield UsageReport(usage)
        yield StreamEnd(stop_reason)

    def _backoff(self, retry: int, retry_after: float | None) -> float | None:
        """Seconds before the next try of the same provider; None when it is not worth waiting."""
        if retry_after is not None:
            # A provider asking for longer than we would ever back off is better skipped.
            return retry_after if retry_after <= self.backoff_max else None
        return self._jitter(min(self.backoff_max, self.backoff_base * 2**retry))

    async def _record(
        self,
        provider: LLMProvider,
        outcome: AttemptOutcome,
        latency_ms: int,
        first_token_ms: int | None,
        usage: ModelUsage | None,
        error: str,
    ) -> None:
        record = AttemptRecord(
            provider=provider.name,
            model=provider.model,
            outcome=outcome,
            latency_ms=latency_ms,
            first_token_ms=first_token_ms,
            usage=usage,
            error=error,
        )
        self.attempts.append(record)
        if self._on_attempt is not None:
            result = self._on_attempt(record)
            if inspect.isawaitable(result):
                await result

    def _attempt_details(self) -> list[dict[str, Any]]:
        return [
            {
                "provider": a.provider,
                "model": a.model,
                "outcome": a.outcome,
                "latency_ms": a.latency_ms,
                "error": a.error,
            }
            for a in self.attempts
        ]


class _FailedBeforeFirstToken(Exception):
    """An attempt failed before streaming anything, so another try or provider may take over."""

    def __init__(self, error: ProviderError):
        super().__init__(str(error))
        self.error = error


def _describe(error: ProviderError) -> str:
    if error.kind == "timeout":
        return "timeout"
    if error.status is not None:
        return f"http_{error.status}"
    return error.kind


async def _close_quietly(upstream: AsyncGenerator[StreamEvent, None]) -> None:
    # Closing an upstream that already failed can fail again; the attempt must still be recorded.
    try:
        await upstream.aclose()
    except Exception:
        logger.debug("closing an upstream stream failed", exc_info=True)


def _unexpected(provider: LLMProvider, exc: Exception) -> ProviderError:
    return ProviderError(
        f"unexpected failure: {type(exc).__name__}: {exc}",
        provider=provider.name,
        retryable=False,
        kind="protocol",
    )


@dataclass(frozen=True)
class ProviderSettings:
    """Which providers serve each tier and how patiently; built from Django settings."""

    chains: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_CHAINS))
    anthropic_model: str = ""
    openai_model: str = ""
    timeout_s: float = 60.0
    first_token_timeout_s: float = 20.0
    max_tokens: int = 1024
    max_retries: int = 2
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    breaker_failure_rate: float = 0.5
    breaker_min_calls: int = 5
    breaker_window_s: float = 60.0
    breaker_cooldown_s: float = 30.0

    @property
    def breaker_config(self) -> BreakerConfig:
        return BreakerConfig(
            failure_rate=self.breaker_failure_rate,
            min_calls=self.breaker_min_calls,
            window_s=self.breaker_window_s,
            cooldown_s=self.breaker_cooldown_s,
        )


def provider_settings_from_django(source: object | None = None) -> ProviderSettings:
    """ProviderSettings from the LLM_* / *_MODEL Django settings, each with a default."""
    if source is None:
        from django.conf import settings as django_settings

        source = django_settings
    defaults = ProviderSettings()
    chains = getattr(source, "LLM_CHAINS", None) or defaults.chains
    return ProviderSettings(
        chains={tier: tuple(names) for tier, names in chains.items()},
        anthropic_model=getattr(source, "ANTHROPIC_MODEL", "") or "",
        openai_model=getattr(source, "OPENAI_MODEL", "") or "",
        timeout_s=float(getattr(source, "LLM_TIMEOUT_SECONDS", defaults.timeout_s)),
        first_token_timeout_s=float(
            getattr(source, "LLM_FIRST_TOKEN_TIMEOUT_SECONDS", defaults.first_token_timeout_s)
        ),
        max_tokens=int(getattr(source, "LLM_MAX_TOKENS", defaults.max_tokens)),
        max_retries=int(getattr(source, "LLM_MAX_RETRIES", defaults.max_retries)),
        breaker_failure_rate=float(
            getattr(source, "LLM_BREAKER_FAILURE_RATE", defaults.breaker_failure_rate)
        ),
        breaker_min_calls=int(getattr(source, "LLM_BREAKER_MIN_CALLS", defaults.breaker_min_calls)),
        breaker_window_s=float(
            getattr(source, "LLM_BREAKER_WINDOW_SECONDS", defaults.breaker_window_s)
        ),
        breaker_cooldown_s=float(
            getattr(source, "LLM_BREAKER_COOLDOWN_SECONDS", defaults.breaker_cooldown_s)
        ),
    )


# Provider name -> (module, class, environment variable holding its key). The SDK modules are
# imported only when a chain needs them, so processes that never call a paid provider do not
# load the SDKs, and nothing above the provider layer depends on them at import time.
_REMOTE_PROVIDERS: Mapping[str, tuple[str, str, str]] = {
    "anthropic": ("agents.providers.anthropic_provider", "AnthropicProvider", "ANTHROPIC_API_KEY"),
    "openai": ("agents.providers.openai_provider", "OpenAIProvider", "OPENAI_API_KEY"),
}


def enabled_provider_names(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """Providers usable in this process: those whose API key is set, plus offline."""
    environ = os.environ if environ is None else environ
    enabled = {name for name, (_, _, key) in _REMOTE_PROVIDERS.items() if environ.get(key)}
    return frozenset({"offline", *enabled})


@dataclass(frozen=True)
class ChainLink:
    """One provider of a tier's chain and the model it answers with."""

    provider: str
    model: str


@dataclass(frozen=True)
class ResolvedChain:
    """A tier's failover chain as it will run: the configured providers that have a key, in
    order, each with its model (offline when none has). Resolved once per turn; the failover
    chain is built from it and billing prices its models."""

    tier: str
    links: tuple[ChainLink, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(link.provider for link in self.links)

    @property
    def models(self) -> tuple[tuple[str, str], ...]:
        """(provider, model) pairs, the shape billing's estimates take."""
        return tuple((link.provider, link.model) for link in self.links)

    @property
    def is_offline_only(self) -> bool:
        return all(link.provider == "offline" for link in self.links)


def _model_for(name: str, settings: ProviderSettings) -> str:
    """The model a provider of this name answers with: the configured one, else its default
    (the SDK module is imported only for a provider that has a key, as build_chain would)."""
    if name == "offline":
        return OFFLINE_MODEL
    configured = settings.anthropic_model if name == "anthropic" else settings.openai_model
    if configured or name not in _REMOTE_PROVIDERS:
        return configured or name
    module_name, class_name, _ = _REMOTE_PROVIDERS[name]
    provider_class = getattr(importlib.import_module(module_name), class_name)
    default = inspect.signature(provider_class.__init__).parameters["model"].default
    return str(default)


def chain_resolve(
    tier: str, settings: ProviderSettings, *, environ: Mapping[str, str] | None = None
) -> ResolvedChain:
    """The chain a tier's answers use, with each provider's model.

    Raises ValueError when the tier has no chain configured.
    """
    names = settings.chains.get(tier)
    if names is None:
        raise ValueError(f"No LLM chain is configured for tier {tier!r} (LLM_CHAINS).")
    enabled = enabled_provider_names(environ)
    links = tuple(ChainLink(name, _model_for(name, settings)) for name in names if name in enabled)
    return ResolvedChain(tier=tier, links=links or (ChainLink("offline", OFFLINE_MODEL),))


def build_provider(name: str, settings: ProviderSettings, *, model: str = "") -> LLMProvider:
    """One provider by name, configured from settings; raises ValueError for an unknown name."""
    if name == "offline":
        return OfflineProvider()
    if name not in _REMOTE_PROVIDERS:
        raise ValueError(f"Unknown LLM provider {name!r} in LLM_CHAINS.")
    module_name, class_name, _ = _REMOTE_PROVIDERS[name]
    provider_class = getattr(importlib.import_module(module_name), class_name)
    model = model or (settings.anthropic_model if name == "anthropic" else settings.openai_model)
    kwargs: dict[str, Any] = {
        "timeout_s": settings.timeout_s,
        "max_output_tokens": settings.max_tokens,
    }
    if model:
        kwargs["model"] = model
    return provider_class(**kwargs)


def chain_build(
    chain: ResolvedChain,
    settings: ProviderSettings,
    *,
    on_attempt: AttemptCallback | None = None,
) -> FailoverChain:
    """The failover chain that runs a resolved chain's providers in order."""
    providers = [build_provider(link.provider, settings, model=link.model) for link in chain.links]
    return FailoverChain(
        providers,
        max_retries=settings.max_retries,
        backoff_base=settings.backoff_base_s,
        backoff_max=settings.backoff_max_s,
        timeout_s=settings.timeout_s,
        first_token_timeout_s=settings.first_token_timeout_s,
        on_attempt=on_attempt,
        breaker_config=settings.breaker_config,
    )


def build_chain(
    tier: str,
    settings: ProviderSettings,
    *,
    on_attempt: AttemptCallback | None = None,
    environ: Mapping[str, str] | None = None,
) -> FailoverChain:
    """The failover chain for a tier: chain_resolve, then chain_build.

    Raises ValueError when the tier has no chain configured.
    """
    resolved = chain_resolve(tier, settings, environ=environ)
    return chain_build(resolved, settings, on_attempt=on_attempt)
