"""A deterministic, extractive, offline provider: it quotes the passages that answer the question.

It is the last link of every failover chain and the whole chain of the free tier, so it must be
honest: it only repeats sentences or table rows found in the retrieved passages, cites each one
with the passage's `[n]`, and says plainly when none of them answers the question.

When the calculator is offered and the question asks for growth, a compound annual growth rate or
a margin whose figures the passages state without ambiguity, it calls the tool the way a model
would and then adds one sentence with the result, its inputs and their citations.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass
from decimal import Decimal

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


# --- Calculations ---------------------------------------------------------------------------
# A wrong calculation is far worse than none: every rule below refuses on doubt (two candidate
# figures for one period, different units, a period missing, another company's document), and
# the answer then stays purely extractive.

CALCULATED_PREFIX = "Calculated:"
OFFLINE_CALL_ID = "offline-calculation-1"

_SCALES = {
    "": Decimal(1),
    "thousand": Decimal(10) ** 3,
    "million": Decimal(10) ** 6,
    "billion": Decimal(10) ** 9,
    "trillion": Decimal(10) ** 12,
}

# Words that never tell two metrics apart, in a question or in a row label.
_LABEL_STOPWORDS = _word_set(
    """
    a an the of and or in on at by for from to with as its their our total consolidated reported
    fiscal fy year full amount us usd dollar million billion thousand trillion except company
    during ended ending
    """
)
# Words that say what to calculate, or how to ask, rather than which figure.
_QUESTION_ONLY = frozenset(
    _stem(word)
    for word in _word_set(
        """
    what which how much many did does do was were is are be been being has have had between
    compared compare comparison versus vs please tell show give me i we you can could would
    should when why grow grew grown grows growing growth increase increased increases increasing
    decrease decreased decreases decreasing decline declined declines declining drop dropped
    drops fall fell fallen falls rise rose risen rises change changed changes percent
    percentage cagr compound compounded annual annualized annualised rate yoy over prior
    previous preceding period calculate compute earlier before last then
    """
    )
)
# Title words that name a kind of document, not a company.
_TITLE_GENERIC = frozenset(
    _stem(word)
    for word in _word_set(
        """
    inc corp corporation co ltd llc plc sa ag nv group holding holdings annual quarterly report
    summary form 10 k q 8 20 f style filing document pdf txt md htm html transcript call proxy
    statement sec 10k 10q current proxy presentation
    """
    )
)
_METRIC_WORDS = frozenset(_stem(word) for word in _FINANCIAL_TERMS)

_LABEL_REWRITES = (
    (re.compile(r"earnings\s+per\s+(?:diluted\s+|basic\s+)?share", re.IGNORECASE), "eps"),
    (re.compile(r"\bcapex\b", re.IGNORECASE), "capital expenditures"),
    (re.compile(r"\br&d\b", re.IGNORECASE), "research and development"),
)
_PARENTHETICAL = re.compile(r"\([^()]*\)")
_BOLD = re.compile(r"[*_]{1,2}")

_QUESTION_YEAR = re.compile(
    r"(?<![\d,.$])(?:fy\s?|fiscal\s+(?:year\s+)?)?((?:19|20)\d{2})(?![\d,%]|\.\d)", re.IGNORECASE
)
_FY_SHORT = re.compile(r"\bfy\s?'?(\d{2})\b", re.IGNORECASE)
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
# Annual figures only: a quarter's or a half-year's amount must never pass for a year's.
_NOT_ANNUAL = re.compile(
    r"\bq[1-4]\b|\bquarter|\bmonths?\b|\bhalf\b|\bh[12]\b|\bytd\b|year[\s-]to[\s-]date|"
    r"\bweeks?\b|\binterim\b|\bsemi[\s-]?annual",
    re.IGNORECASE,
)
# Figures stated on another basis than the reported one.
_QUALIFIED = re.compile(
    r"\b(?:adjusted|non-gaap|pro\s+forma|excluding|constant[\s-]currency|organic|respectively|"
    r"restated|recast|approximately|about|nearly|roughly|estimated|expected|guidance|outlook)\b",
    re.IGNORECASE,
)

_MONEY = re.compile(
    r"(?<![\w.$])(?P<sign>[-\u2212])?(?:US)?\$\s?(?P<number>\d{1,3}(?:,\d{3})+|\d+)"
    r"(?P<decimals>\.\d+)?(?:\s*(?P<scale>thousand|million|billion|trillion)s?\b)?",
    re.IGNORECASE,
)
_FOLLOWING_YEAR = re.compile(
    r"\s*(?:(?:in|for|during)\s+(?:the\s+)?|\()"
    r"(?P<period>(?:fiscal\s+(?:year\s+)?|fy\s?)?(?P<year>(?:19|20)\d{2}))\b\)?",
    re.IGNORECASE,
)
_MORE_YEARS = re.compile(
    r"\s*(?:and|to|through|or|-|\u2013)\s*(?:fiscal\s+)?(?:fy\s?)?(?:19|20)\d{2}", re.IGNORECASE
)
_SUBJECT_YEAR = re.compile(
    r"(?:\b(?:in|for|during)\s+(?:the\s+)?)?(?P<period>(?:fiscal\s+(?:year\s+)?|fy\s?)?"
    r"(?P<year>(?:19|20)\d{2}))\b,?",
    re.IGNORECASE,
)
_VERB = re.compile(
    r"\b(?:was|were|totaled|totalled|amounted\s+to|came\s+to|reached|"
    r"(?:rose|grew|increased|climbed|fell|declined|decreased|dropped)"
    r"(?:\s+(?:by\s+)?\d+(?:\.\d+)?\s*%)?\s+(?:to|from))\b",
    re.IGNORECASE,
)
_HEADER_YEAR = re.compile(
    r"(?<![\d,.])(?P<prefix>fy\s?|fiscal\s+(?:year\s+)?)?(?P<year>(?:19|20)\d{2})(?![\d,%]|\.\d)",
    re.IGNORECASE,
)
_DATE_WORDS = re.compile(
    r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|\d{1,2}|years?|ended|ending|"
    r"as\s+of|fiscal|fy)\b[,.]?",
    re.IGNORECASE,
)
_CELL_NUMBER = re.compile(
    r"^(?P<open>\()?(?P<sign>[-\u2212])?(?P<currency>(?:US)?\$)?\s?"
    r"(?P<number>\d{1,3}(?:,\d{3})+|\d+)(?P<decimals>\.\d+)?(?P<close>\))?$"
)
_TABLE_SCALE = re.compile(r"\b(thousand|million|billion|trillion)s\b", re.IGNORECASE)
_TABLE_CURRENCY = re.compile(r"\$|\bus\s*dollars?\b|\busd\b", re.IGNORECASE)
_OWN_UNIT = re.compile(r"per[\s-]share|\beps\b|\((?:us)?\$[^)]*\)|\bin\s+dollars\b", re.IGNORECASE)
# "Revenue by segment" names the metric of the table that follows it.
_TABLE_CAPTION = re.compile(
    r"(?P<metric>(?:net\s+|total\s+)?(?:revenues?|sales|operating\s+income|net\s+income|"
    r"gross\s+(?:profit|margin)))\s+by\s+(?:reportable\s+|business\s+|operating\s+|"
    r"geographic\s+|market\s+)?(?:segments?|categor(?:y|ies)|platforms?|geograph(?:y|ies)|"
    r"regions?|markets?|divisions?|product\s+lines?)\b",
    re.IGNORECASE,
)
_TOOL_VALUE = re.compile(r"=\s*(?P<value>-?\d+(?:\.\d+)?)\s*$")


def _label_terms(text: str) -> frozenset[str]:
    """The words that name a metric, normalised so a row label and a question compare."""
    lowered = text.lower()
    for pattern, replacement in _LABEL_REWRITES:
        lowered = pattern.sub(replacement, lowered)
    terms: set[str] = set()
    for token in _TOKEN.findall(lowered):
        if token.startswith("fy"):
            continue
        if token[0].isdigit():
            number = token.replace(",", "")
            if not _YEAR.match(number):
                terms.add(number)
        elif token not in _LABEL_STOPWORDS:
            stem = _stem(token)
            if stem not in _LABEL_STOPWORDS:
                terms.add(stem)
    if "revenue" in terms:
        terms.discard("net")  # net sales, net revenue and revenue are the same line
    return frozenset(terms)


def _entity_terms(title: str) -> frozenset[str]:
    """The words of a document's title that name its company (years and form names removed)."""
    return _label_terms(title) - _TITLE_GENERIC - _METRIC_WORDS - _QUESTION_ONLY


