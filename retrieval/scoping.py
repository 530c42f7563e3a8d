"""Read the companies, fiscal years and quarters a question is about, to filter retrieval."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

from fintext.periods import periods_in

# Corporate suffixes that people leave out when they name a company in a question.
_SUFFIXES = {
    "inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited", "plc",
    "llc", "lp", "holdings", "holding", "group", "the", "sa", "ag", "nv", "se", "com",
}  # fmt: skip

# Upper-case words that are also tickers but, in a question, are far more often plain words
# or finance jargon; they count as tickers only when marked ($IT, "ticker IT", "(NYSE: IT)").
_AMBIGUOUS_TICKERS = {
    "A", "AI", "ALL", "AN", "ANY", "ARE", "AT", "BE", "BIG", "BY", "CAN", "CEO", "CFO", "COO",
    "CTO", "DAY", "EPS", "ESG", "EV", "FOR", "FY", "GAAP", "GDP", "HAS", "IPO", "IS", "IT", "KEY",
    "LOW", "MD", "NEW", "NOW", "OK", "ON", "ONE", "OR", "OUT", "Q", "R", "RE", "SEC", "SO", "TV",
    "UK", "US", "USA", "EU", "ROI", "ROE", "ROA", "YOY", "QOQ", "TTM", "LTM", "CAPEX", "OPEX",
    "EBIT", "EBITDA", "FCF", "AR", "AP", "PE", "PB", "WACC", "API", "HR", "PR", "IR", "GO", "SEE",
    "PLAY", "REAL", "LIFE", "LOVE", "FUN", "HOT", "JOB", "MAN", "RUN", "CAR", "EAT", "OPEN", "WELL",
    "VS", "AND", "THE", "NOT", "NET", "TAX", "DO", "IF", "IN", "OF", "TO", "UP", "WE", "ME", "MY",
}  # fmt: skip

_RE_LATEST = re.compile(
    r"\b(?:latest|most\s+recent|newest|current|recent)\s+(?:10-?[QK]|quarter|filing|report|"
    r"quarterly\s+report|annual\s+report|fiscal\s+quarter|period)\b",
    re.I,
)
_RE_MARKED_TICKER = re.compile(
    r"(?:\$([A-Z]{1,5})\b|\b(?:ticker|symbol)\s*:?\s*([A-Z]{1,5})\b|"
    r"\((?:(?:NYSE|NASDAQ|Nasdaq|NYSEAMERICAN)\s*:\s*)?([A-Z]{1,5})\))"
)
_RE_WORD = re.compile(r"\w+")
_RE_UPPER_TOKEN = re.compile(r"(?<![\w$])([A-Z]{2,5})(?:'s|\u2019s)?(?![\w-])")


@dataclass(frozen=True)
class CompanyEntry:
    """A company the tenant's corpus covers, as the question scoper needs to recognise it."""

    id: int | str
    name: str
    ticker: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class QuestionScope:
    """What a question pins down; empty tuples mean "not restricted"."""

    company_ids: tuple[int | str, ...] = ()
    tickers: tuple[str, ...] = ()
    fiscal_years: tuple[int, ...] = ()
    fiscal_quarters: tuple[tuple[int | None, int], ...] = ()  # (fiscal year or None, quarter)
    matched_terms: tuple[str, ...] = ()
    latest: bool = False  # "the most recent 10-Q": prefer each company's newest filing

    @property
    def is_empty(self) -> bool:
        return not (self.company_ids or self.fiscal_years or self.fiscal_quarters or self.latest)


