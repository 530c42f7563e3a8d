"""LLM providers behind one interface, and the failover chain that picks one for each answer.

The SDK-backed providers live in `anthropic_provider` and `openai_provider` and are imported
only when a chain needs them (see `chains.build_provider`).
"""

from agents.providers.base import LLMProvider, ProviderError
from agents.providers.breakers import (
    BREAKERS,
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    breaker_states,
)
from agents.providers.chains import (
    ChainLink,
    ProviderSettings,
    ResolvedChain,
    build_chain,
    build_provider,
    chain_build,
    chain_resolve,
    provider_settings_from_django,
)
from agents.providers.failover import FailoverChain
from agents.providers.offline import OfflineProvider

__all__ = [
    "BREAKERS",
    "BreakerConfig",
    "BreakerState",
    "ChainLink",
    "CircuitBreaker",
    "FailoverChain",
    "LLMProvider",
    "OfflineProvider",
    "ProviderError",
    "ProviderSettings",
    "ResolvedChain",
    "breaker_states",
    "build_chain",
    "build_provider",
    "chain_build",
    "chain_resolve",
    "provider_settings_from_django",
]
