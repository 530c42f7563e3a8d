"""Exact finance arithmetic (growth, margins, CAGR, ratios, per-share) exposed as LLM tools."""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DecimalException,
    InvalidOperation,
    localcontext,
)
from typing import Any

from accounts.errors import ValidationFailed
from agents.contracts import ToolDefinition

Number = Decimal | int | float | str

MAX_PLACES = 12
HUNDRED = Decimal(100)

# Wide enough that realistic figures (trillions with a dozen decimals) never lose digits before the
# explicit quantize at the end; every trap is on so a silent NaN or Infinity can never come back.
_CONTEXT = Context(prec=60, rounding=ROUND_HALF_UP, Emax=999_999, Emin=-999_999)


@contextlib.contextmanager
def _exact() -> Iterator[None]:
    """Compute in the module's wide context and report any arithmetic failure as bad input."""
    try:
        with localcontext(_CONTEXT):
            yield
    except (DecimalException, ArithmeticError) as exc:
        raise ValidationFailed(
            "The numbers are outside the range this calculator can handle.",
            details={"reason": type(exc).__name__},
        ) from exc


def to_decimal(value: object, *, field_name: str) -> Decimal:
    """Turn a number or numeric string into a finite Decimal.

    Strings may carry thousands separators, a leading currency sign and accounting-style
    parentheses for negatives ("(1,577)"); floats go through their shortest repr so 0.1 stays 0.1.

    Raises ValidationFailed for booleans, empty or non-numeric strings, NaN and infinities.
    """
    if isinstance(value, bool):
        raise _not_a_number(field_name, value)
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _not_a_number(field_name, value)
        number = Decimal(repr(value))
    elif isinstance(value, str):
        number = _parse_numeric_string(value, field_name=field_name)
    else:
        raise _not_a_number(field_name, value)
    if not number.is_finite():
        raise _not_a_number(field_name, value)
    return number


def _parse_numeric_string(text: str, *, field_name: str) -> Decimal:
    cleaned = text.strip().replace(",", "").replace("_", "").replace(" ", "")
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    if negative:
        cleaned = cleaned[1:-1]
    if cleaned.startswith("$"):
        cleaned = cleaned[1:]
    elif cleaned.startswith(("-$", "+$")):
        cleaned = cleaned[0] + cleaned[2:]
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise _not_a_number(field_name, text) from None
    if not number.is_finite():
        raise _not_a_number(field_name, text)
    return -number if negative else number


def _not_a_number(field_name: str, value: object) -> ValidationFailed:
    return ValidationFailed(
        f"'{field_name}' must be a finite number, got {value!r}.",
        details={"field": field_name},
    )


def _places(places: object) -> int:
    # JSON gives the model no integer type of its own, so 2.0 is accepted as 2.
    if isinstance(places, float | Decimal) and _is_whole(places):
        places = int(places)
    if isinstance(places, bool) or not isinstance(places, int) or not 0 <= places <= MAX_PLACES:
        raise _bad_places(places)
    return places


def _is_whole(number: float | Decimal) -> bool:
    if isinstance(number, float):
        return number.is_integer()
    return number.is_finite() and number == number.to_integral_value()


def _bad_places(places: object) -> ValidationFailed:
    return ValidationFailed(
        f"'places' must be a whole number from 0 to {MAX_PLACES}, got {places!r}.",
        details={"field": "places"},
    )


def _round(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _nonzero(value: Decimal, *, field_name: str, why: str) -> Decimal:
    if value == 0:
        raise ValidationFailed(
            f"'{field_name}' must not be zero: {why}", details={"field": field_name}
        )
    return value


def _values(values: object, *, field_name: str = "values") -> list[Decimal]:
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence):
        raise ValidationFailed(
            f"'{field_name}' must be a list of numbers.", details={"field": field_name}
        )
    if not values:
        raise ValidationFailed(
            f"'{field_name}' needs at least one number.", details={"field": field_name}
        )
    return [
        to_decimal(item, field_name=f"{field_name}[{index}]") for index, item in enumerate(values)
    ]


def growth_percent(*, old: Number, new: Number, places: int = 2) -> Decimal:
    """Percent change from `old` to `new`: (new - old) / |old| x 100, rounded half-up.

    Dividing by |old| keeps the sign meaningful when the base is negative (a loss that narrows
    from -100 to -50 is +50% growth). Raises ValidationFailed when `old` is zero.
    """
    digits = _places(places)
    with _exact():
        start = _nonzero(
            to_decimal(old, field_name="old"),
            field_name="old",
            why="growth from zero is undefined.",
        )
        end = to_decimal(new, field_name="new")
        return _round((end - start) / abs(start) * HUNDRED, digits)


