"""The offline provider's answer in sentences: the line item the question asks about, stated for
each period it asks about (or the two latest, a trend's both sides) with the unit and period its
table or sentence gives, each figure cited; a plain "the filings in this workspace do not say"
for what the passages lack.

It never invents: every figure is one a passage states for that line item and period. When no
line item matches, `offline.extract_answer` quotes the best sentences instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from agents.contracts import ContextPassage
from agents.providers.offline_figures import figures_of, question_years
from agents.providers.offline_labels import (
    QUESTION_ONLY,
    TITLE_GENERIC,
    Figure,
    FigureName,
    entity_terms,
    label_terms,
)
from retrieval.finance.questions import read_question

NOT_SAID = "The filings in this workspace do not say"

# A label must be mostly made of words the question uses ("Total net sales" for "net sales"),
# or be one of the filing wordings of a metric the question names ("cost of revenue" for COGS).
MIN_LABEL_COVER = 0.6
LINE_ITEM_BONUS = 0.5
STATED_UNIT_BONUS = 0.1
YEAR_BONUS = 0.5
MAX_PERIODS = 3
# Words that end a plural subject ("Capital expenditures were") yet are singular nouns.
_SINGULAR_S = frozenset({"gross", "loss", "business", "process", "basis", "analysis", "plus"})


@dataclass(frozen=True)
class _Line:
    """One line item of one table or sentence, with the figures it states, in reading order."""

    label: str
    figures: tuple[Figure, ...]
    score: float

    def for_year(self, year: int) -> Figure | None:
        return next((f for f in self.figures if f.year == year), None)


def amount_text(figure: Figure) -> str:
    """A figure as a reader expects it: "$274,515 million", "2.15", "-$473 million"."""
    text = f"{abs(figure.value):,}"
    if figure.currency:
        text = f"${text}"
    if figure.scale:
        text = f"{text} {figure.scale}"
    return f"-{text}" if figure.value < 0 else text


def _question_terms(question: str, entities: frozenset[str]) -> frozenset[str]:
    return label_terms(question) - QUESTION_ONLY - TITLE_GENERIC - entities


def _line_item_match(
    label: str, terms: frozenset[str], asked: frozenset[str], line_items: tuple[str, ...]
) -> bool:
    """The label holds the filing's wording of an asked metric, and its other words are asked
    too ("Total cost of revenue" for COGS; never "Americas net sales" for total net sales)."""
    lowered = label.lower()
    return any(item in lowered and terms - label_terms(item) <= asked for item in line_items)


def _score(
    figure: Figure, asked: frozenset[str], line_items: tuple[str, ...]
) -> tuple[float, FigureName] | None:
    """How well the best of a figure's names answers the question, and that name; None when
    none does. Of equal names the shortest is kept (a sentence's subject without its heading)."""
    best: tuple[float, FigureName] | None = None
    for name in figure.names:
        if not name.terms:
            continue
        label_cover = len(name.terms & asked) / len(name.terms)
        # The filing's wording of an asked metric in the row's own label counts fully; in the
        # heading above it (a part of the metric, "Product" under "Cost of revenue") half.
        own_item = _line_item_match(name.display, name.terms, asked, line_items)
        item = own_item or _line_item_match(
            name.context_display, name.terms | name.context, asked, line_items
        )
        if label_cover < MIN_LABEL_COVER and not item:
            continue
        asked_cover = len((name.terms | name.context) & asked) / max(len(asked), 1)
        bonus = LINE_ITEM_BONUS if own_item else LINE_ITEM_BONUS / 2 if item else 0.0
        score = label_cover + asked_cover + bonus
        if figure.scale is not None:
            score += STATED_UNIT_BONUS
        if best is None or (score, -len(name.display)) > (best[0], -len(best[1].display)):
            best = (score, name)
    return best


def _lines(
    figures: Sequence[Figure], asked: frozenset[str], line_items: tuple[str, ...], years: list[int]
) -> list[_Line]:
    """The candidate line items, best first (ties: the earlier passage)."""
    grouped: dict[tuple[int, int, str, str], list[Figure]] = {}
    scores: dict[tuple[int, int, str, str], float] = {}
    for figure in figures:
        scored = _score(figure, asked, line_items)
        if scored is None:
            continue
        score, name = scored
        key = (figure.passage, figure.block, name.display.lower(), name.context_display)
        grouped.setdefault(key, []).append(replace(figure, names=(name,)))
        scores[key] = score
    lines = []
    for key, group in grouped.items():
        score = scores[key]
        if years:
            score += (
                YEAR_BONUS * sum(1 for y in years if any(f.year == y for f in group)) / len(years)
            )
        lines.append(_Line(_label(group[0], asked), tuple(group), score))
    lines.sort(key=lambda line: (-line.score, line.figures[0].order))
    return lines


def _label(figure: Figure, asked: frozenset[str]) -> str:
    """The line item's name; with the heading above it when the question asked for that too
    ("Product (cost of revenue)")."""
    name = figure.name
    label = name.display or name.context_display
    if (
        name.context_display
        and name.context_display.lower() not in label.lower()
        and (name.context - name.terms) & asked
    ):
        label = f"{label} ({name.context_display})"
    if label.isupper():  # "TOTAL ASSETS", as statements print totals
        label = label.lower()
    return label[:1].upper() + label[1:]


def _verb(label: str) -> str:
    words = label.split("(")[0].split()
    if "of" in words[1:]:  # "Cost of sales": the noun before "of" is the subject
        words = words[: words.index("of", 1)]
    last = words[-1] if words else ""
    acronym = last.isupper() and len(last) <= 6
    last_lower = last.lower()
    plural = (
        last_lower.endswith("s")
        and not last_lower.endswith("ss")
        and last_lower not in _SINGULAR_S
        and not acronym
    )
    return "were" if plural else "was"


def _cite(figure: Figure) -> str:
    return f"[{figure.passage}]"


def _same_unit(a: Figure, b: Figure) -> bool:
    return (a.scale, a.currency) == (b.scale, b.currency)


def _stated(figure: Figure) -> str:
    return f"{amount_text(figure)} in {figure.period} {_cite(figure)}"


def _sentence(label: str, shown: list[Figure]) -> str:
    """ "Label was X in P [n], up from Y in Q [m]." with the newest period first."""
    verb = _verb(label)
    if len(shown) == 1:
        return f"{label} {verb} {_stated(shown[0])}."
    if len(shown) == 2:
        new, old = shown
        if _same_unit(new, old) and new.value != old.value:
            direction = "up" if new.value > old.value else "down"
            return f"{label} {verb} {_stated(new)}, {direction} from {_stated(old)}."
        if _same_unit(new, old):
            return f"{label} {verb} {_stated(new)}, unchanged from {_stated(old)}."
        return f"{label} {verb} {_stated(new)} and {_stated(old)}."
    stated = [_stated(f) for f in shown]
    return f"{label} {verb} {', '.join(stated[:-1])} and {stated[-1]}."


def _span(figure: Figure) -> str:
    """A period without its dates: "the three months ended", "(interim period)", ""."""
    return re.sub(r"[A-Za-z]{3,9}\.?\s+\d{1,2},\s*|\d{4}", "", figure.period).strip()


def _periods(line: _Line) -> list[Figure]:
    """A line's latest figure and the one a year or more earlier for the same span (a trend has
    two sides; three months are compared with three months, never with nine)."""
    ordered = sorted(line.figures, key=lambda f: (-f.year, f.order))
    latest = ordered[0]
    earlier = next((f for f in ordered if f.year < latest.year and _span(f) == _span(latest)), None)
    return [latest] if earlier is None else [latest, earlier]


def _elsewhere(lines: list[_Line], best: _Line, year: int) -> Figure | None:
    """The figure for `year` of the same line item in another table or passage (a filing of
    another year), in the same unit."""
    terms = best.figures[0].name.terms
    for line in lines:
        if line is best or line.figures[0].name.terms != terms:
            continue
        found = line.for_year(year)
        if found is not None and _same_unit(found, best.figures[0]) and found.annual:
            return found
    return None


def _unit_from_text(figure: Figure, passages: Sequence[ContextPassage]) -> Figure:
    """A table figure whose table does not say its unit, with the unit a sentence of the same
    document gives the same amount ("274,515" in a table, "$274,515 million" in the text)."""
    if figure.scale is not None:
        return figure
    number = re.escape(f"{abs(figure.value):,}")
    pattern = re.compile(rf"(?P<currency>\$\s?)?{number}\s*(?P<scale>thousand|million|billion)s?\b")
    document = next((p.document for p in passages if p.number == figure.passage), None)
    for passage in passages:
        if passage.document != document:
            continue
        match = pattern.search(passage.text)
        if match:
            currency = figure.currency or bool(match.group("currency"))
            return replace(figure, scale=match.group("scale").lower(), currency=currency)
    return figure


def _units_stated(shown: list[Figure], passages: Sequence[ContextPassage]) -> list[Figure]:
    """The figures with the unit the text gives them, when their table leaves it out; all of
    one table's figures take it only if the text gives it for one of them."""
    stated = [_unit_from_text(figure, passages) for figure in shown]
    known = next((f for f in stated if f.scale is not None), None)
    if known is None:
        return shown
    return [
        replace(f, scale=known.scale, currency=known.currency)
        if f.scale is None and (f.passage, f.block) == (known.passage, known.block)
        else f
        for f in stated
    ]


def figure_answer(question: str, passages: Sequence[ContextPassage]) -> str | None:
    """The figures the question asks about, in sentences; None when no line item matches."""
    intent = read_question(question)
    text = intent.search_text
    entities = {p.number: entity_terms(p.document) for p in passages}
    all_entities = frozenset().union(*entities.values()) if entities else frozenset()
    named = label_terms(text) & all_entities
    readable = [p for p in passages if named <= entities[p.number]]
    asked = _question_terms(text, all_entities)
    if not asked and not intent.metrics:
        return None
    years = question_years(text)
    line_items = intent.line_items if intent.metrics else ()
    lines = _lines(figures_of(readable), asked, line_items, years)
    if not lines:
        return None
    best = lines[0]
    label = best.label
    if not years:
        return _sentence(label, _units_stated(_periods(best), passages))
    shown: list[Figure] = []
    missing: list[int] = []
    for year in sorted(set(years), reverse=True):
        found = best.for_year(year) or _elsewhere(lines, best, year)
        if found is None:
            missing.append(year)
        else:
            shown.append(found)
    if not shown:
        return None
    answer = _sentence(label, _units_stated(shown[:MAX_PERIODS], passages))
    if missing:
        periods = " or ".join(str(year) for year in sorted(missing))
        answer += f" {NOT_SAID} {label[:1].lower() + label[1:]} for {periods}."
    return answer


def not_said(question: str) -> str:
    """The plain answer when no passage answers the question."""
    asked = " ".join(read_question(question).search_text.split()).rstrip("?. ")
    if len(asked) > 160:
        asked = asked[:157].rstrip() + "..."
    return f'{NOT_SAID} this: none of the passages found for "{asked}" answers it.'
