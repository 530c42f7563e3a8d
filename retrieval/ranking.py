"""Pure ranking steps after candidate generation: fusion, lexical re-rank, page aggregation."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from fintext.tables import TABLE_CELL_SEPARATOR
from fintext.words import QUESTION_STOPWORDS as _STOPWORDS
from fintext.words import TERM as _TOKEN
from fintext.words import content_terms
from fintext.words import stem as _stem

RRF_K = 60.0


# Financial wording that analysts and filings use interchangeably; the question is expanded
# with the filing's words so the full-text side can match them.
FINANCIAL_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "revenue": ("net sales", "net revenues", "total revenues", "sales"),
    "revenues": ("net sales", "net revenues", "total revenues", "sales"),
    "sales": ("revenue", "net sales"),
    "capex": ("capital expenditures", "purchases of property and equipment"),
    "capital expenditure": ("purchases of property and equipment", "capital expenditures"),
    "capital expenditures": ("purchases of property and equipment",),
    "r&d": ("research and development",),
    "opex": ("operating expenses",),
    "eps": ("earnings per share", "diluted"),
    "profit": ("net income", "operating income", "earnings"),
    "earnings": ("net income",),
    "buyback": ("repurchase", "repurchases of common stock"),
    "buybacks": ("repurchase", "repurchases of common stock"),
    "share repurchase": ("repurchases of common stock",),
    "headcount": ("employees",),
    "debt": ("borrowings", "notes", "long-term debt"),
    "margin": ("gross margin",),
    "cash flow": ("cash provided by operating activities",),
    "tax rate": ("effective tax rate", "provision for income taxes"),
    "inventory": ("inventories",),
    "dividend": ("dividends",),
    "lease": ("leases",),
    "rent": ("rent expense", "lease"),
}

_NUMBER = re.compile(r"(?<![\w.])\$?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?%?")


@dataclass(frozen=True)
class Candidate:
    """One chunk offered by candidate generation, with the scores that produced its rank."""

    chunk_id: Hashable
    document_id: Hashable
    page: int
    text: str
    score: float
    page_end: int | None = None
    header: str = ""
    vector_score: float | None = None
    text_score: float | None = None
    page_type: str = ""
    fiscal_year: int | None = None
    doc_type: str = ""  # the kind of filing (10-K, 10-Q, 8-K, earnings_release...)


@dataclass(frozen=True)
class StatementEvidence:
    """What a question wants from the financial statements, as the re-rank weighs it."""

    named: tuple[str, ...] = ()  # statements the question names ("the balance sheet")
    implied: tuple[str, ...] = ()  # statements its metrics live on
    # Filing wording of each metric's line items; any one of a metric's items is evidence.
    line_items: tuple[tuple[str, ...], ...] = ()
    year: int | None = None  # the latest fiscal year the question names
    asks_why: bool = False  # causes or commentary: prose answers, not a statement's table
    # Wording anywhere on a page that treats each of the question's topics (segment results,
    # a non-GAAP reconciliation, a vote) or quotes a metric in prose; one of a group is evidence.
    page_words: tuple[tuple[str, ...], ...] = ()
    page_types: tuple[str, ...] = ()  # non-statement page types its topics live on
    doc_types: tuple[str, ...] = ()  # kinds of filing its topics usually come from

    @property
    def wanted(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.named, *self.implied)))

    @property
    def needed(self) -> tuple[str, ...]:
        """Statements the answer cannot do without: those named, or all of a ratio's.

        One implied statement ("net revenue by segment") is only a hint: the figure may well be
        in MD&A or a note, so it earns a bonus but no guaranteed place.
        """
        if self.named:
            return tuple(dict.fromkeys((*self.named, *self.implied)))
        return self.implied if len(self.implied) > 1 else ()


STATEMENT_PAGE_TYPES = frozenset(
    {"income_statement", "comprehensive_income", "balance_sheet", "cash_flow", "equity_statement"}
)
# Pages that are never the evidence for a figure, however well their words match.
NAVIGATION_PAGE_TYPES = frozenset({"contents", "cover", "exhibits"})


def full_text_query(text: str, phrases: Sequence[str] = ()) -> str:
    """A websearch_to_tsquery string matching any content word of `text` or any phrase.

    Analysts' questions are long; requiring every word (the default AND) matches almost
    nothing, so the words are OR-ed and ts_rank_cd rewards chunks that hold more of them.
    """
    words = [
        token
        for token in _TOKEN.findall(text.lower())
        if not any(ch.isdigit() for ch in token) and token not in _STOPWORDS and len(token) > 1
    ]
    words = [w.strip("'\u2019-&") for w in words]
    parts = list(dict.fromkeys(w for w in words if w))
    parts += [f'"{phrase}"' for phrase in dict.fromkeys(phrases)]
    return " or ".join(parts)


def weighted_rrf(
    rankings: Mapping[str, Sequence[Hashable]],
    weights: Mapping[str, float] | None = None,
    *,
    k: float = RRF_K,
) -> list[tuple[Hashable, float]]:
    """Fuse ranked id lists: score(id) = sum of weight / (k + rank), best first.

    The same formula the hybrid SQL uses, so the Python and SQL paths rank alike.
    """
    scores: dict[Hashable, float] = {}
    first_seen: dict[Hashable, int] = {}
    for name, ids in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 0.0)
        if weight == 0:
            continue
        for rank, item in enumerate(ids, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            first_seen.setdefault(item, len(first_seen))
    return sorted(scores.items(), key=lambda kv: (-kv[1], first_seen[kv[0]]))


def expand_query(question: str) -> str:
    """`question` followed by filing wording for the financial terms it uses."""
    lowered = question.lower()
    extra: list[str] = []
    for term, synonyms in FINANCIAL_SYNONYMS.items():
        if re.search(rf"(?<![\w-]){re.escape(term)}(?![\w-])", lowered):
            extra.extend(s for s in synonyms if s not in lowered and s not in extra)
    return f"{question} {' '.join(extra)}" if extra else question


def numbers_in(text: str) -> set[str]:
    """Numbers written in `text`, normalised ("1,234.50" -> "1234.5"), years included."""
    found: set[str] = set()
    for whole, fraction in _NUMBER.findall(text):
        digits = whole.replace(",", "")
        fraction = (fraction or "").rstrip("0")
        found.add(f"{int(digits)}.{fraction}" if fraction else str(int(digits)))
    return found


@dataclass(frozen=True)
class LexicalFeatures:
    """How well a chunk's words match a question's, each in [0, 1]."""

    coverage: float  # idf-weighted share of question terms present in the chunk
    numbers: float  # share of the question's numbers (years, amounts) present
    table_row: float  # best table row: share of question terms in its label
    phrase: float  # share of adjacent question term pairs that appear adjacent


def lexical_features(
    question: str, text: str, *, idf: Mapping[str, float] | None = None
) -> LexicalFeatures:
    q_terms = content_terms(question)
    if not q_terms:
        return LexicalFeatures(0.0, 0.0, 0.0, 0.0)
    weights = {t: (idf or {}).get(t, 1.0) for t in q_terms}
    total = sum(weights.values()) or 1.0
    profile = _text_profile(text)
    coverage = sum(w for t, w in weights.items() if t in profile.stems) / total

    q_numbers = numbers_in(question)
    numbers = len(q_numbers & profile.numbers) / len(q_numbers) if q_numbers else 0.0

    table_row = 0.0
    for label_terms in profile.table_labels:
        share = sum(w for t, w in weights.items() if t in label_terms) / total
        table_row = max(table_row, share)

    q_in_order = [
        _stem(t)
        for t in _TOKEN.findall(question.lower())
        if not t[0].isdigit() and t not in _STOPWORDS
    ]
    q_pairs = list(itertools.pairwise(q_in_order))
    phrase = (
        sum(1 for pair in q_pairs if pair in profile.bigrams) / len(q_pairs) if q_pairs else 0.0
    )
    return LexicalFeatures(coverage, numbers, table_row, phrase)


@dataclass(frozen=True)
class _TextProfile:
    """What lexical_features reads from a candidate's text, whatever the question."""

    stems: frozenset[str]
    numbers: frozenset[str]
    table_labels: tuple[frozenset[str], ...]  # the stems of each table row's label, if any
    bigrams: frozenset[tuple[str, str]]


