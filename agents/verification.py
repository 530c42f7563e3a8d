"""Checks every figure an answer states against the passages it cites and the calculator's results.

A figure is an amount ("$274.5 billion", "274,515"), a percentage ("5.5%") or a per-share value
("$3.28 per share"); years, dates, counts, citation markers and names such as 10-K or 3M are not.
A figure is *supported* when a cited passage states the same number within the rounding the
answer shows, allowing for scale words ("$274.5 billion" is "274,515" in a table in millions),
*calculated* when it is a result of the finance calculator, and *unsupported* otherwise.
Pure functions: the turn calls `figures_verify` once, when the answer is complete.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from agents.contracts import ContextPassage
from agents.tools import ToolResult

Kind = Literal["amount", "percent", "per_share"]
Verdict = Literal["supported", "calculated", "unsupported"]
VERDICTS: tuple[Verdict, ...] = ("supported", "calculated", "unsupported")

_SCALE_WORDS = {
    "thousand": 3,
    "k": 3,
    "million": 6,
    "mn": 6,
    "mm": 6,
    "m": 6,
    "billion": 9,
    "bn": 9,
    "b": 9,
    "trillion": 12,
    "tn": 12,
}
# One-letter scales ("$2.1B", "$500M") count only after a currency sign: "3M" is a company.
_ONE_LETTER_SCALES = frozenset({"k", "m", "b"})
# A table "in millions" may be quoted "in billions": a number written without a scale word
# may stand for itself, or for thousands, millions or billions of it.
_IMPLIED_EXPONENTS = (0, 3, 6, 9)

_NUMBER = re.compile(
    r"(?<![\w.,$€£\[/])"
    r"(?P<open>\()?(?P<sign>[-\u2212\u2013])?"
    r"(?P<currency>(?:US)?\$|€|£)?\s?"
    r"(?P<number>\d{1,3}(?:,\d{3})+|\d+)(?P<decimals>\.\d+)?"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|bn|mn|mm|tn|[kmb])s?(?![A-Za-z]))?"
    r"(?:\s?(?P<percent>%|percent\b|per\s?cent\b))?"
    r"(?P<per_share>\s+(?:per|a)\s+(?:diluted\s+|basic\s+)?share\b)?"
    r"(?![\w\]]|-[A-Za-z\d]|[.,]\d)",
    re.IGNORECASE,
)
_YEAR = re.compile(r"^(?:19|20)\d{2}$")
_CITATION = re.compile(r"\[(\d{1,2})\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Number:
    """A number as written: its value in units (dollars, percent points), and half a unit of
    its last stated digit, the rounding it allows."""

    text: str
    start: int
    end: int
    value: Decimal
    tolerance: Decimal
    kind: Kind
    has_scale: bool  # a scale word says what it counts in; otherwise the table's unit may
    has_currency: bool

    @property
    def is_figure(self) -> bool:
        """Worth checking in an answer: a unit, a scale, a decimal point or thousands; not a
        year, a count or an item number."""
        if self.kind != "amount" or self.has_currency or self.has_scale:
            return True
        if "," in self.text or "." in self.text:
            return True
        return self.value >= 1000 and not _YEAR.match(str(self.value))


@dataclass(frozen=True)
class FigureCheck:
    """The verdict on one figure of an answer, and where it was found."""

    figure: Number
    verdict: Verdict
    source: str = ""  # "[2]" for a passage, the calculator call for a calculation
    occurrence: int = 0  # the how-manieth time this exact text is a figure in the answer

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.figure.text,
            "kind": self.figure.kind,
            "value": format(self.figure.value.normalize(), "f"),
            "verdict": self.verdict,
            "source": self.source,
            "start": self.figure.start,
            "end": self.figure.end,
            "occurrence": self.occurrence,
        }


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def numbers_in(text: str) -> list[Number]:
    """Every number in a text with its unit, scale and rounding (negatives as magnitudes)."""
    found: list[Number] = []
    for match in _NUMBER.finditer(text):
        scale = (match.group("scale") or "").lower()
        currency = bool(match.group("currency"))
        if scale in _ONE_LETTER_SCALES and not currency:
            continue
        digits = match.group("number").replace(",", "")
        decimals = match.group("decimals") or ""
        value = _decimal(digits + decimals)
        if value is None:
            continue
        exponent = _SCALE_WORDS.get(scale, 0)
        unit = Decimal(1).scaleb(-(len(decimals) - 1) if decimals else 0)
        kind: Kind = "amount"
        if match.group("percent"):
            kind = "percent"
        elif match.group("per_share"):
            kind = "per_share"
        start, end = match.span()
        if match.group("open"):
            start += 1  # "(1,234)" is a negative in a table: the figure is what is inside
        found.append(
            Number(
                text=text[start:end].strip(),
                start=start,
                end=end,
                value=value.scaleb(exponent),
                tolerance=(unit / 2).scaleb(exponent),
                kind=kind,
                has_scale=bool(scale),
                has_currency=currency,
            )
        )
    return found


def answer_figures(answer: str) -> list[Number]:
    """The figures of an answer that must be found in its sources."""
    return [n for n in numbers_in(answer) if n.is_figure]


def _same(figure: Number, candidate: Decimal) -> bool:
    """The candidate, rounded as the figure is written, is the figure. A source less precise
    than the answer ("6%" for "5.5%") cannot vouch for it."""
    return abs(figure.value - candidate) <= figure.tolerance


def _stated_in(figure: Number, source: Number) -> bool:
    """Does the source number say the figure, within rounding and up to a table's scale?"""
    if (figure.kind == "percent") != (source.kind == "percent"):
        return False
    exponents: Iterable[int] = (0,)
    if figure.kind != "percent" and figure.has_scale != source.has_scale:
        # The side without a scale word may count in thousands, millions or billions.
        sign = 1 if figure.has_scale else -1
        exponents = (sign * e for e in _IMPLIED_EXPONENTS)
    return any(_same(figure, source.value.scaleb(e)) for e in exponents)