def scope_from_question(
    question: str, companies: Sequence[CompanyEntry], *, today: date | None = None
) -> QuestionScope:
    """Find the companies, fiscal years and quarters that `question` names.

    Names match case-insensitively when the question is all lower case, else with the
    capitalisation of a proper noun ("Target's margin" but not "the target margin").
    Tickers match only as upper-case words, and ambiguous ones (A, IT, ON) only when marked.
    """
    today = today or datetime.now(tz=UTC).date()
    matched: list[str] = []
    company_ids: list[int | str] = []
    tickers: list[str] = []

    def add_company(company: CompanyEntry, term: str) -> None:
        if company.id not in company_ids:
            company_ids.append(company.id)
            if company.ticker:
                tickers.append(company.ticker.upper())
        matched.append(term)

    lowercase_question = question == question.lower()
    for company, term in _names_in(question, companies, case_insensitive=lowercase_question):
        add_company(company, term)

    by_ticker = {c.ticker.upper(): c for c in companies if c.ticker}
    marked = {
        next(group for group in match.groups() if group)
        for match in _RE_MARKED_TICKER.finditer(question)
    }
    shouting = sum(ch.isupper() for ch in question) > 0.6 * max(
        1, sum(ch.isalpha() for ch in question)
    )
    for match in _RE_UPPER_TOKEN.finditer(question):
        token = match.group(1)
        ticker_company = by_ticker.get(token)
        if ticker_company is None or (shouting and token not in marked):
            continue
        if token in _AMBIGUOUS_TICKERS and token not in marked:
            continue
        add_company(ticker_company, match.group(0))
    for token in marked:
        if token in by_ticker and by_ticker[token].id not in company_ids:
            add_company(by_ticker[token], token)

    periods = periods_in(question, today=today)
    matched.extend(periods.terms)
    latest = bool(_RE_LATEST.search(question))
    if latest:
        matched.append(_RE_LATEST.search(question).group(0))  # type: ignore[union-attr]
    return QuestionScope(
        company_ids=tuple(company_ids),
        tickers=tuple(tickers),
        fiscal_years=tuple(sorted(set(periods.years))),
        fiscal_quarters=tuple(sorted(set(periods.quarters), key=lambda yq: (yq[0] or 0, yq[1]))),
        matched_terms=tuple(matched),
        latest=latest,
    )


def _names_in(
    question: str, companies: Sequence[CompanyEntry], *, case_insensitive: bool
) -> list[tuple[CompanyEntry, str]]:
    """Each company the question names, in directory order, with the words that named it.

    Only names whose first word occurs in the question are tried (a hash lookup per name), so
    the cost follows the question and the names it could contain, not the directory's size.
    """
    words = {word.lower() for word in _RE_WORD.findall(question)}
    found = []
    for company in companies:
        for name, first_word in _name_variants(company):
            if first_word not in words:
                continue
            term = _find_name(question, name, case_insensitive=case_insensitive)
            if term:
                found.append((company, term))
                break
    return found


def _first_word(name: str) -> str:
    """The first run of word characters of a name, lower-cased: a name found in a question
    starts with a whole word of the question that is exactly this (see _find_name)."""
    match = _RE_WORD.search(name)
    return match.group(0).lower() if match else ""


@lru_cache(maxsize=4096)
def _name_variants(company: CompanyEntry) -> tuple[tuple[str, str], ...]:
    """The name, its aliases, and the name with legal suffixes and "The" dropped one by one,
    each with its first word (see _first_word); longest first. Cached: a turn scopes the same
    directory several times (decomposition, then each search)."""
    variants = [company.name, *company.aliases]
    words = [w.strip(",") for w in re.split(r"[\s,]+", company.name.replace(".com", " com"))]
    words = [w for w in words if w]
    while len(words) > 1 and words[-1].lower().strip(".") in _SUFFIXES:
        words.pop()
        variants.append(" ".join(words))
        if words[0].lower() == "the" and len(words) > 1:
            variants.append(" ".join(words[1:]))
    # People write "Coca Cola" for Coca-Cola and "Footlocker" for Foot Locker.
    for variant in list(variants):
        if "-" in variant:
            variants.append(variant.replace("-", " "))
        if len(variant.split()) == 2:
            variants.append(variant.replace(" ", ""))
    unique: dict[str, str] = {}
    for variant in variants:
        cleaned = variant.strip()
        if len(cleaned) >= 2:
            unique.setdefault(cleaned.lower(), cleaned)
    # Longest first, so "The Goldman Sachs Group" is reported rather than a shorter alias.
    return tuple(
        (name, _first_word(name)) for name in sorted(unique.values(), key=len, reverse=True)
    )


def _find_name(question: str, name: str, *, case_insensitive: bool) -> str:
    parts = [re.escape(part) for part in re.split(r"[\s,]+", name.strip()) if part]
    if not parts:
        return ""
    body = r"[\s,]+".join(parts)
    if body.endswith(r"\."):
        body = body[:-2] + r"\.?"  # "Apple Inc." also matches "Apple Inc"
    pattern = rf"(?<![\w-]){body}(?:'s|\u2019s|')?(?![\w-])"
    match = re.search(pattern, question, flags=re.I)
    if not match:
        return ""
    found = match.group(0)
    if not case_insensitive and not _capitalised_like(found, name):
        return ""
    return found


def _capitalised_like(found: str, name: str) -> bool:
    """A name written as a proper noun: the first letters match the company's own spelling."""
    found_words = re.split(r"[\s,]+", found)
    name_words = re.split(r"[\s,]+", name)
    for got, want in zip(found_words, name_words, strict=False):
        if want[:1].isupper() and not got[:1].isupper():
            return False
    return True