# The same chunks come back as candidates query after query; a query re-ranks up to 100 of them.
# Bounded: a few thousand chunk texts at most a few kilobytes each, with their word sets.
@lru_cache(maxsize=2048)
def _text_profile(text: str) -> _TextProfile:
    labels = []
    for line in text.splitlines():
        if TABLE_CELL_SEPARATOR not in line:
            continue
        label_terms = _stems_of(line.split(TABLE_CELL_SEPARATOR, 1)[0])
        if label_terms:
            labels.append(label_terms)
    stems_in_order = [_stem(t) for t in _TOKEN.findall(text.lower()) if not t[0].isdigit()]
    return _TextProfile(
        stems=_stems_of(text),
        numbers=frozenset(numbers_in(text)),
        table_labels=tuple(labels),
        bigrams=frozenset(itertools.pairwise(stems_in_order)),
    )


def _stems_of(text: str) -> frozenset[str]:
    return frozenset(_stem(t) for t in _TOKEN.findall(text.lower()) if not t[0].isdigit())


@lru_cache(maxsize=2048)
def _text_stems(text: str) -> frozenset[str]:
    return _stems_of(text)


def candidate_idf(question: str, texts: Iterable[str]) -> dict[str, float]:
    """Inverse document frequency of the question's terms over the candidate set itself.

    Terms every candidate shares (the company name, "net") say little about which one is
    right; the candidate pool is a good enough sample to learn that without corpus statistics.
    """
    stem_sets = [_text_stems(text) for text in texts]
    n = len(stem_sets)
    return {
        term: math.log((n + 1) / (1 + sum(1 for s in stem_sets if term in s))) + 1.0
        for term in content_terms(question)
    }