def figures_match(a: Number, b: Number) -> bool:
    """Two figures state the same number: either one, rounded as written, is the other, up to a
    table's scale ("$274.5 billion" and "274,515" in millions)."""
    return _stated_in(a, b) or _stated_in(b, a)


def _calculated(figure: Number, result: Decimal) -> bool:
    """A calculator result, rounded as the answer rounds it; amounts up to a table's scale."""
    if figure.kind == "percent":
        return _same(figure, abs(result))
    return any(_same(figure, abs(result).scaleb(e)) for e in _IMPLIED_EXPONENTS)


def _nearby_citations(answer: str, figure: Number) -> list[int]:
    """The citation numbers of the sentence (or table row) the figure stands in, in order."""
    starts = [0] + [m.end() for m in _SENTENCE_END.finditer(answer) if m.end() <= figure.start]
    begin = starts[-1]
    following = _SENTENCE_END.search(answer, figure.end)
    end = following.end() if following else len(answer)
    # A marker right after the sentence's full stop still belongs to it ("... 2018. [1]").
    tail = re.match(r"\s*(?:\[\d{1,2}\]\s*)+", answer[end:])
    if tail:
        end += tail.end()
    return [int(n) for n in _CITATION.findall(answer[begin:end])]


def figures_verify(
    *,
    answer: str,
    passages: Mapping[int, str],
    cited: Iterable[int],
    calculations: Sequence[tuple[str, Decimal]] = (),
) -> list[FigureCheck]:
    """Check each figure of `answer`.

    `passages` maps a citation number to the passage's full text; `cited` are the numbers the
    answer cites (every passage when it cites none); `calculations` are the calculator's
    results as (call shown to the reader, value). A figure's own sentence's citations are
    tried first, so the source named is the one the reader would open.
    """
    cited_numbers = [n for n in dict.fromkeys(cited) if n in passages] or sorted(passages)
    source_numbers = {n: numbers_in(passages[n]) for n in cited_numbers}
    checks: list[FigureCheck] = []
    seen: dict[str, int] = {}
    for figure in answer_figures(answer):
        occurrence = seen.get(figure.text, 0)
        seen[figure.text] = occurrence + 1
        near = [n for n in _nearby_citations(answer, figure) if n in source_numbers]
        order = near + [n for n in cited_numbers if n not in near]
        found = next(
            (n for n in order if any(_stated_in(figure, s) for s in source_numbers[n])), None
        )
        if found is not None:
            checks.append(FigureCheck(figure, "supported", f"[{found}]", occurrence))
            continue
        call = next((shown for shown, value in calculations if _calculated(figure, value)), None)
        if call is not None:
            checks.append(FigureCheck(figure, "calculated", call, occurrence))
        else:
            checks.append(FigureCheck(figure, "unsupported", "", occurrence))
    return checks


def verification_summary(checks: Sequence[FigureCheck]) -> dict[str, int]:
    """How many figures got each verdict (every verdict present, zero or not)."""
    counts: dict[str, int] = dict.fromkeys(VERDICTS, 0)
    for check in checks:
        counts[check.verdict] += 1
    return counts


def turn_figures_verify(
    *,
    answer: str,
    passages: Sequence[ContextPassage],
    cited: Iterable[int],
    tool_results: Sequence[ToolResult],
) -> list[FigureCheck]:
    """figures_verify on what a turn has: its passages, its citations and its calculator calls
    (failed calls count for nothing)."""
    return figures_verify(
        answer=answer,
        passages={p.number: p.text for p in passages},
        cited=cited,
        calculations=[(t.output, t.value) for t in tool_results if t.ok and t.value is not None],
    )
