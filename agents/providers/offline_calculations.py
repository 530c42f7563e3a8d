"""The offline provider's calculation planner: a table of the calculations it knows (growth, CAGR,
margin), each with the question wording that asks for it and how its inputs are found among the
passages' figures. A question is classified once; the plan is the one calculator call to make,
and `calculation_sentence` states its result with its inputs and their citations.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from agents.contracts import ContextPassage
from agents.providers.offline_figures import passage_figures, question_years
from agents.providers.offline_labels import (
    NOT_ANNUAL,
    QUESTION_ONLY,
    SCALES,
    TITLE_GENERIC,
    Figure,
    FigureName,
    entity_terms,
    label_terms,
)
from fintext.metrics import metric_named

# A wrong calculation is far worse than none: every rule below refuses on doubt (two candidate
# figures for one period, different units, a period missing, another company's document), and
# the answer then stays purely extractive.

CALCULATED_PREFIX = "Calculated:"

_CAGR = re.compile(
    r"\bcagr\b|\bcompound(?:ed)?\s+(?:annual\s+)?(?:growth|rate)(?:\s+rate)?|"
    r"\bannuali[sz]ed\s+growth(?:\s+rate)?",
    re.IGNORECASE,
)
_GROWTH = re.compile(
    r"\b(?:grow|grew|grown|grows|growth|increase[ds]?|decrease[ds]?|decline[ds]?|drop(?:ped|s)?|"
    r"fall|falls|fell|fallen|rise|rises|rose|risen|change[ds]?|compared?|versus|vs)\b",
    re.IGNORECASE,
)
_YEAR_OVER_YEAR = re.compile(
    r"\byear[\s-]+(?:over|on)[\s-]+year\b|\byoy\b|"
    r"\b(?:from\s+)?(?:the\s+)?(?:prior|previous|preceding)\s+(?:fiscal\s+)?year\b|"
    r"\ba\s+year\s+(?:earlier|before)\b",
    re.IGNORECASE,
)
_MARGIN = re.compile(r"\b(gross|operating|net)\s+(?:profit\s+)?margins?\b", re.IGNORECASE)
_SHARE_OF_REVENUE = re.compile(
    r"^(?P<part>.+?)\s+as\s+(?:an?\s+)?(?:percent(?:age)?|%|share|proportion)\s+of\s+"
    r"(?:total\s+|net\s+)?(?:revenues?|sales)\b(?P<rest>.*)$",
    re.IGNORECASE,
)
# Ratios, points and shares of something else are not growth; the calculation would mislead.
_NOT_GROWTH = re.compile(
    r"\bmargins?\b|\bpoints?\b|\bbps\b|\bratio\b|\bper\s+(?:employee|unit|store)\b|%\s+of\b|"
    r"\bpercent(?:age)?\s+of\b|\bshare\s+of\b|\bas\s+an?\s+(?:percent|percentage|share)\b",
    re.IGNORECASE,
)
_TOOL_VALUE = re.compile(r"=\s*(?P<value>-?\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class _Input:
    figure: Figure
    name: FigureName


@dataclass(frozen=True)
class CalculationPlan:
    """The one tool call the offline provider makes, with where each input came from."""

    tool: str
    arguments: dict[str, int | float]
    kind: str  # growth, cagr or margin
    inputs: tuple[_Input, ...]
    title: str = ""


def _find(figures: list[Figure], wanted: tuple[frozenset[str], ...], year: int) -> list[_Input]:
    found = []
    for figure in figures:
        if figure.year != year:
            continue
        for name in figure.names:
            matched = [
                w for w in wanted if name.terms and name.terms <= w <= name.terms | name.context
            ]
            if not matched:
                continue
            shown = name
            if matched[0] != name.terms:  # the caption names the metric: say it
                shown = FigureName(
                    name.terms, name.context, f"{name.display} {name.context_display}"
                )
            found.append(_Input(figure, shown))
            break
    return found


def _consistent(found: list[_Input]) -> bool:
    """All candidates for one metric and year state the same amount (once units are applied)."""
    known = [i.figure for i in found if i.figure.scale is not None]
    unknown = {i.figure.value for i in found if i.figure.scale is None}
    absolute = {f.value * SCALES[f.scale] for f in known if f.scale is not None}
    if len(absolute) > 1 or len(unknown) > 1:
        return False
    return not (absolute and unknown) or unknown <= {f.value for f in known}


def _same_unit(a: Figure, b: Figure) -> bool:
    if a.scale is None or b.scale is None:
        return a.scale is None and b.scale is None and (a.passage, a.block) == (b.passage, b.block)
    return a.scale == b.scale


def _pair(first: list[_Input], second: list[_Input]) -> tuple[_Input, _Input] | None:
    """The two inputs to combine: same unit and company, preferably with a stated unit and from
    one table or sentence."""
    options = [
        (a, b)
        for a in first
        for b in second
        if _same_unit(a.figure, b.figure) and a.figure.entity == b.figure.entity
    ]
    if not options:
        return None

    def preference(pair: tuple[_Input, _Input]) -> tuple[bool, bool, bool, int, int]:
        a, b = pair[0].figure, pair[1].figure
        return (
            a.scale is None,  # amounts whose unit is stated read better
            (a.passage, a.block) != (b.passage, b.block),
            a.passage != b.passage,
            a.order,
            b.order,
        )

    return min(options, key=preference)


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(str(value))


def _lookup(
    figures: list[Figure], wanted: tuple[frozenset[str], ...], year: int
) -> list[_Input] | None:
    found = _find(figures, wanted, year)
    if not found or not _consistent(found):
        return None
    if len({i.figure.entity for i in found}) != 1:
        return None  # the same metric from two companies' documents
    return found


def _metric_terms(text: str, entities: frozenset[str]) -> frozenset[str]:
    """The words of a question that name the figure it asks about."""
    return label_terms(text) - QUESTION_ONLY - TITLE_GENERIC - entities


@dataclass(frozen=True)
class Asked:
    """A question classified once: which calculation it asks for, and the years it names."""

    calculation: Calculation
    question: str
    years: tuple[int, ...]

    @property
    def kind(self) -> str:
        return self.calculation.kind


@dataclass(frozen=True)
class Calculation:
    """One calculation the planner knows: the wording that asks for it (`asks`, tried in the
    order of CALCULATIONS) and how its inputs are read from the figures (`plan`)."""

    kind: str  # as the answer names it: "growth", "CAGR", "margin"
    tool: str
    asks: Callable[[str], bool]
    plan: Callable[[Asked, list[Figure], frozenset[str]], CalculationPlan | None]


def _two_periods(asked: Asked) -> tuple[int, int] | None:
    years = asked.years
    if len(years) == 2:
        return years[0], years[1]
    if len(years) == 1 and _YEAR_OVER_YEAR.search(asked.question):
        return years[0] - 1, years[0]
    return None


def _growth_plan(
    asked: Asked, figures: list[Figure], entities: frozenset[str]
) -> CalculationPlan | None:
    periods = _two_periods(asked)
    wanted = _metric_terms(_YEAR_OVER_YEAR.sub(" ", asked.question), entities)
    if periods is None or not wanted:
        return None
    pair = _pair_for(figures, wanted, periods)
    if pair is None:
        return None
    arguments = {"old": _number(pair[0].figure.value), "new": _number(pair[1].figure.value)}
    return CalculationPlan("growth_percent", arguments, "growth", pair)


def _cagr_plan(
    asked: Asked, figures: list[Figure], entities: frozenset[str]
) -> CalculationPlan | None:
    wanted = _metric_terms(_CAGR.sub(" ", asked.question), entities)
    if len(asked.years) != 2 or not wanted:
        return None
    first, last = asked.years
    pair = _pair_for(figures, wanted, (first, last))
    if pair is None:
        return None
    arguments = {
        "start": _number(pair[0].figure.value),
        "end": _number(pair[1].figure.value),
        "years": last - first,
    }
    return CalculationPlan("cagr_percent", arguments, "cagr", pair)


def _pair_for(
    figures: list[Figure], wanted: frozenset[str], periods: tuple[int, int]
) -> tuple[_Input, _Input] | None:
    """The figures of one metric in two years, both positive, in one unit and company."""
    old = _lookup(figures, (wanted,), periods[0])
    new = _lookup(figures, (wanted,), periods[1])
    pair = _pair(old, new) if old and new else None
    if pair is None or pair[0].figure.value <= 0 or pair[1].figure.value <= 0:
        return None
    return pair


def _line_items(metric: str) -> tuple[frozenset[str], ...]:
    """How filings label a shared metric's figure (fintext.metrics, as retrieval finds its
    rows), as label terms; not its costs or losses, which the metric's rows include (the gross
    margin is found next to the cost of sales) but which are no margin's numerator."""
    named = (label_terms(item) for item in metric_named(metric).line_items)
    return tuple(dict.fromkeys(terms for terms in named if not terms & {"cost", "loss"}))


