"""Fiscal periods named in text: years ("FY2023", "fiscal 2022", "'23"), quarters ("Q3 2023",
"2023-Q3", "the second quarter of fiscal 2022") and years relative to today ("last year")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

YEAR_PATTERN = r"(?:19[89]\d|20\d\d)"

_ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
}  # fmt: skip

_QUARTER_YEAR = re.compile(
    rf"\bQ([1-4])\s*(?:of\s+)?(?:FY\s*'?|fiscal\s+(?:year\s+)?)?({YEAR_PATTERN}|'?\d\d)\b", re.I
)
_YEAR_QUARTER = re.compile(rf"\b(?:FY\s*)?({YEAR_PATTERN})\s*[-/ ]?\s*Q([1-4])\b", re.I)
_ORDINAL_QUARTER = re.compile(
    rf"\b(first|second|third|fourth|1st|2nd|3rd|4th)[\s-]+(?:fiscal\s+)?quarter"
    rf"(?:\s+(?:of\s+)?(?:fiscal\s+(?:year\s+)?|FY\s*)?({YEAR_PATTERN}))?",
    re.I,
)
_LONE_QUARTER = re.compile(r"\bQ([1-4])\b")
_FY = re.compile(rf"\bFY\s*'?({YEAR_PATTERN}|\d\d)\b", re.I)
_FISCAL = re.compile(rf"\bfiscal\s+(?:year\s+)?({YEAR_PATTERN})\b", re.I)
# A year, not part of an amount ("$2,019", "2019.5") or a percentage.
_YEAR = re.compile(rf"(?<![\d$.,])({YEAR_PATTERN})(?![\d%]|,\d|\.\d)")
_ONLY_YEAR = re.compile(YEAR_PATTERN)
_RELATIVE_YEAR = re.compile(r"\b(this|current|last|previous|prior)\s+(?:fiscal\s+)?year\b", re.I)


@dataclass(frozen=True)
class Periods:
    """The fiscal periods a text names, in the order found, with the words that named them."""

    years: tuple[int, ...] = ()
    quarters: tuple[tuple[int | None, int], ...] = ()  # (fiscal year or None, quarter)
    terms: tuple[str, ...] = ()


def periods_in(text: str, *, today: date | None) -> Periods:
    """The years and quarters `text` names; "last year" counts from `today` (and is not read
    without one: a filing's "last year" is not the reader's).

    Each stretch of text is read once, the most specific pattern first ("Q3 FY23" is a quarter
    of 2023, not also a bare 23). A bare quarter belongs to the year when exactly one is named.
    """
    years: list[int] = []
    quarters: list[tuple[int | None, int]] = []
    terms: list[str] = []
    consumed: list[tuple[int, int]] = []

    def take(match: re.Match[str]) -> bool:
        span = match.span()
        if any(span[0] < end and start < span[1] for start, end in consumed):
            return False
        consumed.append(span)
        terms.append(match.group(0).strip())
        return True

    for match in _QUARTER_YEAR.finditer(text):
        if take(match):
            year = year_from_text(match.group(2))
            quarters.append((year, int(match.group(1))))
            years.append(year)
    for match in _YEAR_QUARTER.finditer(text):
        if take(match):
            year = int(match.group(1))
            quarters.append((year, int(match.group(2))))
            years.append(year)
    for match in _ORDINAL_QUARTER.finditer(text):
        if take(match):
            year_text = match.group(2)
            quarter_year = int(year_text) if year_text else None
            quarters.append((quarter_year, _ORDINALS[match.group(1).lower()]))
            if quarter_year:
                years.append(quarter_year)
    for match in _LONE_QUARTER.finditer(text):
        if take(match):
            quarters.append((None, int(match.group(1))))
    for pattern in (_FY, _FISCAL, _YEAR):
        for match in pattern.finditer(text):
            if take(match):
                years.append(year_from_text(match.group(1)))
    if today is not None:
        for match in _RELATIVE_YEAR.finditer(text):
            if take(match):
                which = match.group(1).lower()
                years.append(today.year if which in {"this", "current"} else today.year - 1)
    if len(set(years)) == 1:
        only = years[0]
        quarters = [(year if year is not None else only, q) for year, q in quarters]
    return Periods(years=tuple(years), quarters=tuple(quarters), terms=tuple(terms))


def is_year(text: str) -> bool:
    """Whether `text` is a year and nothing else ("2019", not "2019.5" or "$2,019")."""
    return _ONLY_YEAR.fullmatch(text) is not None


def year_from_text(text: str) -> int:
    """A year written with four digits or two ("'23", "FY99"): 00-69 are 20xx, 70-99 19xx."""
    digits = text.lstrip("'")
    value = int(digits)
    if len(digits) == 2:
        return 2000 + value if value <= 69 else 1900 + value
    return value
