"""The finance arithmetic (finance_math) exposed as LLM tools: the registry with each tool's JSON
Schema, a dispatcher that never raises on bad input, and the schemas in each provider's format."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from accounts.errors import ValidationFailed
from agents.contracts import ToolDefinition
from agents.tools.finance_math import (
    MAX_PLACES,
    average,
    cagr_percent,
    difference,
    earnings_per_share,
    growth_percent,
    margin_percent,
    price_earnings_ratio,
    ratio,
    total,
)


@dataclass(frozen=True)
class ToolSpec:
    """One tool the model may call: its name, what it does, its JSON Schema and the function."""

    name: str
    description: str
    parameters_json_schema: dict[str, Any]
    fn: Callable[..., Decimal]


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call, ready to send back to the model as the tool's answer."""

    name: str
    arguments: dict[str, Any]
    output: str
    value: Decimal | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _number_param(description: str) -> dict[str, Any]:
    return {"type": "number", "description": description}


def _places_param(default: int | None) -> dict[str, Any]:
    suffix = f"Defaults to {default}." if default is not None else "Omit for the exact result."
    return {
        "type": "integer",
        "minimum": 0,
        "maximum": MAX_PLACES,
        "description": f"Decimal places to round the result to (half-up). {suffix}",
    }


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


_VALUES_PARAM: dict[str, Any] = {
    "type": "array",
    "items": {"type": "number"},
    "minItems": 1,
    "description": "The numbers, all in the same unit.",
}


TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            name="growth_percent",
            description=(
                "Percent change from an old value to a new value, e.g. year-over-year revenue "
                "growth. Returns a percent: -1.92 means a 1.92% decline."
            ),
            parameters_json_schema=_schema(
                {
                    "old": _number_param("The earlier value (the base). Must not be zero."),
                    "new": _number_param("The later value, in the same unit as old."),
                    "places": _places_param(2),
                },
                ["old", "new"],
            ),
            fn=growth_percent,
        ),
        ToolSpec(
            name="margin_percent",
            description=(
                "A part as a percent of a whole, e.g. operating margin = operating income / "
                "revenue x 100. Returns a percent."
            ),
            parameters_json_schema=_schema(
                {
                    "part": _number_param("The part, e.g. operating income."),
                    "whole": _number_param("The whole, e.g. revenue. Must not be zero."),
                    "places": _places_param(2),
                },
                ["part", "whole"],
            ),
            fn=margin_percent,
        ),
        ToolSpec(
            name="cagr_percent",
            description=(
                "Compound annual growth rate between a start and an end value over a number of "
                "years. Returns a percent per year. FY2018 to FY2020 is 2 years."
            ),
            parameters_json_schema=_schema(
                {
                    "start": _number_param("The value at the start. Must be positive."),
                    "end": _number_param("The value at the end. Must not be negative."),
                    "years": _number_param("Years between start and end. Must be positive."),
                    "places": _places_param(2),
                },
                ["start", "end", "years"],
            ),
            fn=cagr_percent,
        ),
        ToolSpec(
            name="ratio",
            description=(
                "Divide one figure by another, e.g. dividend payout ratio = dividends / net "
                "income, or capex / revenue. Returns a plain ratio, not a percent."
            ),
            parameters_json_schema=_schema(
                {
                    "numerator": _number_param("The figure on top."),
                    "denominator": _number_param("The figure below. Must not be zero."),
                    "places": _places_param(4),
                },
                ["numerator", "denominator"],
            ),
            fn=ratio,
        ),
        ToolSpec(
            name="price_earnings_ratio",
            description="Price-to-earnings (P/E) ratio from a share price and diluted EPS.",
            parameters_json_schema=_schema(
                {
                    "price": _number_param("Share price in dollars."),
                    "eps": _number_param("Diluted earnings per share in dollars. Must be > 0."),
                    "places": _places_param(2),
                },
                ["price", "eps"],
            ),
            fn=price_earnings_ratio,
        ),
        ToolSpec(
            name="earnings_per_share",
            description=(
                "Earnings per share from net income and the weighted-average share count. Give "
                "both in the same scale (e.g. both in millions) to get dollars per share."
            ),
            parameters_json_schema=_schema(
                {
                    "net_income": _number_param("Net income."),
                    "shares": _number_param("Weighted-average shares. Must be positive."),
                    "places": _places_param(2),
                },
                ["net_income", "shares"],
            ),
            fn=earnings_per_share,
        ),
        ToolSpec(
            name="difference",
            description="Subtract: a - b, e.g. free cash flow = operating cash flow - capex.",
            parameters_json_schema=_schema(
                {
                    "a": _number_param("The value to subtract from."),
                    "b": _number_param("The value to subtract."),
                    "places": _places_param(None),
                },
                ["a", "b"],
            ),
            fn=difference,
        ),
        ToolSpec(
            name="total",
            description="Add a list of numbers, e.g. segment revenues into a company total.",
            parameters_json_schema=_schema(
                {"values": _VALUES_PARAM, "places": _places_param(None)}, ["values"]
            ),
            fn=total,
        ),
        ToolSpec(
            name="average",
            description="Arithmetic mean of a list of numbers, e.g. average revenue over 3 years.",
            parameters_json_schema=_schema(
                {"values": _VALUES_PARAM, "places": _places_param(2)}, ["values"]
            ),
            fn=average,
        ),
    )
}