_REVENUE = _line_items("revenue")
_MARGIN_PARTS = {
    "gross": _line_items("gross margin"),
    "operating": _line_items("operating income"),
    "net": _line_items("net income"),
}


def _margin_plan(
    asked: Asked, figures: list[Figure], entities: frozenset[str]
) -> CalculationPlan | None:
    question = asked.question
    margin = _MARGIN.search(question)
    share = _SHARE_OF_REVENUE.match(question.strip().rstrip("?. "))
    if _GROWTH.search(question) or len(asked.years) != 1 or (margin and share):
        return None
    if margin is not None:
        kind = margin.group(1).lower()
        rest = _metric_terms(question[: margin.start()] + " " + question[margin.end() :], entities)
        parts = tuple(words | rest for words in _MARGIN_PARTS[kind])
        title = f"{kind} margin"
    elif share is not None:
        part_terms = _metric_terms(share.group("part"), entities)
        rest = _metric_terms(share.group("rest"), entities)
        if not part_terms or "revenue" in part_terms:
            return None
        parts = (part_terms | rest,)
        title = ""
    else:
        return None
    year = asked.years[0]
    whole = _lookup(figures, tuple(words | rest for words in _REVENUE), year)
    part = _lookup(figures, parts, year)
    pair = _pair(part, whole) if part and whole else None
    if pair is None or pair[1].figure.value <= 0:
        return None
    arguments = {"part": _number(pair[0].figure.value), "whole": _number(pair[1].figure.value)}
    return CalculationPlan("margin_percent", arguments, "margin", pair, title)


