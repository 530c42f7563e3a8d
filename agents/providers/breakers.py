"""Circuit breakers per provider: a failing provider is taken out of rotation for a while."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


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
