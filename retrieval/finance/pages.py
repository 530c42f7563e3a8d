"""Say what a filing page is (a financial statement, notes, MD&A, risk factors, cover...) from
its text and the section heading the parser found."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from retrieval.finance.lexicon import STATEMENT_LINE_ITEMS, STATEMENT_TITLES, PageType

ROW_SEPARATOR = " | "
TITLE_LINES = 14  # a statement's title sits in its first lines, under the company's name
MIN_ROWS = 5  # fewer table rows than this is prose that mentions a statement, not one
MIN_ITEMS_WITH_TITLE = 3
MIN_ITEMS_WITHOUT_TITLE = 6  # an untitled page (a continuation) needs much more evidence
MIN_FIGURES = 20  # amounts on a titled page whose text layer lost its table rows
_FIGURE = re.compile(r"(?<![\w.])\(?\$?\s?\d{1,3}(?:,\d{3})+\)?|(?<![\w.,])\(\d+\)")

TITLE_CHARS = 400  # a statement's title sits at the top, under the company's name
_TITLE_PATTERNS = tuple(
    (kind, re.compile(rf"\b(?:{p})\b", re.IGNORECASE)) for kind, p in STATEMENT_TITLES
)
# Words that, right before "balance sheets", make it a reference in prose, not a title.
_REFERENCE_WORDS = frozenset(
    [
        "our",
        "the",
        "in",
        "on",
        "of",
        "see",
        "to",
        "and",
        "with",
        "within",
        "from",
        "into",
        "its",
        "their",
        "these",
        "those",
    ]
)
# Words after a statement's name that make the heading a note's or MD&A's ("Supplemental Balance
# Sheet Information", "Certain Balance Sheet Data", "Balance Sheets and Cash Flows Analysis").
_NOT_A_STATEMENT_AFTER = re.compile(
    r"[ \t]*(?:and [a-z ]{0,30}?)?(?:information|data|analysis|highlights)\b", re.IGNORECASE
)
_NOTE_HEADING = re.compile(r"^(?:note|notes)\s+\d{1,2}\b|notes to (?:the )?(?:condensed )?"
                           r"(?:consolidated )?financial statements")  # fmt: skip
_ITEM = re.compile(r"\bitem\s+(\d{1,2})([abc])?\b")
_COVER_CUES = ("commission file number", "securities registered pursuant", "(exact name of")
_AUDITOR = "report of independent registered public accounting firm"

# Item numbers of Form 10-K (and Part I/II of 10-Q) mapped to what their pages are.
_ITEM_TYPES: dict[str, PageType] = {
    "1": PageType.BUSINESS,
    "1a": PageType.RISK_FACTORS,
    "1b": PageType.OTHER,
    "2": PageType.OTHER,
    "3": PageType.OTHER,
    "5": PageType.OTHER,
    "6": PageType.SELECTED_DATA,
    "7": PageType.MDA,
    "7a": PageType.MARKET_RISK,
    "8": PageType.NOTES,
    "9a": PageType.CONTROLS,
    "10": PageType.GOVERNANCE,
    "11": PageType.GOVERNANCE,
    "12": PageType.GOVERNANCE,
    "13": PageType.GOVERNANCE,
    "14": PageType.GOVERNANCE,
    "15": PageType.EXHIBITS,
    "16": PageType.EXHIBITS,
}


# Words of an Item heading, tried before its number (10-Q and 10-K number their items apart).
_SECTION_WORDS: tuple[tuple[str, PageType], ...] = (
    ("discussion and analysis", PageType.MDA),
    ("risk factors", PageType.RISK_FACTORS),
    ("quantitative and qualitative", PageType.MARKET_RISK),
    ("selected financial data", PageType.SELECTED_DATA),
    ("financial statements", PageType.NOTES),
    ("controls and procedures", PageType.CONTROLS),
    ("directors", PageType.GOVERNANCE),
    ("vote of security holders", PageType.GOVERNANCE),  # 8-K Item 5.07, 10-K Item 4 (old)
    ("executive compensation", PageType.GOVERNANCE),
    ("security ownership", PageType.GOVERNANCE),
    ("exhibit", PageType.EXHIBITS),
    ("business", PageType.BUSINESS),
)


def _normalise(text: str) -> str:
    return text.lower().replace("\u2019", "'").replace("\u2018", "'")


def statement_scores(text: str, *, rows_only: bool = False) -> dict[PageType, int]:
    """How many of each statement's line items the page carries: in its row labels and short
    lines, or anywhere in its text unless `rows_only` (some PDFs' text layers run a whole
    statement into long lines with no cell boundaries)."""
    labels = []
    for line in _normalise(text).splitlines():
        if ROW_SEPARATOR in line:
            labels.append(line.split(ROW_SEPARATOR, 1)[0])
        elif not rows_only or len(line) <= 160:
            labels.append(line)
    joined = "\n".join(labels)
    return {
        kind: sum(1 for item in items if item in joined)
        for kind, items in STATEMENT_LINE_ITEMS.items()
    }


def statement_title(text: str) -> PageType | None:
    """The statement whose title heads the page, if one does.

    A title is capitalised ("Consolidated Balance Sheets", "CONSOLIDATED BALANCE SHEETS"), near
    the top of the page and not a reference in a sentence ("in our consolidated balance sheets").
    """
    prose = "\n".join(
        line
        for line in text.replace("\u2019", "'").splitlines()
        if ROW_SEPARATOR not in line and not _NOTE_HEADING.search(line.lower())
    )[:TITLE_CHARS]
    for kind, pattern in _TITLE_PATTERNS:
        for match in pattern.finditer(prose):
            if _is_title(prose, match):
                return kind
    return None


def _is_title(prose: str, match: re.Match[str]) -> bool:
    """Capitalised like a title ("Consolidated Balance Sheets"), or in sentence case at the
    start of a line ("Consolidated statements of income"), and not a reference in prose."""
    words = [w for w in re.findall(r"[A-Za-z']+", match.group(0)) if len(w) > 3]
    line_start = prose.rfind("\n", 0, match.start()) + 1
    lead = prose[line_start : match.start()].strip()
    # "Consolidated" or "Condensed consolidated" may lead the title on its line.
    starts_line = lead == "" or (lead.split()[-1].lower() == "consolidated" and len(lead) < 30)
    first = (lead or match.group(0))[0]
    if not words or not (all(w[0].isupper() for w in words) or (starts_line and first.isupper())):
        return False
    before = re.findall(r"[A-Za-z']+", prose[: match.start()][-40:])
    if _NOT_A_STATEMENT_AFTER.match(prose, match.end()):
        return False
    return not (before and before[-1] in _REFERENCE_WORDS)


def _is_contents(text: str) -> bool:
    """A table of contents or an index of statements: many titles or items, few figures."""
    lowered = _normalise(text)
    titles = sum(1 for _, pattern in _TITLE_PATTERNS if pattern.search(lowered))
    items = len(set(_ITEM.findall(lowered)))
    rows = sum(1 for line in lowered.splitlines() if ROW_SEPARATOR in line)
    return (titles >= 3 or items >= 6) and rows < 8


@lru_cache(maxsize=4096)
def classify_page(
    text: str, section: str = "", number: int = 0, previous: PageType | None = None
) -> PageType:
    """The page type of one page of a filing.

    A statement is recognised by its title plus line items, or, untitled, as the continuation
    of the `previous` page's statement by many of that statement's line items; other pages by
    what they say about themselves (cover, contents, auditor's report, notes) and then by the
    Item heading the parser tracked.
    """
    lowered = _normalise(text)
    rows = sum(1 for line in lowered.splitlines() if ROW_SEPARATOR in line)
    if _is_contents(text):
        return PageType.CONTENTS
    title = statement_title(text)
    placed = _outside_statements(section, lowered)
    if placed is not None and title is not None:
        return placed
    if title is not None:
        figures = len(_FIGURE.findall(text))
        if (rows >= MIN_ROWS or figures >= MIN_FIGURES) and statement_scores(text)[
            title
        ] >= MIN_ITEMS_WITH_TITLE:
            return title
    scores = statement_scores(text, rows_only=True)
    if (
        title is None
        and placed is None
        and previous in scores
        and rows >= 2 * MIN_ROWS
        and scores[previous] >= MIN_ITEMS_WITHOUT_TITLE
        and scores[previous] == max(scores.values())
    ):
        return previous
    head = "\n".join(lowered.splitlines()[:TITLE_LINES])
    if number == 1 or any(cue in lowered for cue in _COVER_CUES):
        return PageType.COVER
    if _AUDITOR in head:
        return PageType.AUDITOR_REPORT
    if _NOTE_HEADING.search(head) or any(_NOTE_HEADING.match(line) for line in head.splitlines()):
        return PageType.NOTES
    return _section_type(section) or PageType.OTHER


def _section_type(section: str) -> PageType | None:
    """The page type the parser's Item or Note heading implies, if any."""
    section = _normalise(section)
    for cue, kind in _SECTION_WORDS:
        if cue in section:
            return kind
    item = _ITEM.search(section)
    if item:
        return _ITEM_TYPES.get(item.group(1) + (item.group(2) or ""), PageType.OTHER)
    if section.startswith("note"):
        return PageType.NOTES
    return None


def _outside_statements(section: str, lowered: str) -> PageType | None:
    """Where a page that looks like a statement really sits, when that is not the statements:
    the selected data or MD&A (summary tables titled "Balance sheet"), a note (supplemental
    balance sheet information, a guarantor's condensed consolidating statements)."""
    if "consolidating" in lowered[:TITLE_CHARS]:
        return PageType.NOTES
    if _normalise(section).lstrip().startswith("note"):
        return PageType.NOTES
    kind = _section_type(section)
    return kind if kind in (PageType.MDA, PageType.SELECTED_DATA) else None


def page_types_from_chunks(chunks: Iterable[tuple[int, str, str]]) -> dict[int, PageType]:
    """Page type per page number from (page, section, text) of the chunks cut from it.

    Ingestion and the backfill of stored chunks both classify this way, so a page gets the same
    type whichever path classified it. Lines repeated by chunk overlap are read once.
    """
    lines: dict[int, dict[str, None]] = {}
    sections: dict[int, str] = {}
    for page, section, text in chunks:
        lines.setdefault(page, {}).update(dict.fromkeys(text.splitlines()))
        sections.setdefault(page, section)
    types: dict[int, PageType] = {}
    previous: PageType | None = None
    for page in sorted(lines):
        kind = classify_page("\n".join(lines[page]), sections[page], page, previous)
        types[page] = kind
        previous = kind if page + 1 in lines else None
    return types
