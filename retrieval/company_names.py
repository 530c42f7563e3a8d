"""Which names an upload may add to the company directory: a name scopes every later question
that contains it, so common words, periods and figures, unbounded lengths and unbounded counts
are refused."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MIN_NAME_CHARS = 2
MAX_NAME_CHARS = 100
# Names one upload may bring (a JSON filing's `names`, a manifest's `aliases`); the rest are
# dropped. Real filings list a handful (former names, the ticker, the short form).
MAX_ALIASES_PER_DOCUMENT = 20

# Words that questions about filings are made of. A name made only of these (after dropping
# case and punctuation) would scope ordinary questions to one company: "revenue", "Net Income",
# "The Company", "Fiscal 2019".
_COMMON_WORD_TEXT = """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers him his how i if in into is it its itself just me more
    most my no nor not now of off on once only or other our ours out over own same she should so
    some such than that the their theirs them then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you
    your yours new old best top big small large total net gross per company companies corp
    corporation inc incorporated co ltd limited plc llc lp group holding holdings business
    segment segments revenue revenues sales sale income profit profits loss losses margin
    margins earnings ebitda ebit eps cash flow flows debt asset assets liability liabilities
    equity dividend dividends expense expenses cost costs operating operations tax taxes capex
    opex capital expenditure expenditures share shares stock buyback buybacks repurchase
    repurchases guidance growth interest depreciation amortization inventory inventories
    receivable receivables payable payables backlog headcount employee employees price prices
    return returns yield rate rates ratio ratios goodwill impairment lease leases borrowing
    borrowings liquidity leverage turnover outlook forecast balance sheet statement statements
    fiscal year years quarter quarters quarterly annual month months period periods fy q1 q2 q3
    q4 h1 h2 ytd ttm ltm yoy qoq report reports filing filings form document documents results
    risk risks factor factors item management discussion analysis md&a note notes compare
    compared change changes increase increased decrease decreased growth percent percentage
    amount value number million billion thousand usd dollar dollars
"""
_COMMON_WORDS = frozenset(_COMMON_WORD_TEXT.split())
_PERIOD_OR_FIGURE = re.compile(r"^(?:fy|q[1-4]|h[12])?'?\d+(?:[.,]\d+)*%?$", re.I)
_WORD = re.compile(r"[\w&]+")


def company_name_problem(name: str) -> str:
    """Why `name` may not scope questions, or "" when it may."""
    cleaned = name.strip()
    if len(cleaned) < MIN_NAME_CHARS:
        return "too short"
    if len(cleaned) > MAX_NAME_CHARS:
        return f"longer than {MAX_NAME_CHARS} characters"
    if any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        return "contains control characters"
    if not any(ch.isupper() or ch.isdigit() for ch in cleaned):
        # Lower-case names would match ordinary words in any question; a company's name is
        # written as a proper noun ("Apple", "eBay", "3M").
        return "not written as a proper noun (no capital letter or digit)"
    words = [word.lower() for word in _WORD.findall(cleaned)]
    if not words:
        return "has no letters or digits"
    if all(word in _COMMON_WORDS or _PERIOD_OR_FIGURE.match(word) for word in words):
        return "made only of common words, periods or figures"
    return ""


def company_aliases_clean(
    names: Iterable[str], *, exclude: Iterable[str] = ()
) -> tuple[list[str], list[tuple[str, str]]]:
    """The names fit to be aliases (stripped, de-duplicated ignoring case, at most
    MAX_ALIASES_PER_DOCUMENT) and the refused ones with their reason."""
    seen = {name.strip().lower() for name in exclude}
    kept: list[str] = []
    refused: list[tuple[str, str]] = []
    for raw in names:
        name = " ".join(str(raw).split())
        if name.lower() in seen:
            continue
        problem = company_name_problem(name)
        if not problem and len(kept) >= MAX_ALIASES_PER_DOCUMENT:
            problem = f"more than {MAX_ALIASES_PER_DOCUMENT} names in one upload"
        if problem:
            refused.append((name[:MAX_NAME_CHARS], problem))
            continue
        seen.add(name.lower())
        kept.append(name)
    return kept, refused