@dataclass(frozen=True)
class _Name:
    """One way a figure is named: `terms` must all be asked for; `context` (a table's caption)
    may supply the asked-for words the row itself leaves out."""

    terms: frozenset[str]
    context: frozenset[str]
    display: str
    context_display: str = ""


@dataclass(frozen=True)
class _Figure:
    """An amount a passage states for one fiscal year, from a table cell or a sentence."""

    names: tuple[_Name, ...]
    year: int
    period: str
    value: Decimal
    scale: str | None  # None: the table does not say its unit
    currency: bool
    passage: int
    block: int  # the table or sentence it came from, within the passage
    order: int
    entity: frozenset[str]


@dataclass(frozen=True)
class _Input:
    figure: _Figure
    name: _Name


@dataclass(frozen=True)
class CalculationPlan:
    """The one tool call the offline provider makes, with where each input came from."""

    tool: str
    arguments: dict[str, int | float]
    kind: str  # growth, cagr or margin
    inputs: tuple[_Input, ...]
    title: str = ""


def _period_text(period: str, year: int) -> str:
    return f"fiscal {year}" if period.strip().lower().startswith(("fy", "fiscal")) else str(year)


def _decimal(sign: str | None, number: str, decimals: str | None) -> Decimal:
    value = Decimal(number.replace(",", "") + (decimals or ""))
    return -value if sign else value


