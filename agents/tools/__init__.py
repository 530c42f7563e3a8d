"""Tools the agent may call: their JSON schemas and a dispatcher that never raises on bad input."""

from django.conf import settings

from agents.tools.calculator import (
    TOOLS,
    ToolResult,
    ToolSpec,
    anthropic_tool_schemas,
    openai_tool_schemas,
    tool_call,
    tool_definitions,
)
from agents.tools.finance_math import (
    MAX_PLACES,
    Number,
    average,
    cagr_percent,
    difference,
    earnings_per_share,
    growth_percent,
    margin_percent,
    price_earnings_ratio,
    ratio,
    to_decimal,
    total,
)


def tool_rounds_allowed() -> int:
    """Rounds of tool calls one answer may make (AGENT_MAX_TOOL_ROUNDS); 0 when tools are off."""
    if not settings.AGENT_TOOLS_ENABLED:
        return 0
    return max(0, int(settings.AGENT_MAX_TOOL_ROUNDS))


__all__ = [
    "MAX_PLACES",
    "TOOLS",
    "Number",
    "ToolResult",
    "ToolSpec",
    "anthropic_tool_schemas",
    "average",
    "cagr_percent",
    "difference",
    "earnings_per_share",
    "growth_percent",
    "margin_percent",
    "openai_tool_schemas",
    "price_earnings_ratio",
    "ratio",
    "to_decimal",
    "tool_call",
    "tool_definitions",
    "tool_rounds_allowed",
    "total",
]