def tool_call(name: str, arguments: dict[str, Any]) -> ToolResult:
    """Run the named tool on the model's arguments and describe the result for the model.

    Never raises for bad tool input: an unknown tool, missing or unexpected arguments and
    invalid numbers come back as a ToolResult whose `error` says what to fix, so the model can
    correct itself and call again.
    """
    spec = TOOLS.get(name)
    if spec is None:
        known = ", ".join(sorted(TOOLS))
        return _failed(name, arguments, f"Unknown tool '{name}'. Available tools: {known}.")
    if not isinstance(arguments, dict):
        return _failed(name, {}, "Tool arguments must be a JSON object.")

    schema = spec.parameters_json_schema
    accepted = set(schema["properties"])
    unexpected = sorted(str(key) for key in set(arguments) - accepted)
    missing = [key for key in schema["required"] if key not in arguments]
    if unexpected or missing:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if unexpected:
            problems.append(f"unexpected {', '.join(unexpected)}")
        return _failed(
            name,
            arguments,
            f"Bad arguments for '{name}' ({'; '.join(problems)}). "
            f"It takes: {', '.join(sorted(accepted))}.",
        )

    # Models often send null for an optional argument they mean to leave out.
    required = set(schema["required"])
    call_arguments = {
        key: value for key, value in arguments.items() if value is not None or key in required
    }
    try:
        value = spec.fn(**call_arguments)
    except ValidationFailed as exc:
        return _failed(name, arguments, exc.message)
    shown = ", ".join(f"{key}={_show(arguments[key])}" for key in arguments)
    return ToolResult(
        name=name, arguments=dict(arguments), output=f"{name}({shown}) = {value}", value=value
    )


def _failed(name: str, arguments: Any, message: str) -> ToolResult:
    return ToolResult(
        name=name,
        arguments=dict(arguments) if isinstance(arguments, dict) else {},
        output=f"Error: {message}",
        error=message,
    )


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    return str(value)


def tool_definitions() -> tuple[ToolDefinition, ...]:
    """The calculator tools as the provider-neutral definitions a ModelRequest carries."""
    return tuple(
        ToolDefinition(
            name=spec.name,
            description=spec.description,
            parameters=_copy_schema(spec.parameters_json_schema),
        )
        for spec in TOOLS.values()
    )


def anthropic_tool_schemas() -> list[dict[str, Any]]:
    """Tool definitions in the Anthropic Messages API format (`tools=[...]`)."""
    return [
        {
            "name": spec.name,
            "description": spec.description,
            "input_schema": _copy_schema(spec.parameters_json_schema),
        }
        for spec in TOOLS.values()
    ]


def openai_tool_schemas() -> list[dict[str, Any]]:
    """Tool definitions in the OpenAI Chat Completions format (`tools=[...]`)."""
    return [
        {
            "type": "function",
            "function": {
                "name": spec.name,
                "description": spec.description,
                "parameters": _copy_schema(spec.parameters_json_schema),
            },
        }
        for spec in TOOLS.values()
    ]


def _copy_schema(schema: dict[str, Any]) -> dict[str, Any]:
    # Callers may mutate what they send to a provider; the registry must stay as declared.
    return copy.deepcopy(schema)


__all__ = [
    "TOOLS",
    "ToolResult",
    "ToolSpec",
    "anthropic_tool_schemas",
    "openai_tool_schemas",
    "tool_call",
    "tool_definitions",
]
