"""Turn uploaded filing bytes (PDF, HTML/iXBRL, text, Markdown, JSON) into numbered pages."""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from accounts.errors import DocumentRejected
from fintext.tables import TABLE_CELL_SEPARATOR

# Bounds against decompression bombs: pypdf already caps each stream (75 MB by default); these
# cap the whole document so many moderate streams cannot add up to gigabytes either.
MAX_PDF_CONTENT_BYTES = 256 * 1024 * 1024
MAX_TEXT_CHARS = 20_000_000
MAX_PAGES = 5_000
PDF_MAX_ARRAY_ELEMENTS = 5_000_000

PDF_MAGIC = b"%PDF-"

# Magic numbers of formats we refuse outright, so a renamed image or archive fails clearly.
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"PK\x03\x04", "ZIP archive or Office document"),
    (b"\x1f\x8b", "gzip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Office document"),
    (b"\x7fELF", "executable"),
    (b"MZ", "executable"),
    (b"Rar!", "RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
)

_PDF_EXTENSIONS = {".pdf"}
_HTML_EXTENSIONS = {".htm", ".html", ".xhtml"}
_TEXT_EXTENSIONS = {".txt", ".text"}
_MARKDOWN_EXTENSIONS = {".md", ".markdown"}
_JSON_EXTENSIONS = {".json"}
_KNOWN_EXTENSIONS = (
    _PDF_EXTENSIONS | _HTML_EXTENSIONS | _TEXT_EXTENSIONS | _MARKDOWN_EXTENSIONS | _JSON_EXTENSIONS
)