def _year_of(match: re.Match[str]) -> int:
    return int(match.group("year"))


def _period_columns(header: list[str]) -> list[tuple[int, int, str, frozenset[str], str]]:
    """(column, year, period text, the header's other words, their text) of year columns."""
    found = []
    for index, cell in enumerate(header[1:], start=1):
        years = list(_HEADER_YEAR.finditer(cell))
        if len(years) != 1:
            continue
        match = years[0]
        rest = _DATE_WORDS.sub(" ", cell[: match.start()] + " " + cell[match.end() :])
        rest = " ".join(_BOLD.sub("", rest).split())
        found.append((index, _year_of(match), match.group(0), _label_terms(rest), rest))
    bare = [c for c in found if c[2].strip().isdigit() and not c[4]]
    # A lone bare year could be a data row taken for a header (a table cut by the chunker).
    if len(bare) == 1 and len(found) == 1:
        return []
    years_seen = [c[1] for c in found]
    if len(set(zip(years_seen, (c[3] for c in found), strict=True))) != len(found):
        return []  # two columns for the same year and metric: which one is meant?
    return found


def _cell_value(cell: str) -> tuple[Decimal, bool] | None:
    text = _BOLD.sub("", cell).strip().replace(" ", "")
    match = _CELL_NUMBER.match(text)
    if match is None or bool(match.group("open")) != bool(match.group("close")):
        return None
    value = _decimal(match.group("sign"), match.group("number"), match.group("decimals"))
    return (-value if match.group("open") else value), bool(match.group("currency"))


def _table_figures(
    rows: list[list[str]],
    caption: str,
    passage: int,
    block: int,
    entity: frozenset[str],
    start: int,
) -> list[_Figure]:
    header, body = rows[0], rows[1:]
    # The unit is said in the header's first cell or a short caption line just above the table.
    last_line = caption.rsplit("\n", 1)[-1]
    heading = last_line if len(last_line.split()) <= 12 else ""
    unit_text = f"{heading} {header[0]}"
    if _NOT_ANNUAL.search(f"{heading} {' '.join(header)}"):
        return []
    columns = _period_columns(header)
    if not columns:
        return []
    scale_match = _TABLE_SCALE.search(unit_text)
    table_scale = scale_match.group(1).lower() if scale_match else None
    table_currency = bool(_TABLE_CURRENCY.search(unit_text))
    captions = list(_TABLE_CAPTION.finditer(caption))
    context = _label_terms(captions[-1].group("metric")) - entity if captions else frozenset()
    context_display = " ".join(captions[-1].group("metric").lower().split()) if captions else ""
    figures: list[_Figure] = []
    for row in body:
        if len(row) != len(header):
            continue  # a row missing a cell cannot be aligned with the years
        label = " ".join(_BOLD.sub("", row[0]).split())
        row_terms = _label_terms(_PARENTHETICAL.sub(" ", label)) - entity
        own_unit = bool(_OWN_UNIT.search(label))
        shown_label = " ".join(_PARENTHETICAL.sub(" ", label).split())
        for column, year, period, header_terms, header_text in columns:
            parsed = _cell_value(row[column])
            if parsed is None:
                continue
            value, cell_currency = parsed
            shown_header = header_text if header_terms - row_terms else ""
            display = f"{shown_label} {shown_header}".strip()
            figures.append(
                _Figure(
                    names=(
                        _Name(
                            row_terms | (header_terms - entity), context, display, context_display
                        ),
                    ),
                    year=year,
                    period=_period_text(period, year),
                    value=value,
                    scale="" if own_unit else table_scale,
                    currency=table_currency or cell_currency or own_unit,
                    passage=passage,
                    block=block,
                    order=start + len(figures),
                    entity=entity,
                )
            )
    return figures