def _asks_margin(question: str) -> bool:
    return bool(_MARGIN.search(question) or _SHARE_OF_REVENUE.match(question.strip().rstrip("?. ")))


def _asks_growth(question: str) -> bool:
    return bool(_GROWTH.search(question)) and not _NOT_GROWTH.search(question)


CALCULATIONS: tuple[Calculation, ...] = (
    Calculation("CAGR", "cagr_percent", lambda q: bool(_CAGR.search(q)), _cagr_plan),
    Calculation("margin", "margin_percent", _asks_margin, _margin_plan),
    Calculation("growth", "growth_percent", _asks_growth, _growth_plan),
)


def calculation_asked(question: str) -> Asked | None:
    """The calculation the question asks for (the first of CALCULATIONS whose wording it uses),
    whatever the passages hold; None when it asks for none, or for a quarter's or a half-year's
    figures, which this planner never computes."""
    if NOT_ANNUAL.search(question):
        return None
    for calculation in CALCULATIONS:
        if calculation.asks(question):
            return Asked(calculation, question, tuple(question_years(question)))
    return None


def calculation_plan(
    asked: Asked | None, passages: Sequence[ContextPassage], tool_names: frozenset[str]
) -> CalculationPlan | None:
    """The calculator call for what was asked, with unambiguous inputs from the passages; None
    when nothing was asked, the tool is not on offer, or any input is missing, doubtful or
    mismatched. Only the documents of a company the question names are read."""
    if asked is None or not passages or asked.calculation.tool not in tool_names:
        return None
    entities = {p.number: entity_terms(p.document) for p in passages}
    all_entities = frozenset().union(*entities.values())
    named = label_terms(asked.question) & all_entities
    figures: list[Figure] = []
    for passage in passages:
        if named <= entities[passage.number]:
            found = passage_figures(passage, entities[passage.number], len(figures))
            figures.extend(f for f in found if f.annual)
    if not figures:
        return None
    return asked.calculation.plan(asked, figures, all_entities)


def _amount(figure: Figure) -> str:
    text = f"{abs(figure.value):,}"
    if figure.currency:
        text = f"${text}"
    if figure.scale:
        text = f"{text} {figure.scale}"
    return f"-{text}" if figure.value < 0 else text


def _cited(inputs: tuple[_Input, ...]) -> str:
    numbers = list(dict.fromkeys(i.figure.passage for i in inputs))
    return "".join(f"[{n}]" for n in numbers)


def calculation_sentence(plan: CalculationPlan, output: str) -> str:
    """The result of the tool's answer in words, with its inputs and their citations; empty
    when the output carries no number."""
    match = _TOOL_VALUE.search(output)
    if match is None:
        return ""
    value = Decimal(match.group("value"))
    shown = f"{abs(value)}%"
    first, second = plan.inputs
    citations = _cited(plan.inputs)
    if plan.kind == "margin":
        name = (
            f"the {plan.title}"
            if plan.title
            else f"{first.name.display} as a percent of {second.name.display}"
        )
        return (
            f"{CALCULATED_PREFIX} {name} for {first.figure.period} was {value}% "
            f"({first.name.display} of {_amount(first.figure)} divided by "
            f"{second.name.display} of {_amount(second.figure)}) {citations}."
        )
    label = second.name.display
    span = (
        f"from {_amount(first.figure)} ({first.figure.period}) to {_amount(second.figure)} "
        f"({second.figure.period})"
    )
    if plan.kind == "cagr":
        if value == 0:
            return f"{CALCULATED_PREFIX} {label} did not change {span} {citations}."
        direction = "grew" if value > 0 else "declined"
        years = plan.arguments["years"]
        return (
            f"{CALCULATED_PREFIX} {label} {direction} at a compound annual rate of {shown} "
            f"over {years} year{'s' if years != 1 else ''}, {span} {citations}."
        )
    if value == 0:
        return f"{CALCULATED_PREFIX} {label} was unchanged (0%) {span} {citations}."
    direction = "grew" if value > 0 else "declined"
    return f"{CALCULATED_PREFIX} {label} {direction} {shown} {span} {citations}."
