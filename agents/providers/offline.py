"""A deterministic, extractive, offline provider: it answers from the passages alone.

It is the last link of every failover chain and the whole chain of the free tier, so it must be
honest: it states the figures the passages give for the line item asked about, in sentences with
their units and periods (`offline_answers`), or else quotes the sentences that answer; it cites
each with the passage's `[n]`, and says plainly when the filings do not say.

When the calculator is offered and the question asks for growth, a compound annual growth rate or
a margin whose figures the passages state without ambiguity, it calls the tool the way a model
would and then adds one sentence with the result, its inputs and their citations; that planner
lives in `offline_calculations`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass

from agents.contracts import (
    ContextPassage,
    ModelRequest,
    ModelUsage,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolUse,
    UsageReport,
)
from agents.providers.base import LLMProvider, word_pieces
from agents.providers.offline_answers import NOT_SAID, figure_answer, not_said
from agents.providers.offline_calculations import (
    CALCULATED_PREFIX,
    calculation_asked,
    calculation_plan,
    calculation_sentence,
)
from agents.tokens import count_request_tokens, estimate_tokens
from fintext.periods import is_year
from fintext.sentences import split_sentences
from fintext.tables import is_separator_row, row_cells
from fintext.words import FINANCIAL_TERMS, canonical, tokens, word_set

# Bumped whenever the offline answers change (it is part of the answer cache's key): 2 added the
# calculator step and dropped running headers and footers; 3 answers in sentences.
OFFLINE_MODEL = "offline-extractive-3"
OFFLINE_CALL_ID = "offline-calculation-1"
NOT_CALCULATED = (
    "No {kind} was calculated: the retrieved passages do not give every figure it needs "
    "unambiguously (same measure, both periods, one unit)."
)
CALCULATOR_REFUSED = "No {kind} was calculated: the calculator could not use the figures."

MAX_SENTENCES = 3
MIN_COVERAGE = 0.4
# Secondary sentences must be nearly as good as the best one, so the answer stays on point.
RELATIVE_CUTOFF = 0.75
FIGURE_BONUS = 0.1
LABEL_BONUS = 0.2

YEAR_WEIGHT = 3.0
NUMBER_WEIGHT = 2.5
FINANCIAL_WEIGHT = 2.0
PLAIN_WEIGHT = 1.0


_STOPWORDS = word_set(
    """
    a about above after again all also am an and any are as at be been before being below between
    both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my no nor
    not now of off on once only or other our ours out over own same she should so some such than
    that the their theirs them then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours
    company companys firm tell give show please report reported according much many amount
    value figure number
    across over time trend trended identify identified significant substantial notable
    considerable key major main various evolve evolved fluctuate fluctuated vary varied shift
    shifted alteration alterations implication implications suggest indicate might may latest
    recent most reporting period periods
    """
)


def _terms(text: str) -> list[str]:
    """Normalised terms: light stems, numbers without separators, fiscal years as years."""
    terms: list[str] = []
    for token in tokens(text):
        if token.startswith("fy"):
            digits = token[2:]
            terms.append(digits if len(digits) == 4 else f"20{digits}")
        elif token[0].isdigit():
            terms.append(token.replace(",", ""))
        elif token not in _STOPWORDS:
            stem = canonical(token)
            if stem not in _STOPWORDS:
                terms.append(stem)
    return terms


def _base_weight(term: str) -> float:
    if is_year(term):
        return YEAR_WEIGHT
    if term[0].isdigit():
        return NUMBER_WEIGHT
    if term in FINANCIAL_TERMS:
        return FINANCIAL_WEIGHT
    return PLAIN_WEIGHT


@dataclass(frozen=True)
class _Candidate:
    """A sentence or table row that could be quoted, with the passage it comes from."""

    text: str
    match_text: str
    passage_number: int
    order: int
    label: str = ""  # a table row's first cell
    title: str = ""  # its document's, which says what every line is about (company, year)


def _is_data_row(cells: list[str]) -> bool:
    """A row of figures after its label: a table cut from its header by the chunker."""
    return all(_FIGURE_CELL.match(_BOLD.sub("", cell).strip()) for cell in cells[1:])


def _render_row(cells: list[str], header: list[str] | None) -> str | None:
    """A table row as a sentence ("Americas: FY2020 net sales 124,556, share 45.4%."); a row
    whose table lost its header keeps its label ("Total net sales: 274,515, 260,174."); None
    when its cells cannot be matched with the header's, as such a fragment says nothing."""
    cells = [_BOLD.sub("", cell).strip() for cell in cells]
    if header is None and _is_data_row(cells):
        return f"{cells[0]}: {', '.join(cells[1:])}."
    if not header or len(header) != len(cells):
        return None
    heads = [_BOLD.sub("", head).strip() for head in header[1:]]
    pairs = [f"{head} {value}" for head, value in zip(heads, cells[1:], strict=True)]
    return f"{cells[0]}: {', '.join(pairs)}."