# Last words of the headings a filing's sections start with ("Management's Discussion and
# Analysis", "Results of Operations"): a capitalised word after one starts a new phrase.
_HEADING_ENDS = _word_set(
    "analysis operations overview results highlights summary resources liquidity discussion "
    "outlook performance data"
)


def _subject_names(subject: str, entity: frozenset[str]) -> tuple[_Name, ...]:
    """Every reading of a sentence's subject that starts a line, a capitalised phrase or the
    sentence after a heading.

    Chunked text glues headings to the first sentence under them ("... by segment Net sales for
    2018 were"), so the subject may be any such tail; a tail never starts inside a proper noun
    ("Intelligent Cloud revenue" is never read as "Cloud revenue").
    """
    words: list[tuple[str, bool]] = []
    for line_number, line in enumerate(_PARENTHETICAL.sub(" ", subject).split("\n")):
        words.extend(
            (word, index == 0 and line_number > 0) for index, word in enumerate(line.split())
        )
    names: list[_Name] = []
    seen: set[frozenset[str]] = set()
    for index, (word, starts_line) in enumerate(words):
        capital = word[:1].isupper() or (word[:1].isdigit() and word[1:2].isupper())
        previous = words[index - 1][0] if index else ""
        after_heading = previous.endswith((":", ".")) or (
            previous.lower() in _HEADING_ENDS and not starts_line
        )
        previous_capital = previous[:1].isupper() or previous[:1].isdigit()
        if index and not starts_line and not (capital and (after_heading or not previous_capital)):
            continue
        tail = " ".join(word for word, _ in words[index:])
        terms = _label_terms(tail) - entity
        if not terms or terms in seen:
            continue
        seen.add(terms)
        display = " ".join(_SUBJECT_YEAR.sub(" ", tail).split()).strip(" ,")
        display = re.sub(r"^(?:in|for|during)\s+", "", display, flags=re.IGNORECASE)
        names.append(_Name(terms, frozenset(), display[:1].upper() + display[1:]))
    return tuple(names)


def _sentence_figures(
    sentence: str, passage: int, block: int, entity: frozenset[str], start: int
) -> list[_Figure]:
    """Figures of "<metric> was $X in <year>, compared with $Y in <year>" and its variants.

    Every amount must have its own year and the sentence exactly one subject; otherwise the
    amounts could belong to something else and none is taken.
    """
    if _NOT_ANNUAL.search(sentence) or _QUALIFIED.search(sentence):
        return []
    verbs = list(_VERB.finditer(sentence))
    if len(verbs) != 1:
        return []
    verb = verbs[0]
    amounts = list(_MONEY.finditer(sentence))
    if not amounts or len(amounts) > 3 or amounts[0].start() < verb.end():
        return []
    subject = sentence[: verb.start()]
    subject_years = list(_SUBJECT_YEAR.finditer(subject))
    if len(subject_years) > 1 or _MONEY.search(subject):
        return []
    names = _subject_names(subject, entity)
    if not names:
        return []
    figures: list[_Figure] = []
    for position, amount in enumerate(amounts):
        following = _FOLLOWING_YEAR.match(sentence, amount.end())
        if following and _MORE_YEARS.match(sentence, following.end()):
            return []
        if following and (position or not subject_years):
            year, period = _year_of(following), following.group("period")
        elif position == 0 and subject_years and not following:
            year, period = _year_of(subject_years[0]), subject_years[0].group("period")
        else:
            return []
        scale = (amount.group("scale") or "").lower()
        figures.append(
            _Figure(
                names=names,
                year=year,
                period=_period_text(period, year),
                value=_decimal(
                    amount.group("sign"), amount.group("number"), amount.group("decimals")
                ),
                scale=scale,
                currency=True,
                passage=passage,
                block=block,
                order=start + position,
                entity=entity,
            )
        )
    if len({figure.year for figure in figures}) != len(figures):
        return []
    return figures