def rerank(
    question: str,
    candidates: Sequence[Candidate],
    *,
    lexical: bool = True,
    pages: bool = True,
    evidence: StatementEvidence | None = None,
    w_base: float = 1.0,
    w_coverage: float = 1.0,
    w_numbers: float = 0.3,
    w_table_row: float = 0.5,
    w_phrase: float = 0.5,
    w_named_statement: float = 1.2,
    w_implied_statement: float = 0.3,
    w_line_items: float = 0.4,
    w_year: float = 0.3,
    w_page_words: float = 0.4,
    w_topic_page_type: float = 0.3,
    w_doc_type: float = 0.3,
    page_sibling_weight: float = 0.2,
    top_n: int = 50,
) -> list[Candidate]:
    """Re-score the top `top_n` candidates and optionally aggregate them per page.

    The fused score is scaled to [0, 1] within the list, lexical features are added, and with
    `evidence` the statement evidence: a page of a statement the question names or needs, the
    share of its metrics' line items printed on the page, and the fiscal year it names. With
    `pages` each page keeps its best chunk, scored best + `page_sibling_weight` x the rest of
    that page's chunks, and a question needing several statements gets the best page of each.
    """
    pool = list(candidates[:top_n])
    if not pool:
        return []
    top = max(c.score for c in pool)
    bottom = min(c.score for c in pool)
    idf = candidate_idf(question, (c.text for c in pool)) if lexical else {}
    pool_scale = _PoolScale(
        bottom=bottom,
        spread=(top - bottom) or 1.0,
        items_on_page=_line_items_per_page(pool, evidence) if evidence else {},
        words_on_page=_page_words_per_page(pool, evidence) if evidence else {},
    )
    weights = _Weights(
        base=w_base,
        coverage=w_coverage,
        numbers=w_numbers,
        table_row=w_table_row,
        phrase=w_phrase,
        named_statement=w_named_statement,
        implied_statement=w_implied_statement,
        line_items=w_line_items,
        year=w_year,
        page_words=w_page_words,
        topic_page_type=w_topic_page_type,
        doc_type=w_doc_type,
    )
    rescored = [
        replace(c, score=_candidate_score(question, c, weights, pool_scale, idf, lexical, evidence))
        for c in pool
    ]
    rescored.sort(key=lambda c: -c.score)
    if pages:
        # Page aggregation already picked one chunk per page from the pool; the tail below
        # the pool would only re-introduce pages in arbitrary order.
        merged = aggregate_pages(rescored, sibling_weight=page_sibling_weight)
        return statements_first(merged, evidence.needed) if evidence else merged
    return rescored + list(candidates[top_n:])


@dataclass(frozen=True)
class _Weights:
    """rerank's weights: the fused score, the lexical features and the statement evidence."""

    base: float
    coverage: float
    numbers: float
    table_row: float
    phrase: float
    named_statement: float
    implied_statement: float
    line_items: float
    year: float
    page_words: float
    topic_page_type: float
    doc_type: float


@dataclass(frozen=True)
class _PoolScale:
    """What rerank reads off the whole pool once: the fused scores' range, and per page the
    share of the question's line items and page words printed on it."""

    bottom: float
    spread: float
    items_on_page: Mapping[tuple[Hashable, int], float]
    words_on_page: Mapping[tuple[Hashable, int], float]


def _candidate_score(
    question: str,
    c: Candidate,
    weights: _Weights,
    pool: _PoolScale,
    idf: Mapping[str, float],
    lexical: bool,
    evidence: StatementEvidence | None,
) -> float:
    """One candidate's new score: its fused score scaled to the pool, plus the lexical features
    and the statement evidence, less a penalty for navigation pages."""
    score = weights.base * (c.score - pool.bottom) / pool.spread
    if lexical:
        f = lexical_features(question, f"{c.header}\n{c.text}", idf=idf)
        score += (
            weights.coverage * f.coverage
            + weights.numbers * f.numbers
            + weights.table_row * f.table_row
            + weights.phrase * f.phrase
        )
    if evidence is not None:
        score = _with_evidence(score, c, evidence=evidence, weights=weights, pool=pool)
    if c.page_type in NAVIGATION_PAGE_TYPES:
        score -= 0.5
    return score