_BOLD = re.compile(r"[*_]{1,2}")
_FIGURE_CELL = re.compile(r"^\(?[-\u2212]?\$?\s?\d[\d,]*(?:\.\d+)?\)?\s?%?$")
# A heading line ("Item 7. Management's Discussion and Analysis", "RESULTS OF OPERATIONS"):
# short, no closing full stop, its words capitalised. It is skipped, never quoted.
_ITEM_HEADING = re.compile(r"^(?:#+\s*)?(?:part\s+[ivx]+|item\s+\d+[a-z]?)\b", re.IGNORECASE)
_MINOR_WORDS = word_set("a an and as at by for from in of on or the to with vs")


def _is_heading(line: str) -> bool:
    line = line.lstrip("#").strip()
    if not line or line[-1] in ".!?,;" or len(line.split()) > 12:
        return False
    if _ITEM_HEADING.match(line):
        return True
    words = [w for w in re.findall(r"[A-Za-z][\w'&-]*", line) if w.lower() not in _MINOR_WORDS]
    return bool(words) and all(w[0].isupper() for w in words)


def _units(text: str) -> Iterator[tuple[str, str]]:
    """Quotable sentences and table rows of a passage, as (text shown, text matched)."""
    paragraph: list[str] = []
    header: list[str] | None = None
    table_rows = 0
    for line in [*text.splitlines(), ""]:
        cells = row_cells(line)
        if cells:
            yield from ((s, s) for s in split_sentences(" ".join(paragraph)))
            paragraph.clear()
            if is_separator_row(cells):
                continue
            if header is None and not _is_data_row(cells):
                header = cells
                continue
            table_rows += 1
            rendered = _render_row(cells, header)
            if rendered is not None:
                yield rendered, " ".join([*cells, *(header or [])])
            continue
        if header is not None and table_rows == 0:
            # A lone row-looking line is not a table; it is still text worth matching.
            yield " ".join(header), " ".join(header)
        header, table_rows = None, 0
        if _is_heading(line):
            yield from ((s, s) for s in split_sentences(" ".join(paragraph)))
            paragraph.clear()
            continue
        if line.strip():
            paragraph.append(line.strip())
        else:
            yield from ((s, s) for s in split_sentences(" ".join(paragraph)))
            paragraph.clear()


# A running header or footer ("Apple Inc. FY2020 annual summary | page 2 of 4", "Form 10-K | 21",
# "Apple Inc. | Q3 2023 Form 10-Q | 8"):
# it matches a question's company and year words but never answers anything.
_PAGE_FURNITURE = re.compile(
    r"^.{0,100}?(?:\bpage\s+\d+\s+of\s+\d+|\bform\s+10-[kq]\s*[|,]?\s*\d{1,3})\W*$", re.IGNORECASE
)


# The "Table of Contents" link a filing prints atop each page, glued to the first sentence.
_CONTENTS_LINK = re.compile(r"^(?:table of contents\s*)+", re.IGNORECASE)
# A run of figures without their table ("Effective tax rate 12.5 % 15.7 % 14.6 % 16.3 %") is a
# flattened table, not a sentence a reader could follow.
MAX_NUMBER_SHARE = 0.35