def _passage_figures(passage: ContextPassage, entity: frozenset[str], start: int) -> list[_Figure]:
    figures: list[_Figure] = []
    prose: list[str] = []
    rows: list[list[str]] = []
    block = 0

    def flush_table() -> None:
        nonlocal block
        if rows:
            block += 1
            figures.extend(
                _table_figures(
                    rows, "\n".join(prose), passage.number, block, entity, start + len(figures)
                )
            )
            rows.clear()
            prose.clear()

    def flush_prose() -> None:
        nonlocal block
        # Line breaks are kept: a line may start a subject under a heading in Title Case.
        for sentence in _split_sentences("\n".join(prose)):
            block += 1
            figures.extend(
                _sentence_figures(sentence, passage.number, block, entity, start + len(figures))
            )

    for line in passage.text.splitlines():
        cells = _cells(line)
        if cells:
            if not rows:
                flush_prose()
            if not all(_SEPARATOR_CELL.match(cell) for cell in cells):
                rows.append(cells)
            continue
        flush_table()
        if line.strip():
            prose.append(line.strip())
    flush_table()
    flush_prose()
    return figures


def _question_years(question: str) -> list[int]:
    years = {int(match.group(1)) for match in _QUESTION_YEAR.finditer(question)}
    years |= {2000 + int(match.group(1)) for match in _FY_SHORT.finditer(question)}
    return sorted(years)


def _find(figures: list[_Figure], wanted: tuple[frozenset[str], ...], year: int) -> list[_Input]:
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
                shown = _Name(name.terms, name.context, f"{name.display} {name.context_display}")
            found.append(_Input(figure, shown))
            break
    return found


def _consistent(found: list[_Input]) -> bool:
    """All candidates for one metric and year state the same amount (once units are applied)."""
    known = [i.figure for i in found if i.figure.scale is not None]
    unknown = {i.figure.value for i in found if i.figure.scale is None}
    absolute = {f.value * _SCALES[f.scale] for f in known if f.scale is not None}
    if len(absolute) > 1 or len(unknown) > 1:
        return False
    return not (absolute and unknown) or unknown <= {f.value for f in known}


def _same_unit(a: _Figure, b: _Figure) -> bool:
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
    figures: list[_Figure], wanted: tuple[frozenset[str], ...], year: int
) -> list[_Input] | None:
    found = _find(figures, wanted, year)
    if not found or not _consistent(found):
        return None
    if len({i.figure.entity for i in found}) != 1:
        return None  # the same metric from two companies' documents
    return found


def _metric_terms(text: str, entities: frozenset[str]) -> frozenset[str]:
    """The words of a question that name the figure it asks about."""
    return _label_terms(text) - _QUESTION_ONLY - _TITLE_GENERIC - entities


def calculation_plan(
    question: str, passages: tuple[ContextPassage, ...], tool_names: frozenset[str]
) -> CalculationPlan | None:
    """The calculation the question asks for, with unambiguous inputs from the passages; None
    when the question asks for none, or when any input is missing, doubtful or mismatched."""
    if not passages or _NOT_ANNUAL.search(question):
        return None
    entities = {p.number: _entity_terms(p.document) for p in passages}
    all_entities = frozenset().union(*entities.values())
    named = _label_terms(question) & all_entities
    figures: list[_Figure] = []
    for passage in passages:
        if named <= entities[passage.number]:
            figures.extend(_passage_figures(passage, entities[passage.number], len(figures)))
    if not figures:
        return None
    years = _question_years(question)
    if _CAGR.search(question):
        return _cagr_plan(question, years, figures, all_entities, tool_names)
    margin = _MARGIN.search(question)
    share = _SHARE_OF_REVENUE.match(question.strip().rstrip("?. "))
    if margin or share:
        if _GROWTH.search(question) or len(years) != 1:
            return None
        return _margin_plan(question, years[0], margin, share, figures, all_entities, tool_names)
    if _GROWTH.search(question) and not _NOT_GROWTH.search(question):
        return _growth_plan(question, years, figures, all_entities, tool_names)
    return None


