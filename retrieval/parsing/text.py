"""Plain text, Markdown and 10-K section JSON: pages from form feeds or `Page N` markers (or,
in Markdown, from headings), sections from headings or the JSON's item names."""

from __future__ import annotations

import json
import re
from pathlib import PurePath
from typing import Any

from fintext.tables import TABLE_CELL_SEPARATOR
from retrieval.parsing.document import WHITESPACE, DocumentParseError, ParsedDocument, ParsedPage
from retrieval.parsing.pages import first_line, normalise_page_text, section_of

# The four narrative items of the 10-K section files, in filing order.
_JSON_SECTIONS: tuple[tuple[str, str], ...] = (
    ("item1", "Item 1. Business"),
    ("item1a", "Item 1A. Risk Factors"),
    ("item7", "Item 7. Management's Discussion and Analysis"),
    ("item7a", "Item 7A. Quantitative and Qualitative Disclosures About Market Risk"),
)

_MD_HEADING = re.compile(r"^(#{1,2})\s+(?P<title>\S.*?)\s*#*\s*$")
_PAGE_MARKER = re.compile(
    r"^\s*(?:-{2,}\s*)?page\s+(?P<number>\d{1,5})(?:\s+of\s+\d+)?(?:\s*-{2,})?\s*$", re.I
)


def parse_plain_text(text: str, filename: str) -> ParsedDocument:
    raw_pages = _split_on_page_markers(text)
    pages: list[ParsedPage] = []
    section = ""
    for number, raw in raw_pages:
        page_text = normalise_page_text(raw)
        section = section_of(page_text, previous=section)
        pages.append(ParsedPage(number=number, text=page_text, section=section))
    return ParsedDocument(
        pages=tuple(pages), title=first_line(text) or PurePath(filename).stem, metadata={}
    )


def _split_on_page_markers(text: str) -> list[tuple[int, str]]:
    """Split on form feeds, else on `Page N` marker lines, else return one page."""
    if "\f" in text:
        return [(i + 1, chunk) for i, chunk in enumerate(text.split("\f"))]
    lines = text.splitlines()
    markers = [i for i, line in enumerate(lines) if _PAGE_MARKER.match(line)]
    if len(markers) < 2:
        return [(1, text)]
    pages: list[tuple[int, str]] = []
    start = 0
    number = 1
    for marker in markers:
        if marker > start and "\n".join(lines[start:marker]).strip():
            pages.append((number, "\n".join(lines[start:marker])))
            number += 1
        start = marker + 1
    if "\n".join(lines[start:]).strip():
        pages.append((number, "\n".join(lines[start:])))
    return pages


def parse_markdown(text: str, filename: str) -> ParsedDocument:
    """Pages come from form feeds or `Page N` markers; without them each H1/H2 is a page."""
    title = ""
    for line in text.splitlines():
        match = _MD_HEADING.match(line)
        if match and len(match.group(1)) == 1:
            title = match.group("title")
            break
    title = title or first_line(text) or PurePath(filename).stem
    explicit = _split_on_page_markers(text)
    pages: list[ParsedPage] = []
    if len(explicit) > 1:
        section = ""
        for number, raw in explicit:
            page_text = _markdown_to_text(raw)
            for line in raw.splitlines():
                match = _MD_HEADING.match(line)
                if match:
                    section = match.group("title")
            pages.append(ParsedPage(number=number, text=page_text, section=section))
        return ParsedDocument(pages=tuple(pages), title=title, metadata={"format": "markdown"})
    current: list[str] = []
    section = ""
    for line in text.splitlines():
        match = _MD_HEADING.match(line)
        if match and "\n".join(current).strip():
            pages.append(
                ParsedPage(
                    number=len(pages) + 1,
                    text=_markdown_to_text("\n".join(current)),
                    section=section,
                )
            )
            current = []
        if match:
            section = match.group("title")
        current.append(line)
    if "\n".join(current).strip():
        pages.append(
            ParsedPage(
                number=len(pages) + 1, text=_markdown_to_text("\n".join(current)), section=section
            )
        )
    return ParsedDocument(pages=tuple(pages), title=title, metadata={"format": "markdown"})


_MD_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")


def _markdown_to_text(raw: str) -> str:
    lines: list[str] = []
    for raw_line in raw.splitlines():
        line = raw_line.strip()
        if not line or _MD_TABLE_RULE.match(line):
            continue
        if line.startswith("|") and line.endswith("|"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            line = TABLE_CELL_SEPARATOR.join(cell for cell in cells if cell)
        else:
            line = re.sub(r"^#{1,6}\s+", "", line)
            line = WHITESPACE.sub(" ", line)
        if line:
            lines.append(line)
    return "\n".join(lines)


def parse_json_sections(text: str, filename: str) -> ParsedDocument:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentParseError(
            "invalid_json", f"The JSON file is malformed (line {exc.lineno})."
        ) from exc
    if not isinstance(payload, dict) or not any(key in payload for key, _ in _JSON_SECTIONS):
        raise DocumentParseError(
            "unsupported_type",
            "A JSON upload must be a 10-K section file with item1, item1a, item7 or item7a.",
        )
    pages: list[ParsedPage] = []
    for key, section in _JSON_SECTIONS:
        value = payload.get(key)
        if not isinstance(value, str):
            continue
        page_text = normalise_page_text(value)
        if page_text.strip():
            pages.append(ParsedPage(number=len(pages) + 1, text=page_text, section=section))
    names = [n for n in payload.get("names", []) if isinstance(n, str)]
    metadata: dict[str, Any] = {"format": "form10k-sections"}
    for key in ("cik", "source", "cusip6"):
        if isinstance(payload.get(key), str):
            metadata[key] = payload[key]
    metadata["names"] = names
    title = f"{names[0]} Form 10-K" if names else PurePath(filename).stem
    return ParsedDocument(pages=tuple(pages), title=title, metadata=metadata)