def _mostly_numbers(text: str) -> bool:
    tokens = text.split()
    numbers = sum(1 for t in tokens if any(ch.isdigit() for ch in t) or t in {"$", "%"})
    return len(tokens) >= 6 and numbers / len(tokens) > MAX_NUMBER_SHARE


def _candidates(passages: tuple[ContextPassage, ...]) -> list[_Candidate]:
    found: list[_Candidate] = []
    seen: set[str] = set()
    for passage in passages:
        for shown, matched in _units(passage.text):
            shown = _CONTENTS_LINK.sub("", " ".join(shown.split()))
            if (
                len(shown) < 3
                or shown.lower() in seen
                or _PAGE_FURNITURE.search(shown)
                or (shown == matched and _mostly_numbers(shown))  # prose, not a labelled row
            ):
                continue
            seen.add(shown.lower())
            label = shown.split(":", 1)[0] if shown != matched else ""
            found.append(
                _Candidate(shown, matched, passage.number, len(found), label, passage.document)
            )
    return found


def _is_quantitative(question_terms: list[str], question: str) -> bool:
    lowered = question.lower()
    asks_amount = any(
        phrase in lowered for phrase in ("how much", "how many", "what was", "what were", "what is")
    )
    return asks_amount or any(term in FINANCIAL_TERMS for term in question_terms)


def compose_answer(question: str, passages: tuple[ContextPassage, ...]) -> str:
    """The figures asked about in sentences; else the best-matching sentences; else the plain
    "the filings in this workspace do not say"."""
    return figure_answer(question, passages) or extract_answer(question, passages)


def extract_answer(question: str, passages: tuple[ContextPassage, ...]) -> str:
    """Best-matching sentences, each with its `[n]`, or the plain "do not say" answer."""
    question_terms = list(dict.fromkeys(_terms(question)))
    candidates = _candidates(passages)
    if not question_terms or not candidates:
        return not_said(question)

    own_terms = [set(_terms(candidate.match_text)) for candidate in candidates]
    candidate_terms = [
        own | set(_terms(candidate.title))
        for own, candidate in zip(own_terms, candidates, strict=True)
    ]
    total = len(candidates)
    weights: dict[str, float] = {}
    for term in question_terms:
        frequency = sum(1 for terms in candidate_terms if term in terms)
        # Rare terms tell candidates apart; a term every sentence shares says little.
        idf = math.log(1 + total / max(frequency, 1))
        weights[term] = _base_weight(term) * idf
    weight_sum = sum(weights.values())
    quantitative = _is_quantitative(question_terms, question)
    content_terms = {t for t in question_terms if not is_year(t) and not t[0].isdigit()}

    scored: list[tuple[float, _Candidate]] = []
    for candidate, terms, own in zip(candidates, candidate_terms, own_terms, strict=True):
        matched = terms.intersection(weights)
        if not own & content_terms and content_terms:
            continue  # the title alone never makes a line relevant
        coverage = sum(weights[t] for t in matched) / weight_sum
        if coverage < MIN_COVERAGE:
            continue
        has_figure = any(t[0].isdigit() and not is_year(t) for t in terms)
        score = coverage + (FIGURE_BONUS if quantitative and has_figure else 0.0)
        if candidate.label and set(_terms(candidate.label)) <= set(question_terms):
            score += LABEL_BONUS  # a row named by the question's own words
        scored.append((score, candidate))
    if not scored:
        return not_said(question)

    scored.sort(key=lambda item: (-item[0], item[1].order))
    best = scored[0][0]
    chosen = [c for score, c in scored if score >= best * RELATIVE_CUTOFF][:MAX_SENTENCES]
    return " ".join(_cite(candidate.text, candidate.passage_number) for candidate in chosen)


def _cite(sentence: str, number: int) -> str:
    sentence = sentence.rstrip()
    if sentence and sentence[-1] in ".!?":
        return f"{sentence[:-1]} [{number}]{sentence[-1]}"
    return f"{sentence} [{number}]."


def _tool_names(request: ModelRequest) -> frozenset[str]:
    return frozenset(tool.name for tool in request.tools)


