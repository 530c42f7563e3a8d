"""A deterministic, extractive, offline provider: it quotes the passages that answer the question.

It is the last link of every failover chain and the whole chain of the free tier, so it must be
honest: it only repeats sentences or table rows found in the retrieved passages, cites each one
with the passage's `[n]`, and says plainly when none of them answers the question.
"""

from __future__ import annotations

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
    UsageReport,
)
from agents.providers.base import LLMProvider, word_pieces
from agents.tokens import count_request_tokens, estimate_tokens

OFFLINE_MODEL = "offline-extractive-1"
NOT_FOUND_ANSWER = "The retrieved passages do not contain the answer to this question."

MAX_SENTENCES = 3
MIN_COVERAGE = 0.4
# Secondary sentences must be nearly as good as the best one, so the answer stays on point.
RELATIVE_CUTOFF = 0.75
FIGURE_BONUS = 0.1

YEAR_WEIGHT = 3.0
NUMBER_WEIGHT = 2.5
FINANCIAL_WEIGHT = 2.0
PLAIN_WEIGHT = 1.0


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_STOPWORDS = _word_set(
    """
    a about above after again all also am an and any are as at be been before being below between
    both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my no nor
    not now of off on once only or other our ours out over own same she should so some such than
    that the their theirs them then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours
    company companys firm tell give show please report reported according much many amount
    value figure number
    """
)

_FINANCIAL_TERMS = _word_set(
    """
    revenue income profit loss margin ebitda ebit eps earning cash flow debt asset liability equity
    dividend expense cost operating gross net tax capex capital expenditure share buyback
    repurchase guidance growth segment interest depreciation amortization inventory receivable
    payable fiscal quarter annual backlog headcount employee price return yield rate ratio
    goodwill impairment lease borrowing liquidity leverage sale turnover outlook forecast
    """
)

# Filings say the same thing in several ways; questions use whichever the asker knows.
_SYNONYMS = {
    "sale": "revenue",
    "turnover": "revenue",
    "earning": "income",
    "profit": "income",
    "capex": "expenditure",
    "buyback": "repurchase",
    "employ": "employee",
    "staff": "employee",
    "headcount": "employee",
    "workforce": "employee",
}

_ABBREVIATIONS = _word_set(
    "inc corp co ltd llc plc no nos vs approx mr ms mrs dr st jan feb mar apr jun jul aug sep sept "
    "oct nov dec u.s e.g i.e fig etc"
)

_TOKEN = re.compile(r"fy\d{2,4}|\d+(?:[.,]\d+)*|[a-z]+(?:'[a-z]+)?")
_YEAR = re.compile(r"^(?:19|20)\d{2}$")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[$])")
_SEPARATOR_CELL = re.compile(r"^:?-{2,}:?$")
_FIGURE = re.compile(r"\d")


def _stem(word: str) -> str:
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed") and not word.endswith("eed"):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return _SYNONYMS.get(word, word)


def _terms(text: str) -> list[str]:
    """Normalised terms: light stems, numbers without separators, fiscal years as years."""
    terms: list[str] = []
    for token in _TOKEN.findall(text.lower()):
        if token.startswith("fy"):
            digits = token[2:]
            terms.append(digits if len(digits) == 4 else f"20{digits}")
        elif token[0].isdigit():
            terms.append(token.replace(",", ""))
        elif token not in _STOPWORDS:
            stem = _stem(token)
            if stem not in _STOPWORDS:
                terms.append(stem)
    return terms


def _base_weight(term: str) -> float:
    if _YEAR.match(term):
        return YEAR_WEIGHT
    if term[0].isdigit():
        return NUMBER_WEIGHT
    if term in _FINANCIAL_TERMS:
        return FINANCIAL_WEIGHT
    return PLAIN_WEIGHT


@dataclass(frozen=True)
class _Candidate:
    """A sentence or table row that could be quoted, with the passage it comes from."""

    text: str
    match_text: str
    passage_number: int
    order: int


def _cells(line: str) -> list[str]:
    if "|" in line:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    elif "\t" in line:
        cells = [cell.strip() for cell in line.split("\t")]
    else:
        cells = [cell.strip() for cell in re.split(r"\s{2,}", line.strip())]
        if len(cells) < 3 or not any(_FIGURE.search(cell) for cell in cells[1:]):
            return []
    cells = [cell for cell in cells if cell]
    return cells if len(cells) >= 2 else []


def _render_row(cells: list[str], header: list[str] | None) -> str:
    if header and len(header) == len(cells):
        pairs = [f"{head}: {value}" for head, value in zip(header[1:], cells[1:], strict=True)]
        return f"{cells[0]} ({'; '.join(pairs)})"
    return " | ".join(cells)


def _split_sentences(paragraph: str) -> list[str]:
    pieces = _SENTENCE_END.split(paragraph)
    sentences: list[str] = []
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        previous_word = sentences[-1].rsplit(" ", 1)[-1].rstrip(".").lower() if sentences else ""
        if sentences and previous_word in _ABBREVIATIONS:
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return sentences


