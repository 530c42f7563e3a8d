"""Retries and failover across a chain of providers, recording every attempt for billing."""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
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
from agents.providers.breakers import BREAKERS, BreakerConfig, BreakerRegistry, CircuitBreaker

logger = logging.getLogger(__name__)

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
        progress = _Progress(clock=loop.time, started=loop.time())
        upstream = provider.stream(request)
        try:
            while True:
                deadline = progress.started + self.timeout_s
                if progress.first_token_at is None:
                    deadline = min(deadline, progress.started + self.first_token_timeout_s)
                try:
                    async with asyncio.timeout_at(deadline):
                        event = await anext(upstream)
                except StopAsyncIteration:
                    break
                except TimeoutError as exc:
                    waited = (
                        "first token" if progress.first_token_at is None else "end of the answer"
                    )
                    raise ProviderError(
                        f"no {waited} within {deadline - progress.started:.1f}s",
                        provider=provider.name,
                        retryable=True,
                        kind="timeout",
                    ) from exc
                if progress.take(event):
                    break
                if isinstance(event, TextDelta):
                    yield event
        except (GeneratorExit, asyncio.CancelledError):
            # The consumer went away (a user's stop, a closed socket): close upstream first so
            # the provider stops generating tokens we would pay for, then account for them.
            await _close_quietly(upstream)
            await self._interrupted(provider, breaker, request, progress)
            raise
        except Exception as exc:
            await _close_quietly(upstream)
            raise await self._failed(provider, breaker, request, progress, exc) from exc

        await _close_quietly(upstream)
        breaker.record_success()
        usage = progress.usage or provider.estimate_usage(request, progress.streamed)
        # Recorded before the last events go out: the answer is complete even if the consumer
        # stops reading at StreamEnd.
        await self._record(
            provider, "ok", progress.elapsed_ms(), progress.first_token_ms(), usage, ""
        )
        for tool_use in progress.tool_uses:
            yield tool_use
        yield UsageReport(usage)
        yield StreamEnd(progress.stop_reason)

    async def _interrupted(
        self,
        provider: LLMProvider,
        breaker: CircuitBreaker,
        request: ModelRequest,
        progress: _Progress,
    ) -> None:
        """Record an attempt its consumer closed, with the usage so far."""
        streamed = progress.streamed
        if streamed:
            breaker.record_success()
        else:
            breaker.release()
        await self._record(
            provider,
            "interrupted",
            progress.elapsed_ms(),
            progress.first_token_ms(),
            progress.usage or provider.estimate_usage(request, streamed),
            "closed by the consumer",
        )

    async def _failed(
        self,
        provider: LLMProvider,
        breaker: CircuitBreaker,
        request: ModelRequest,
        progress: _Progress,
        exc: Exception,
    ) -> Exception:
        """Record a failed attempt; returns what to raise: _FailedBeforeFirstToken when nothing
        was streamed (another try or provider may take over), else a partial ProviderError."""
        error = exc if isinstance(exc, ProviderError) else _unexpected(provider, exc)
        outcome: AttemptOutcome = "timeout" if error.kind == "timeout" else "error"
        if error.counts_against_provider:
            breaker.record_failure()
        else:
            breaker.release()
        streamed = progress.streamed
        if not streamed:
            await self._record(provider, outcome, progress.elapsed_ms(), None, None, str(error))
            return _FailedBeforeFirstToken(error)
        partial_usage = error.usage or provider.estimate_usage(request, streamed)
        await self._record(
            provider,
            outcome,
            progress.elapsed_ms(),
            progress.first_token_ms(),
            partial_usage,
            str(error),
        )
        return ProviderError(
            f"the answer was cut off: {error.message}",
            provider=provider.name,
            retryable=False,
            kind=error.kind,
            status=error.status,
            partial_text=streamed,
            usage=partial_usage,
        )

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


@dataclass
class _Progress:
    """What one attempt has received so far, and when."""

    clock: Callable[[], float]
    started: float
    first_token_at: float | None = None
    text: list[str] = field(default_factory=list)
    # Tool calls are held until the response is complete: a call from an answer that then
    # fails must not run, and the next provider starts the round over.
    tool_uses: list[ToolUse] = field(default_factory=list)
    usage: ModelUsage | None = None
    stop_reason: str = "end_turn"

    @property
    def streamed(self) -> str:
        return "".join(self.text)

    def take(self, event: StreamEvent) -> bool:
        """Note one upstream event; True once the response has ended."""
        if isinstance(event, TextDelta | ToolUse) and self.first_token_at is None:
            self.first_token_at = self.clock()
        if isinstance(event, TextDelta):
            self.text.append(event.text)
        elif isinstance(event, ToolUse):
            self.tool_uses.append(event)
        elif isinstance(event, UsageReport):
            self.usage = event.usage
        elif isinstance(event, StreamEnd):
            self.stop_reason = event.stop_reason
            return True
        return False

    def elapsed_ms(self) -> int:
        return int((self.clock() - self.started) * 1000)

    def first_token_ms(self) -> int | None:
        if self.first_token_at is None:
            return None
        return int((self.first_token_at - self.started) * 1000)


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
