"""LLM providers behind one interface, and the failover chain that picks one for each answer.

The SDK-backed providers live in `anthropic_provider` and `openai_provider` and are imported
only when a chain needs them (see `failover.build_provider`).
"""

from agents.providers.base import LLMProvider, ProviderError
from agents.providers.failover import (
    BREAKERS,
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    FailoverChain,
    ProviderSettings,
    breaker_states,
    build_chain,
    build_provider,
    provider_settings_from_django,
)
from agents.providers.offline import OfflineProvider

__all__ = [
    "BREAKERS",
    "BreakerConfig",
    "BreakerState",
    "CircuitBreaker",
    "FailoverChain",
    "LLMProvider",
    "OfflineProvider",
    "ProviderError",
    "ProviderSettings",
    "breaker_states",
    "build_chain",
    "build_provider",
    "provider_settings_from_django",
]
