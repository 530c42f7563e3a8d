"""Turn uploaded filing bytes (PDF, HTML/iXBRL, text, Markdown, JSON) into numbered pages: the
format sniffed here, then one module per format (`pdf`, `markup`, `text`), the page cleanup they
share in `pages` and what they return in `document`. Import from here."""

from __future__ import annotations

from pathlib import PurePath

from retrieval.parsing.document import (
    MAX_TEXT_CHARS,
    DocumentParseError,
    ParsedDocument,
    ParsedPage,
    clean_text,
)
from retrieval.parsing.markup import parse_html
from retrieval.parsing.pages import document_cleaned, normalise_page_text, table_row_from_line
from retrieval.parsing.pdf import (
    MAX_PAGES,
    MAX_PDF_CONTENT_BYTES,
    PDF_MAX_ARRAY_ELEMENTS,
    parse_pdf,
)
from retrieval.parsing.text import parse_json_sections, parse_markdown, parse_plain_text

__all__ = [
    "MAX_PAGES",
    "MAX_PDF_CONTENT_BYTES",
    "MAX_TEXT_CHARS",
    "PDF_MAGIC",
    "PDF_MAX_ARRAY_ELEMENTS",
    "DocumentParseError",
    "ParsedDocument",
    "ParsedPage",
    "clean_text",
    "normalise_page_text",
    "parse_document",
    "table_row_from_line",
]

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
        document = parse_pdf(data, filename)
    else:
        text = _decode_text(data)
        if kind == "json":
            document = parse_json_sections(text, filename)
        elif kind == "html":
            document = parse_html(data, filename)
        elif kind == "markdown":
            document = parse_markdown(text, filename)
        else:
            document = parse_plain_text(text, filename)
    document = document_cleaned(document)
    pages = tuple(page for page in document.pages if page.text.strip())
    if not pages:
        raise DocumentParseError(
            "no_text",
            "No text could be extracted from the document (is it a scanned image?).",
        )
    return ParsedDocument(pages=pages, title=document.title, metadata=document.metadata)


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
