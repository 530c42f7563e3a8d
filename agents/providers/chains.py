"""Which providers answer a tier, and with which models: settings, the chain resolved once per
turn (shared by failover and billing), and the failover chain built from it."""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.providers.base import LLMProvider
from agents.providers.breakers import BreakerConfig
from agents.providers.failover import AttemptCallback, FailoverChain
from agents.providers.offline import OFFLINE_MODEL, OfflineProvider

DEFAULT_CHAINS: Mapping[str, tuple[str, ...]] = {
    "free": ("offline",),
    "pro": ("anthropic", "openai", "offline"),
    "enterprise": ("anthropic", "openai", "offline"),
}


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


def provider_settings_from_django() -> ProviderSettings:
    """ProviderSettings from the LLM_* / *_MODEL Django settings (config/settings/base.py)."""
    from django.conf import settings

    return ProviderSettings(
        chains={tier: tuple(names) for tier, names in settings.LLM_CHAINS.items()},
        anthropic_model=settings.ANTHROPIC_MODEL,
        openai_model=settings.OPENAI_MODEL,
        timeout_s=float(settings.LLM_TIMEOUT_SECONDS),
        first_token_timeout_s=float(settings.LLM_FIRST_TOKEN_TIMEOUT_SECONDS),
        max_tokens=int(settings.LLM_MAX_TOKENS),
        max_retries=int(settings.LLM_MAX_RETRIES),
        breaker_failure_rate=float(settings.LLM_BREAKER_FAILURE_RATE),
        breaker_min_calls=int(settings.LLM_BREAKER_MIN_CALLS),
        breaker_window_s=float(settings.LLM_BREAKER_WINDOW_SECONDS),
        breaker_cooldown_s=float(settings.LLM_BREAKER_COOLDOWN_SECONDS),
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
