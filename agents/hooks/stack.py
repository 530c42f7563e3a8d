"""The hook stack of every turn, fixed in code: its order is part of the design and is tested.

Wrappers nest with the first listed outermost and after_agent runs in this order, so:
- the tenant guard, metrics and drain come first: a suspended tenant or a draining process is
  refused before any work, and every turn that starts is counted;
- rate limits come before any work, then the context trim and PII masking shape the prompt before
  the budget prices it (the trim rebuilds the prompt from the passages it keeps, so masking comes
  after it and masks only what is sent);
- hooks settings.AGENT_HOOKS adds go next (after billing's hold, inside its settlement);
- the time-to-first-token clock wraps the answer cache, which sits just outside the failover
  chain, so a hit never calls a provider;
- observability closes the stack, tracing last, so the log line and trace see final cost and
  status.
Settings may add hooks; they cannot remove or repeat one of these (billing, tenancy, tracing).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from agents.hooks.answer_cache import AnswerCacheHook
from agents.hooks.billing import BudgetHook, RateLimitHook
from agents.hooks.core import (
    ContextTrimHook,
    FailoverHook,
    MetricsHook,
    PiiMaskHook,
    TenantGuardHook,
    ToolTimeoutHook,
    UsageHook,
)
from agents.hooks.drain import DrainHook
from agents.hooks.observability import (
    FailoverMetricsHook,
    QueryLogHook,
    TimeToFirstTokenHook,
    TracingHook,
)
from agents.pipeline import Hook

# Before the hooks settings add.
OUTER_HOOKS: tuple[type[Hook], ...] = (
    TenantGuardHook,
    MetricsHook,
    DrainHook,
    RateLimitHook,
    ContextTrimHook,
    PiiMaskHook,
    BudgetHook,
)
# After them: the provider side, then observability.
INNER_HOOKS: tuple[type[Hook], ...] = (
    TimeToFirstTokenHook,
    AnswerCacheHook,
    FailoverHook,
    UsageHook,
    ToolTimeoutHook,
    FailoverMetricsHook,
    QueryLogHook,
    TracingHook,
)
HOOK_STACK: tuple[type[Hook], ...] = (*OUTER_HOOKS, *INNER_HOOKS)


def extra_hook_classes(paths: list[str] | None = None) -> tuple[type[Hook], ...]:
    """The hook classes settings.AGENT_HOOKS adds (dotted paths).

    Raises ImproperlyConfigured for a path that is not a Hook or names a hook of the fixed stack.
    """
    classes = []
    for path in settings.AGENT_HOOKS if paths is None else paths:
        hook_class = import_string(path)
        if not (isinstance(hook_class, type) and issubclass(hook_class, Hook)):
            raise ImproperlyConfigured(f"AGENT_HOOKS: {path} is not an agents.pipeline.Hook.")
        if hook_class in HOOK_STACK or hook_class in classes:
            raise ImproperlyConfigured(
                f"AGENT_HOOKS: {path} is already in the fixed hook stack; "
                "settings may only add hooks."
            )
        classes.append(hook_class)
    return tuple(classes)


def hook_classes() -> tuple[type[Hook], ...]:
    """The stack in order: the fixed hooks with the ones settings add in their place."""
    return (*OUTER_HOOKS, *extra_hook_classes(), *INNER_HOOKS)


def hooks_build() -> list[Hook]:
    """One instance of each hook of the stack, for one turn."""
    return [hook_class() for hook_class in hook_classes()]