def margin_percent(*, part: Number, whole: Number, places: int = 2) -> Decimal:
    """`part` as a percent of `whole` (gross, operating or net margin), rounded half-up.

    Raises ValidationFailed when `whole` is zero.
    """
    digits = _places(places)
    with _exact():
        numerator = to_decimal(part, field_name="part")
        denominator = _nonzero(
            to_decimal(whole, field_name="whole"),
            field_name="whole",
            why="a margin of a zero total is undefined.",
        )
        return _round(numerator / denominator * HUNDRED, digits)


def cagr_percent(*, start: Number, end: Number, years: Number, places: int = 2) -> Decimal:
    """Compound annual growth rate in percent: ((end / start) ** (1 / years) - 1) x 100.

    Raises ValidationFailed when `start` is not positive, `end` is negative, or `years` is not
    positive (a CAGR across a sign change or over no time has no meaning).
    """
    digits = _places(places)
    with _exact():
        first = to_decimal(start, field_name="start")
        last = to_decimal(end, field_name="end")
        span = to_decimal(years, field_name="years")
        if first <= 0:
            raise ValidationFailed(
                "'start' must be positive for a compound growth rate.",
                details={"field": "start"},
            )
        if last < 0:
            raise ValidationFailed(
                "'end' must not be negative for a compound growth rate.",
                details={"field": "end"},
            )
        if span <= 0:
            raise ValidationFailed(
                "'years' must be positive (the number of years between start and end).",
                details={"field": "years"},
            )
        if last == 0:
            return _round(-HUNDRED, digits)
        growth_factor = (last / first) ** (Decimal(1) / span)
        return _round((growth_factor - 1) * HUNDRED, digits)


def ratio(*, numerator: Number, denominator: Number, places: int = 4) -> Decimal:
    """`numerator` / `denominator` (debt-to-equity, payout ratio, ...), rounded half-up.

    Raises ValidationFailed when `denominator` is zero.
    """
    digits = _places(places)
    with _exact():
        top = to_decimal(numerator, field_name="numerator")
        bottom = _nonzero(
            to_decimal(denominator, field_name="denominator"),
            field_name="denominator",
            why="division by zero.",
        )
        return _round(top / bottom, digits)


def price_earnings_ratio(*, price: Number, eps: Number, places: int = 2) -> Decimal:
    """Price-to-earnings ratio: share `price` / diluted `eps`, rounded half-up.

    Raises ValidationFailed when the price is negative or EPS is zero or negative, where a P/E
    is not meaningful.
    """
    digits = _places(places)
    with _exact():
        share_price = to_decimal(price, field_name="price")
        earnings = to_decimal(eps, field_name="eps")
        if share_price < 0:
            raise ValidationFailed("'price' must not be negative.", details={"field": "price"})
        if earnings <= 0:
            raise ValidationFailed(
                "'eps' must be positive: a P/E ratio is not meaningful for zero or negative "
                "earnings.",
                details={"field": "eps"},
            )
        return _round(share_price / earnings, digits)


def earnings_per_share(*, net_income: Number, shares: Number, places: int = 2) -> Decimal:
    """Earnings per share: `net_income` / weighted-average `shares`, rounded half-up.

    Both must use the same scale (for example both in millions). Raises ValidationFailed when
    `shares` is zero or negative.
    """
    digits = _places(places)
    with _exact():
        income = to_decimal(net_income, field_name="net_income")
        share_count = to_decimal(shares, field_name="shares")
        if share_count <= 0:
            raise ValidationFailed(
                "'shares' must be positive (the weighted-average share count).",
                details={"field": "shares"},
            )
        return _round(income / share_count, digits)


def difference(*, a: Number, b: Number, places: int | None = None) -> Decimal:
    """`a` - `b`, exact unless `places` asks for rounding."""
    digits = None if places is None else _places(places)
    with _exact():
        result = to_decimal(a, field_name="a") - to_decimal(b, field_name="b")
        return result if digits is None else _round(result, digits)


def total(*, values: Sequence[Number], places: int | None = None) -> Decimal:
    """Sum of `values`, exact unless `places` asks for rounding. Needs at least one value."""
    digits = None if places is None else _places(places)
    with _exact():
        result = sum(_values(values), Decimal(0))
        return result if digits is None else _round(result, digits)


def average(*, values: Sequence[Number], places: int = 2) -> Decimal:
    """Arithmetic mean of `values`, rounded half-up. Needs at least one value."""
    digits = _places(places)
    with _exact():
        numbers = _values(values)
        return _round(sum(numbers, Decimal(0)) / len(numbers), digits)


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
    "total",
]