def _two_periods(question: str, years: list[int]) -> tuple[int, int] | None:
    if len(years) == 2:
        return years[0], years[1]
    if len(years) == 1 and _YEAR_OVER_YEAR.search(question):
        return years[0] - 1, years[0]
    return None


def _growth_plan(
    question: str,
    years: list[int],
    figures: list[_Figure],
    entities: frozenset[str],
    tool_names: frozenset[str],
) -> CalculationPlan | None:
    periods = _two_periods(question, years)
    wanted = _metric_terms(_YEAR_OVER_YEAR.sub(" ", question), entities)
    if "growth_percent" not in tool_names or periods is None or not wanted:
        return None
    old = _lookup(figures, (wanted,), periods[0])
    new = _lookup(figures, (wanted,), periods[1])
    pair = _pair(old, new) if old and new else None
    if pair is None or pair[0].figure.value <= 0 or pair[1].figure.value <= 0:
        return None
    arguments = {"old": _number(pair[0].figure.value), "new": _number(pair[1].figure.value)}
    return CalculationPlan("growth_percent", arguments, "growth", pair)


def _cagr_plan(
    question: str,
    years: list[int],
    figures: list[_Figure],
    entities: frozenset[str],
    tool_names: frozenset[str],
) -> CalculationPlan | None:
    wanted = _metric_terms(_CAGR.sub(" ", question), entities)
    if "cagr_percent" not in tool_names or len(years) != 2 or not wanted:
        return None
    start = _lookup(figures, (wanted,), years[0])
    end = _lookup(figures, (wanted,), years[1])
    pair = _pair(start, end) if start and end else None
    if pair is None or pair[0].figure.value <= 0 or pair[1].figure.value <= 0:
        return None
    arguments = {
        "start": _number(pair[0].figure.value),
        "end": _number(pair[1].figure.value),
        "years": years[1] - years[0],
    }
    return CalculationPlan("cagr_percent", arguments, "cagr", pair)


_MARGIN_PARTS = {
    "gross": (_label_terms("gross profit"), _label_terms("gross margin")),
    "operating": (_label_terms("operating income"),),
    "net": (_label_terms("net income"),),
}


def _margin_plan(
    question: str,
    year: int,
    margin: re.Match[str] | None,
    share: re.Match[str] | None,
    figures: list[_Figure],
    entities: frozenset[str],
    tool_names: frozenset[str],
) -> CalculationPlan | None:
    if "margin_percent" not in tool_names or (margin and share):
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
    whole = _lookup(figures, (frozenset({"revenue"}) | rest,), year)
    part = _lookup(figures, parts, year)
    pair = _pair(part, whole) if part and whole else None
    if pair is None or pair[1].figure.value <= 0:
        return None
    arguments = {"part": _number(pair[0].figure.value), "whole": _number(pair[1].figure.value)}
    return CalculationPlan("margin_percent", arguments, "margin", pair, title)


def _amount(figure: _Figure) -> str:
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
        plan = calculation_plan(request.question, request.passages, _tool_names(request))
        if plan is None:
            return None
        return ToolUse(call_id=OFFLINE_CALL_ID, name=plan.tool, arguments=dict(plan.arguments))

    def answer(self, request: ModelRequest) -> str:
        text = extract_answer(request.question, request.passages)
        result = self._calculated(request)
        if not result:
            return text
        return result if text == NOT_FOUND_ANSWER else f"{text} {result}"

    def _calculated(self, request: ModelRequest) -> str:
        """The sentence stating our own calculation's result, once the calculator has answered.

        Only a call matching the plan is described (a call another provider made before failing
        over has inputs we cannot vouch for); an error result states nothing.
        """
        if not request.tool_rounds:
            return ""
        plan = calculation_plan(request.question, request.passages, _tool_names(request))
        if plan is None:
            return ""
        for tool_round in request.tool_rounds:
            for exchange in tool_round.exchanges:
                if exchange.name == plan.tool and exchange.arguments == plan.arguments:
                    return "" if exchange.is_error else calculation_sentence(plan, exchange.output)
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
