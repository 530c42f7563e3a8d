"""Exact finance arithmetic (growth, margins, CAGR, ratios, per-share) in Decimal: every input
checked, every failure a ValidationFailed that says what to fix, results rounded half-up."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DecimalException,
    InvalidOperation,
    localcontext,
)

from accounts.errors import ValidationFailed

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
