"""The hooks around a turn: the fixed stack is agents.hooks.stack; each module holds one concern
(core: tenancy, PII, context, providers, metrics; billing; answer_cache; drain; observability)."""

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
from agents.hooks.observability import FailoverMetricsHook, QueryLogHook, TracingHook

__all__ = [
    "AnswerCacheHook",
    "BudgetHook",
    "ContextTrimHook",
    "DrainHook",
    "FailoverHook",
    "FailoverMetricsHook",
    "MetricsHook",
    "PiiMaskHook",
    "QueryLogHook",
    "RateLimitHook",
    "TenantGuardHook",
    "ToolTimeoutHook",
    "TracingHook",
    "UsageHook",
]
