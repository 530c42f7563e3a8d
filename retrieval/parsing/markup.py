"""HTML and inline XBRL filings: the text in reading order, tables as `label | cell` rows,
pages split where the filing asks for a page break."""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any

from fintext.tables import TABLE_CELL_SEPARATOR
from retrieval.parsing.document import (
    MAX_TEXT_CHARS,
    WHITESPACE,
    DocumentParseError,
    ParsedDocument,
    ParsedPage,
)
from retrieval.parsing.pages import section_of

_BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "body", "br", "dd", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "ul", "tr",
}  # fmt: skip
_DROP_TAGS = {"script", "style", "head", "noscript", "template", "ix:header", "svg"}
_PAGE_BREAK_STYLE = re.compile(
    r"page-break-(?:before|after)\s*:\s*always|break-(?:before|after)\s*:\s*page", re.I
)


def parse_html(data: bytes, filename: str) -> ParsedDocument:
    import lxml.etree
    import lxml.html

    try:
        root = lxml.html.fromstring(data)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise DocumentParseError("no_text", "The HTML document is empty or unreadable.") from exc
    title_el = root.find(".//title")
    title = (title_el.text_content().strip() if title_el is not None else "") or ""
    parts: list[str] = []
    _html_walk(root, parts)
    text = "".join(parts)
    if len(text) > MAX_TEXT_CHARS:
        raise DocumentParseError(
            "decompression_bomb", f"The document holds more than {MAX_TEXT_CHARS:,} characters."
        )
    raw_pages = text.split("\f")
    pages: list[ParsedPage] = []
    section = ""
    for raw in raw_pages:
        lines = [WHITESPACE.sub(" ", line).strip() for line in raw.split("\n")]
        page_text = "\n".join(line for line in lines if line)
        if not page_text:
            continue
        section = section_of(page_text, previous=section)
        pages.append(ParsedPage(number=len(pages) + 1, text=page_text, section=section))
    if not title:
        title = next((p.text.splitlines()[0] for p in pages), PurePath(filename).stem)[:200]
    is_ixbrl = b"ix:nonfraction" in data[:2_000_000].lower() or b"ix:header" in data.lower()
    return ParsedDocument(
        pages=tuple(pages), title=title, metadata={"format": "ixbrl" if is_ixbrl else "html"}
    )


def _html_tag(element: Any) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""  # comments and processing instructions
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        prefix = "ix" if "inlineXBRL" in namespace else ""
        return f"{prefix}:{local}".lower() if prefix else local.lower()
    return tag.lower()


def _html_walk(element: Any, out: list[str]) -> None:
    tag = _html_tag(element)
    if tag in _DROP_TAGS:
        if element.tail:
            out.append(element.tail)
        return
    style = element.get("style", "") if tag else ""
    breaks = bool(style) and bool(_PAGE_BREAK_STYLE.search(style))
    if breaks and "before" in style.lower():
        out.append("\f")
    if tag == "table":
        out.append("\n")
        out.extend(row + "\n" for row in _html_table_rows(element))
    else:
        if tag in _BLOCK_TAGS:
            out.append("\n")
        if tag and element.text:
            out.append(element.text)
        for child in element:
            _html_walk(child, out)
        if tag in _BLOCK_TAGS:
            out.append("\n")
    if breaks and "before" not in style.lower():
        out.append("\f")
    if element.tail:
        out.append(element.tail)


def _html_table_rows(table: Any) -> list[str]:
    rows: list[str] = []
    for row in table.iter():
        if _html_tag(row) != "tr":
            continue
        cells: list[str] = []
        for cell in row:
            if _html_tag(cell) not in {"td", "th"}:
                continue
            value = WHITESPACE.sub(" ", " ".join(cell.itertext())).strip()
            if not value:
                continue
            # Filings put "$" and ")" or "%" in cells of their own; glue them to the number.
            if cells and cells[-1] == "$":
                cells[-1] = "$" + value
            elif value in {")", "%", ")%"} and cells:
                cells[-1] += value
            else:
                cells.append(value)
        if cells:
            rows.append(TABLE_CELL_SEPARATOR.join(cells))
    return rows