class OfflineProvider(LLMProvider):
    """Answers by quoting the retrieved passages; never fails, costs nothing.

    Offered the calculator, it first asks for the one calculation the question needs (when the
    passages give its inputs without doubt), then answers with the quotes and the result.
    """

    is_offline = True

    def __init__(self, *, name: str = "offline", model: str = OFFLINE_MODEL):
        self.name = name
        self.model = model

    def tool_call_wanted(self, request: ModelRequest) -> ToolUse | None:
        """The calculator call to make before answering, or None to answer straight away."""
        if not request.tools or request.tool_choice != "auto" or request.tool_rounds:
            return None
        asked = calculation_asked(request.question)
        plan = calculation_plan(asked, request.passages, _tool_names(request))
        if plan is None:
            return None
        return ToolUse(call_id=OFFLINE_CALL_ID, name=plan.tool, arguments=dict(plan.arguments))

    def answer(self, request: ModelRequest) -> str:
        text = compose_answer(request.question, request.passages)
        note = self._calculation_note(request)
        if not note:
            return text
        if text.startswith(NOT_SAID) and note.startswith(CALCULATED_PREFIX):
            return note  # the result answers the question the quotes could not
        if NOT_SAID in text and not note.startswith(CALCULATED_PREFIX):
            return text  # the answer already says which figure is missing
        return f"{text} {note}"

    def _calculation_note(self, request: ModelRequest) -> str:
        """The sentence about the calculation the question asks for: its result once the
        calculator has answered our call; why there is none when the calculator was on offer but
        the passages did not allow one, or it refused the figures; else nothing.

        Only a call matching the plan is described (a call another provider made before failing
        over has inputs we cannot vouch for, and gets no sentence).
        """
        asked = calculation_asked(request.question)
        offered = bool(request.tools) and (
            request.tool_choice == "auto" or bool(request.tool_rounds)
        )
        if asked is None or not offered:
            return ""
        plan = calculation_plan(asked, request.passages, _tool_names(request))
        if plan is None:
            return NOT_CALCULATED.format(kind=asked.kind)
        for tool_round in request.tool_rounds:
            for exchange in tool_round.exchanges:
                if exchange.name == plan.tool and exchange.arguments == plan.arguments:
                    if exchange.is_error:
                        return CALCULATOR_REFUSED.format(kind=asked.kind)
                    return calculation_sentence(plan, exchange.output)
        return ""

    def estimate_input_tokens(self, request: ModelRequest) -> int:
        """The question and passages, plus every tool call and result of this turn it reads."""
        read = count_request_tokens("offline", self.model, request)
        for tool_round in request.tool_rounds:
            for exchange in tool_round.exchanges:
                read += estimate_tokens(
                    "offline",
                    self.model,
                    _call_text(exchange.name, exchange.arguments) + exchange.output,
                )
        return read

    def _usage(self, request: ModelRequest, text: str) -> ModelUsage:
        return ModelUsage(
            provider=self.name,
            model=self.model,
            input_tokens=self.estimate_input_tokens(request),
            output_tokens=estimate_tokens("offline", self.model, text),
        )

    async def stream(self, request: ModelRequest) -> AsyncGenerator[StreamEvent, None]:
        use = self.tool_call_wanted(request)
        if use is not None:
            yield use
            yield UsageReport(self._usage(request, _call_text(use.name, use.arguments)))
            yield StreamEnd("tool_use")
            return
        text = self.answer(request)
        for piece in word_pieces(text):
            yield TextDelta(piece)
        yield UsageReport(self._usage(request, text))
        yield StreamEnd("end_turn")

    async def complete(self, request: ModelRequest) -> tuple[str, ModelUsage]:
        text = self.answer(request)
        return text, self._usage(request, text)

    def estimate_usage(self, request: ModelRequest, output_text: str) -> ModelUsage:
        return self._usage(request, output_text)


def _call_text(name: str, arguments: dict[str, object]) -> str:
    """A tool call as written: its name and its arguments as JSON."""
    return f"{name}{json.dumps(arguments, sort_keys=True, default=str)}"