# The four narrative items of the 10-K section files, in filing order.
_JSON_SECTIONS: tuple[tuple[str, str], ...] = (
    ("item1", "Item 1. Business"),
    ("item1a", "Item 1A. Risk Factors"),
    ("item7", "Item 7. Management's Discussion and Analysis"),
    ("item7a", "Item 7A. Quantitative and Qualitative Disclosures About Market Risk"),
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
_MD_HEADING = re.compile(r"^(#{1,2})\s+(?P<title>\S.*?)\s*#*\s*$")
_PAGE_MARKER = re.compile(
    r"^\s*(?:-{2,}\s*)?page\s+(?P<number>\d{1,5})(?:\s+of\s+\d+)?(?:\s*-{2,})?\s*$", re.I
)
_TRAILING_PAGE_NUMBER = re.compile(r"\s+\d{1,3}$")
_WHITESPACE = re.compile(r"[ \t\u00a0\u2009\u202f]+")
# What PostgreSQL refuses (NUL) or what only garbles text: C0 and C1 control characters other
# than tab, newline and carriage return, lone surrogates (not encodable as UTF-8), and the
# noncharacters U+FFFE/U+FFFF that text layers emit for glyphs without a Unicode mapping.
# Real 10-K text layers map some glyphs to U+0000; one such page used to abort the whole ingest.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class DocumentParseError(DocumentRejected):
    """The upload cannot be turned into text; `code` says why in machine-readable form."""

    def __init__(self, code: str, message: str, *, details: dict[str, Any] | None = None):
        self.code = code
        super().__init__(message, details=details)


@dataclass(frozen=True)
class ParsedPage:
    """One page (or one section, for formats without pages); `number` is 1-based."""

    number: int
    text: str
    section: str = ""


@dataclass(frozen=True)
class ParsedDocument:
    """The text of a document, page by page, with whatever the file says about itself."""

    pages: tuple[ParsedPage, ...]
    title: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def page_count(self) -> int:
        """Pages of the source, counting those without text: page N of a PDF is page N here."""
        declared = self.metadata.get("page_count")
        if isinstance(declared, int) and declared > 0:
            return declared
        return max((page.number for page in self.pages), default=0)


def clean_text(text: str) -> str:
    """`text` with every control character (NUL included) replaced by a space.

    Every string a parser returns goes through this, so nothing stored (chunk text, titles,
    sections, metadata) can hold a character PostgreSQL refuses.
    """
    return _CONTROL_CHARACTERS.sub(" ", text)


def parse_document(
    *, data: bytes, filename: str, content_type: str | None, max_bytes: int
) -> ParsedDocument:
    """Parse an upload into pages.

    Raises DocumentParseError (a DocumentRejected, HTTP 422) with code `empty_file`, `too_large`,
    `unsupported_type`, `type_mismatch`, `corrupt_pdf`, `encrypted_pdf`, `decompression_bomb`,
    `invalid_json` or `no_text`.
    """
    if not data or not data.strip():
        raise DocumentParseError("empty_file", "The file is empty.")
    if len(data) > max_bytes:
        raise DocumentParseError(
            "too_large",
            f"The file is {len(data):,} bytes; the limit is {max_bytes:,} bytes.",
            details={"size": len(data), "max_bytes": max_bytes},
        )
    kind = _sniff_kind(data=data, filename=filename, content_type=content_type)
    if kind == "pdf":
        document = _parse_pdf(data, filename)
    else:
        text = _decode_text(data)
        if kind == "json":
            document = _parse_json_sections(text, filename)
        elif kind == "html":
            document = _parse_html(data, filename)
        elif kind == "markdown":
            document = _parse_markdown(text, filename)
        else:
            document = _parse_plain_text(text, filename)
    document = _cleaned(document)
    pages = tuple(page for page in document.pages if page.text.strip())
    if not pages:
        raise DocumentParseError(
            "no_text",
            "No text could be extracted from the document (is it a scanned image?).",
        )
    return ParsedDocument(pages=pages, title=document.title, metadata=document.metadata)


def _cleaned(document: ParsedDocument) -> ParsedDocument:
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
    if not _CONTROL_CHARACTERS.search(text):
        return text
    lines = (_WHITESPACE.sub(" ", clean_text(line)).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _cleaned_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value).strip()
    if isinstance(value, dict):
        return {clean_text(str(key)): _cleaned_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_cleaned_value(item) for item in value]
    return value


def _sniff_kind(*, data: bytes, filename: str, content_type: str | None) -> str:
    extension = PurePath(filename or "").suffix.lower()
    mime = (content_type or "").split(";")[0].strip().lower()
    head = data[:1024]
    if PDF_MAGIC in head:
        return "pdf"
    for signature, label in _BINARY_SIGNATURES:
        if data.startswith(signature):
            raise DocumentParseError(
                "unsupported_type",
                f"The file is a {label}; upload a PDF, HTML, text, Markdown or JSON filing.",
            )
    if extension in _PDF_EXTENSIONS or mime == "application/pdf":
        raise DocumentParseError(
            "type_mismatch", "The file is named or labelled as a PDF but its content is not a PDF."
        )
    if extension and extension not in _KNOWN_EXTENSIONS:
        raise DocumentParseError(
            "unsupported_type",
            f"Files of type '{extension}' are not supported; "
            "upload a PDF, HTML, text, Markdown or JSON filing.",
        )
    if b"\x00" in head:
        raise DocumentParseError("unsupported_type", "The file is binary data, not a document.")
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if extension in _JSON_EXTENSIONS or mime == "application/json" or stripped.startswith(b"{"):
        return "json"
    looks_like_markup = stripped.startswith((b"<!doctype html", b"<html", b"<?xml")) or (
        b"<html" in head.lower() or b"<body" in head.lower()
    )
    if extension in _HTML_EXTENSIONS or mime in {"text/html", "application/xhtml+xml"}:
        return "html"
    if looks_like_markup:
        return "html"
    if extension in _MARKDOWN_EXTENSIONS or mime == "text/markdown":
        return "markdown"
    return "text"


def _decode_text(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    control = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if control > 0.05 * max(1, min(len(text), 4096)):
        raise DocumentParseError("unsupported_type", "The file is binary data, not a document.")
    if len(text) > MAX_TEXT_CHARS:
        raise DocumentParseError(
            "decompression_bomb", f"The document holds more than {MAX_TEXT_CHARS:,} characters."
        )
    return text


# ---------------------------------------------------------------- PDF


def _parse_pdf(data: bytes, filename: str) -> ParsedDocument:
    import pypdf

    # Real 10-Qs (Microsoft's) carry arrays past pypdf's 100,000-element default; the input is
    # already bounded by max_bytes, so a larger element count cannot blow up memory.
    with pypdf.apply_configuration(
        array_maximum_element_count=PDF_MAX_ARRAY_ELEMENTS,
        dictionary_maximum_element_count=PDF_MAX_ARRAY_ELEMENTS,
    ):
        return _parse_pdf_configured(data, filename)


def _parse_pdf_configured(data: bytes, filename: str) -> ParsedDocument:
    import pypdf
    from pypdf.errors import FileNotDecryptedError, LimitReachedError, PyPdfError

    # pypdf reports every odd font at WARNING; a filing upload is not the place to see them.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # Many filings carry an owner password only; an empty user password opens them.
            try:
                opened = reader.decrypt("")
            except (PyPdfError, NotImplementedError, ValueError) as exc:
                raise DocumentParseError(
                    "encrypted_pdf", "The PDF is encrypted; upload an unprotected copy."
                ) from exc
            if not opened:
                raise DocumentParseError(
                    "encrypted_pdf", "The PDF is password-protected; upload an unprotected copy."
                )
        page_count = len(reader.pages)
    except (DocumentParseError, SoftTimeLimitExceeded):
        raise  # a time limit is not a damaged file
    except LimitReachedError as exc:
        raise DocumentParseError(
            "decompression_bomb", "The PDF expands to an unreasonable size and was refused."
        ) from exc
    except FileNotDecryptedError as exc:
        raise DocumentParseError(
            "encrypted_pdf", "The PDF is password-protected; upload an unprotected copy."
        ) from exc
    except Exception as exc:  # pypdf raises many types on malformed input
        raise DocumentParseError("corrupt_pdf", "The PDF is damaged and cannot be read.") from exc
    if page_count == 0:
        raise DocumentParseError("corrupt_pdf", "The PDF has no pages.")
    if page_count > MAX_PAGES:
        raise DocumentParseError(
            "too_large", f"The PDF has {page_count:,} pages; the limit is {MAX_PAGES:,}."
        )

    pages: list[ParsedPage] = []
    content_bytes = 0
    text_chars = 0
    section = ""
    for index in range(page_count):
        try:
            page = reader.pages[index]
            contents = page.get_contents()
            # Measure the decompressed stream before extracting, and stop at the first page that
            # takes the document past the budget, so a bomb costs one stream, not all of them.
            content_bytes += len(contents.get_data()) if contents is not None else 0
            if content_bytes > MAX_PDF_CONTENT_BYTES:
                raise DocumentParseError(
                    "decompression_bomb",
                    "The PDF expands to an unreasonable size and was refused.",
                    details={"page": index + 1},
                )
            raw = page.extract_text() or ""
        except (DocumentParseError, SoftTimeLimitExceeded):
            raise
        except LimitReachedError as exc:
            raise DocumentParseError(
                "decompression_bomb",
                "The PDF expands to an unreasonable size and was refused.",
                details={"page": index + 1},
            ) from exc
        except FileNotDecryptedError as exc:
            raise DocumentParseError(
                "encrypted_pdf", "The PDF is password-protected; upload an unprotected copy."
            ) from exc
        except Exception as exc:
            raise DocumentParseError(
                "corrupt_pdf",
                f"Page {index + 1} of the PDF is damaged and cannot be read.",
                details={"page": index + 1},
            ) from exc
        text_chars += len(raw)
        if text_chars > MAX_TEXT_CHARS:
            raise DocumentParseError(
                "decompression_bomb",
                f"The PDF holds more than {MAX_TEXT_CHARS:,} characters of text.",
                details={"page": index + 1},
            )
        text = normalise_page_text(raw)
        section = _section_of(text, previous=section)
        pages.append(ParsedPage(number=index + 1, text=text, section=section))

    info = _pdf_info(reader)
    first_line = next((line for p in pages for line in p.text.splitlines() if line.strip()), "")
    title = info.get("title") or first_line[:200] or PurePath(filename).stem
    return ParsedDocument(
        pages=tuple(pages), title=title, metadata={"page_count": page_count, **info}
    )


def _pdf_info(reader: Any) -> dict[str, str]:
    try:
        meta = reader.metadata or {}
    except Exception:  # a broken /Info dictionary should not sink an otherwise readable PDF
        return {}
    info: dict[str, str] = {}
    for key, name in (("/Title", "title"), ("/Author", "author"), ("/Subject", "subject")):
        value = meta.get(key)
        if isinstance(value, str) and value.strip():
            info[name] = value.strip()
    return info


def normalise_page_text(raw: str) -> str:
    """Clean extracted page text and rewrite table-like lines as `label | cell | cell` rows.

    PDF text extraction loses cell boundaries; a line that ends in two or more numeric cells is
    a statement row, and splitting it keeps each number next to its label for the reader and for
    exact-match search.
    """
    lines: list[str] = []
    for raw_line in clean_text(raw.replace("\r", "\n")).split("\n"):
        line = _DOT_LEADER.sub(" ", raw_line)
        line = _WHITESPACE.sub(" ", line).strip()
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


def _section_of(text: str, *, previous: str) -> str:
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


# ---------------------------------------------------------------- HTML and inline XBRL

_BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "body", "br", "dd", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "ul", "tr",
}  # fmt: skip
_DROP_TAGS = {"script", "style", "head", "noscript", "template", "ix:header", "svg"}
_PAGE_BREAK_STYLE = re.compile(
    r"page-break-(?:before|after)\s*:\s*always|break-(?:before|after)\s*:\s*page", re.I
)


def _parse_html(data: bytes, filename: str) -> ParsedDocument:
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
        lines = [_WHITESPACE.sub(" ", line).strip() for line in raw.split("\n")]
        page_text = "\n".join(line for line in lines if line)
        if not page_text:
            continue
        section = _section_of(page_text, previous=section)
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
            value = _WHITESPACE.sub(" ", " ".join(cell.itertext())).strip()
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


# ---------------------------------------------------------------- text, Markdown, JSON


def _parse_plain_text(text: str, filename: str) -> ParsedDocument:
    raw_pages = _split_on_page_markers(text)
    pages: list[ParsedPage] = []
    section = ""
    for number, raw in raw_pages:
        page_text = normalise_page_text(raw)
        section = _section_of(page_text, previous=section)
        pages.append(ParsedPage(number=number, text=page_text, section=section))
    return ParsedDocument(
        pages=tuple(pages), title=_first_line(text) or PurePath(filename).stem, metadata={}
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


def _parse_markdown(text: str, filename: str) -> ParsedDocument:
    """Pages come from form feeds or `Page N` markers; without them each H1/H2 is a page."""
    title = ""
    for line in text.splitlines():
        match = _MD_HEADING.match(line)
        if match and len(match.group(1)) == 1:
            title = match.group("title")
            break
    title = title or _first_line(text) or PurePath(filename).stem
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
            line = _WHITESPACE.sub(" ", line)
        if line:
            lines.append(line)
    return "\n".join(lines)


def _parse_json_sections(text: str, filename: str) -> ParsedDocument:
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


def _first_line(text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip().lstrip("#").strip()
        if stripped:
            return stripped[:200]
    return ""
