"""Page cleanup every parser shares: extracted text normalised with table rows rebuilt as
`label | cell | cell`, the section heading a page belongs to, and control characters removed
from everything a parsed document carries."""

from __future__ import annotations

import re
from typing import Any

from fintext.tables import TABLE_CELL_SEPARATOR
from retrieval.parsing.document import (
    CONTROL_CHARACTERS,
    WHITESPACE,
    ParsedDocument,
    ParsedPage,
    clean_text,
)

_NUMERIC_CELL = re.compile(
    r"""^(?:
        \(?\$?\(?-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\)?%?\)?  # 1,234 (265) $1.27 7% $(9,457)
      | \$?\(?-?\.\d+\)?%?                      # .25
      | [\u2014\u2013-]{1,2}                             # an empty cell printed as a dash
      | n/?m | N/?M | n/?a | N/?A | NM | nm      # not meaningful / not applicable
    )$""",
    re.VERBOSE,
)
_FOOTNOTE_MARK = re.compile(r"^\(\d\)$")
_DOT_LEADER = re.compile(r"(?:\s?\.){3,}\s?")
_HEADING = re.compile(
    r"^(?P<heading>(?:PART\s+[IV]{1,3}\b(?!\s*,)|ITEM\s+\d{1,2}[A-C]?\s*[.:\u2014\u2013-]"
    r"|NOTE\s+\d{1,2}\s*[.:\u2014\u2013-]).*)$",
    re.IGNORECASE,
)
_TRAILING_PAGE_NUMBER = re.compile(r"\s+\d{1,3}$")


def normalise_page_text(raw: str) -> str:
    """Clean extracted page text and rewrite table-like lines as `label | cell | cell` rows.

    PDF text extraction loses cell boundaries; a line that ends in two or more numeric cells is
    a statement row, and splitting it keeps each number next to its label for the reader and for
    exact-match search.
    """
    lines: list[str] = []
    for raw_line in clean_text(raw.replace("\r", "\n")).split("\n"):
        line = _DOT_LEADER.sub(" ", raw_line)
        line = WHITESPACE.sub(" ", line).strip()
        if line:
            lines.append(line)
    return "\n".join(table_row_from_line(line) for line in _merge_cell_lines(lines))


def _is_numeric_line(line: str) -> bool:
    words = [w for w in line.split(" ") if w != "$"]
    return bool(words) and all(_NUMERIC_CELL.match(w) for w in words)


def _merge_cell_lines(lines: list[str]) -> list[str]:
    """Rejoin rows whose cells the extractor put on lines of their own.

    Some generators draw every table cell separately, so a row arrives as a label line followed
    by one line per value; two or more value-only lines after a short label are one row.
    """
    merged: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        following = index + 1
        while following < len(lines) and _is_numeric_line(lines[following]):
            following += 1
        values = lines[index + 1 : following]
        is_label = len(line) <= 120 and not line.endswith(".") and not _is_numeric_line(line)
        if is_label and len(values) >= 2:
            merged.append(" ".join([line, *values]))
            index = following
        else:
            merged.append(line)
            index += 1
    return merged


def table_row_from_line(line: str) -> str:
    """Split `Total net sales $ 81,797 $ 82,959` into `Total net sales | $81,797 | $82,959`."""
    tokens = line.split(" ")
    cells: list[str] = []
    index = len(tokens)
    while index > 0:
        word = tokens[index - 1]
        if word == "$" and cells:
            cells[-1] = "$" + cells[-1]
            index -= 1
            continue
        if _NUMERIC_CELL.match(word):
            cells.append(word)
            index -= 1
            continue
        break
    # A lone "(1)" right after the label is a footnote marker, not a negative one.
    while len(cells) > 2 and _FOOTNOTE_MARK.match(cells[-1]):
        index += 1
        cells.pop()
    numeric = [c for c in cells if any(ch.isdigit() for ch in c)]
    if len(cells) < 2 or not numeric:
        return line
    label = " ".join(tokens[:index]).rstrip(" $")
    return TABLE_CELL_SEPARATOR.join([label, *reversed(cells)] if label else reversed(cells))


def section_of(text: str, *, previous: str) -> str:
    """The heading a page belongs to: the last PART/Item/Note heading on it, else the previous.

    A page with many headings is a table of contents and keeps the previous section.
    """
    headings: list[str] = []
    for line in text.splitlines()[:80]:
        if TABLE_CELL_SEPARATOR in line or len(line) > 140:
            continue
        match = _HEADING.match(line)
        if match:
            headings.append(_TRAILING_PAGE_NUMBER.sub("", match.group("heading")).strip()[:200])
    if not headings or len(headings) > 4:
        return previous
    return headings[-1]


def document_cleaned(document: ParsedDocument) -> ParsedDocument:
    """The document with control characters removed from every string it carries."""
    pages = tuple(
        ParsedPage(
            number=page.number, text=_clean_lines(page.text), section=_clean_lines(page.section)
        )
        for page in document.pages
    )
    return ParsedDocument(
        pages=pages, title=_clean_lines(document.title), metadata=_cleaned_value(document.metadata)
    )


def _clean_lines(text: str) -> str:
    """`text` unchanged unless it holds control characters; else cleaned line by line."""
    if not CONTROL_CHARACTERS.search(text):
        return text
    lines = (WHITESPACE.sub(" ", clean_text(line)).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _cleaned_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value).strip()
    if isinstance(value, dict):
        return {clean_text(str(key)): _cleaned_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_cleaned_value(item) for item in value]
    return value


def first_line(text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip().lstrip("#").strip()
        if stripped:
            return stripped[:200]
    return ""