def _with_evidence(
    score: float, c: Candidate, *, evidence: StatementEvidence, weights: _Weights, pool: _PoolScale
) -> float:
    """`score` with what the statement evidence says about this candidate's page added."""
    if c.page_type in evidence.named:
        score += weights.named_statement
    elif c.page_type in evidence.needed:
        # A single implied statement earns nothing here: FinQA's short questions about
        # one metric are as often answered by an MD&A table (bench/retrieval).
        score += weights.implied_statement
    score += weights.line_items * pool.items_on_page.get((c.document_id, c.page), 0.0)
    score += weights.page_words * pool.words_on_page.get((c.document_id, c.page), 0.0)
    if c.page_type in evidence.page_types:
        score += weights.topic_page_type
    if c.doc_type and c.doc_type in evidence.doc_types:
        score += weights.doc_type
    if evidence.year is not None and c.fiscal_year == evidence.year:
        score += weights.year
    if evidence.asks_why and c.page_type in STATEMENT_PAGE_TYPES:
        score -= weights.implied_statement
    return score


def _line_items_per_page(
    pool: Sequence[Candidate], evidence: StatementEvidence
) -> dict[tuple[Hashable, int], float]:
    """Share of the question's metrics with a line item labelling a table row on each page
    (any line of a statement page: some text layers lose the cell boundaries), or followed by
    an amount in running text (a row whose cells the text layer ran into a sentence)."""
    if not evidence.line_items:
        return {}
    labels: dict[tuple[Hashable, int], list[str]] = {}
    prose: dict[tuple[Hashable, int], list[str]] = {}
    for c in pool:
        statement = c.page_type in STATEMENT_PAGE_TYPES
        key = (c.document_id, c.page)
        for line in c.text.lower().replace("\u2019", "'").splitlines():
            if TABLE_CELL_SEPARATOR in line or statement:
                labels.setdefault(key, []).append(line.split(TABLE_CELL_SEPARATOR, 1)[0])
            else:
                prose.setdefault(key, []).append(line)
    groups = [
        (items, re.compile(rf"\b(?:{'|'.join(map(re.escape, items))})\s+\(?\$?\s?\d"))
        for items in evidence.line_items
    ]
    return {
        key: sum(
            1
            for items, with_amount in groups
            if any(item in label for item in items for label in labels.get(key, ()))
            or any(with_amount.search(line) for line in prose.get(key, ()))
        )
        / len(groups)
        for key in labels.keys() | prose.keys()
    }


def _page_words_per_page(
    pool: Sequence[Candidate], evidence: StatementEvidence
) -> dict[tuple[Hashable, int], float]:
    """Share of the question's topic groups with some of their wording on each page."""
    if not evidence.page_words:
        return {}
    texts: dict[tuple[Hashable, int], list[str]] = {}
    for c in pool:
        texts.setdefault((c.document_id, c.page), []).append(c.text.lower().replace("\u2019", "'"))
    groups = evidence.page_words
    return {
        key: sum(1 for words in groups if any(w in text for w in words for text in page_texts))
        / len(groups)
        for key, page_texts in texts.items()
    }


def statements_first(pages: Sequence[Candidate], wanted: Sequence[str]) -> list[Candidate]:
    """Put the best page of each wanted statement of the leading document at the top.

    A ratio over two statements (inventory turnover: income statement and balance sheet) needs
    both pages in front of the model, not the second one below prose about the same metric.
    """
    if not pages or not wanted:
        return list(pages)
    leader = next((p.document_id for p in pages if p.page_type in wanted), pages[0].document_id)
    chosen: list[Candidate] = []
    for kind in wanted:
        best = next((p for p in pages if p.document_id == leader and p.page_type == kind), None)
        if best is not None and best not in chosen:
            chosen.append(best)
    chosen.sort(key=lambda c: -c.score)
    return chosen + [p for p in pages if p not in chosen]


def aggregate_pages(
    candidates: Sequence[Candidate], *, sibling_weight: float = 0.2
) -> list[Candidate]:
    """One candidate per (document, page): its best chunk, scored best + weight x the others."""
    best: dict[tuple[Hashable, int], Candidate] = {}
    extra: dict[tuple[Hashable, int], float] = {}
    for c in candidates:
        key = (c.document_id, c.page)
        if key not in best or c.score > best[key].score:
            if key in best:
                extra[key] = extra.get(key, 0.0) + best[key].score
            best[key] = c
        else:
            extra[key] = extra.get(key, 0.0) + c.score
    merged = [
        replace(c, score=c.score + sibling_weight * extra.get(k, 0.0)) for k, c in best.items()
    ]
    merged.sort(key=lambda c: -c.score)
    return merged