def _units(text: str) -> Iterator[tuple[str, str]]:
    """Quotable sentences and table rows of a passage, as (text shown, text matched)."""
    paragraph: list[str] = []
    header: list[str] | None = None
    table_rows = 0
    for line in [*text.splitlines(), ""]:
        cells = _cells(line)
        if cells:
            yield from ((s, s) for s in _split_sentences(" ".join(paragraph)))
            paragraph.clear()
            if all(_SEPARATOR_CELL.match(cell) for cell in cells):
                continue
            if header is None:
                header = cells
                continue
            table_rows += 1
            yield _render_row(cells, header), " ".join([*cells, *header])
            continue
        if header is not None and table_rows == 0:
            # A lone row-looking line is not a table; it is still text worth matching.
            yield " | ".join(header), " ".join(header)
        header, table_rows = None, 0
        if line.strip():
            paragraph.append(line.strip())
        else:
            yield from ((s, s) for s in _split_sentences(" ".join(paragraph)))
            paragraph.clear()


def _candidates(passages: tuple[ContextPassage, ...]) -> list[_Candidate]:
    found: list[_Candidate] = []
    seen: set[str] = set()
    for passage in passages:
        for shown, matched in _units(passage.text):
            shown = " ".join(shown.split())
            if len(shown) < 3 or shown.lower() in seen:
                continue
            seen.add(shown.lower())
            found.append(_Candidate(shown, matched, passage.number, len(found)))
    return found


def _is_quantitative(question_terms: list[str], question: str) -> bool:
    lowered = question.lower()
    asks_amount = any(
        phrase in lowered for phrase in ("how much", "how many", "what was", "what were", "what is")
    )
    return asks_amount or any(term in _FINANCIAL_TERMS for term in question_terms)


def extract_answer(question: str, passages: tuple[ContextPassage, ...]) -> str:
    """Best-matching sentences, each with its `[n]`, or the plain not-found answer."""
    question_terms = list(dict.fromkeys(_terms(question)))
    candidates = _candidates(passages)
    if not question_terms or not candidates:
        return NOT_FOUND_ANSWER

    candidate_terms = [set(_terms(candidate.match_text)) for candidate in candidates]
    total = len(candidates)
    weights: dict[str, float] = {}
    for term in question_terms:
        frequency = sum(1 for terms in candidate_terms if term in terms)
        # Rare terms tell candidates apart; a term every sentence shares says little.
        idf = math.log(1 + total / max(frequency, 1))
        weights[term] = _base_weight(term) * idf
    weight_sum = sum(weights.values())
    quantitative = _is_quantitative(question_terms, question)
    content_terms = {t for t in question_terms if not _YEAR.match(t) and not t[0].isdigit()}

    scored: list[tuple[float, _Candidate]] = []
    for candidate, terms in zip(candidates, candidate_terms, strict=True):
        matched = terms.intersection(weights)
        if not matched & content_terms and content_terms:
            continue
        coverage = sum(weights[t] for t in matched) / weight_sum
        if coverage < MIN_COVERAGE:
            continue
        has_figure = any(t[0].isdigit() and not _YEAR.match(t) for t in terms)
        score = coverage + (FIGURE_BONUS if quantitative and has_figure else 0.0)
        scored.append((score, candidate))
    if not scored:
        return NOT_FOUND_ANSWER

    scored.sort(key=lambda item: (-item[0], item[1].order))
    best = scored[0][0]
    chosen = [c for score, c in scored if score >= best * RELATIVE_CUTOFF][:MAX_SENTENCES]
    return " ".join(_cite(candidate.text, candidate.passage_number) for candidate in chosen)


def _cite(sentence: str, number: int) -> str:
    sentence = sentence.rstrip()
    if sentence and sentence[-1] in ".!?":
        return f"{sentence[:-1]} [{number}]{sentence[-1]}"
    return f"{sentence} [{number}]."


class OfflineProvider(LLMProvider):
    """Answers by quoting the retrieved passages; never fails, costs nothing."""

    is_offline = True

    def __init__(self, *, name: str = "offline", model: str = OFFLINE_MODEL):
        self.name = name
        self.model = model

    def answer(self, request: ModelRequest) -> str:
        return extract_answer(request.question, request.passages)

    def estimate_input_tokens(self, request: ModelRequest) -> int:
        return count_request_tokens("offline", self.model, request)

    def _usage(self, request: ModelRequest, text: str) -> ModelUsage:
        return ModelUsage(
            provider=self.name,
            model=self.model,
            input_tokens=self.estimate_input_tokens(request),
            output_tokens=estimate_tokens("offline", self.model, text),
        )

    async def stream(self, request: ModelRequest) -> AsyncGenerator[StreamEvent, None]:
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
