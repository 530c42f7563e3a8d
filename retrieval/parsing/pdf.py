"""PDF filings: pypdf's text layer page by page, within bounds that refuse decompression bombs,
with every pypdf failure turned into a DocumentParseError that says what is wrong."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePath
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from retrieval.parsing.document import (
    MAX_TEXT_CHARS,
    DocumentParseError,
    ParsedDocument,
    ParsedPage,
)
from retrieval.parsing.pages import normalise_page_text, section_of

# Bounds against decompression bombs: pypdf already caps each stream (75 MB by default); these
# cap the whole document so many moderate streams cannot add up to gigabytes either.
MAX_PDF_CONTENT_BYTES = 256 * 1024 * 1024
MAX_PAGES = 5_000
PDF_MAX_ARRAY_ELEMENTS = 5_000_000

_BOMB = "The PDF expands to an unreasonable size and was refused."
_PROTECTED = "The PDF is password-protected; upload an unprotected copy."


def parse_pdf(data: bytes, filename: str) -> ParsedDocument:
    import pypdf

    # Real 10-Qs (Microsoft's) carry arrays past pypdf's 100,000-element default; the input is
    # already bounded by max_bytes, so a larger element count cannot blow up memory.
    with pypdf.apply_configuration(
        array_maximum_element_count=PDF_MAX_ARRAY_ELEMENTS,
        dictionary_maximum_element_count=PDF_MAX_ARRAY_ELEMENTS,
    ):
        return _parse_pdf_configured(data, filename)


def _parse_pdf_configured(data: bytes, filename: str) -> ParsedDocument:
    # pypdf reports every odd font at WARNING; a filing upload is not the place to see them.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader, page_count = _pdf_open(data)
    pages = _pdf_pages(reader, page_count)
    info = _pdf_info(reader)
    first_line = next((line for p in pages for line in p.text.splitlines() if line.strip()), "")
    title = info.get("title") or first_line[:200] or PurePath(filename).stem
    return ParsedDocument(
        pages=tuple(pages), title=title, metadata={"page_count": page_count, **info}
    )


@contextmanager
def _pdf_errors(page: int | None = None) -> Iterator[None]:
    """pypdf's many failures as DocumentParseError, of the document or of one page."""
    from pypdf.errors import FileNotDecryptedError, LimitReachedError

    details = {"page": page} if page is not None else None
    try:
        yield
    except (DocumentParseError, SoftTimeLimitExceeded):
        raise  # a time limit is not a damaged file
    except LimitReachedError as exc:
        raise DocumentParseError("decompression_bomb", _BOMB, details=details) from exc
    except FileNotDecryptedError as exc:
        raise DocumentParseError("encrypted_pdf", _PROTECTED) from exc
    except Exception as exc:  # pypdf raises many types on malformed input
        damaged = f"Page {page} of the PDF" if page is not None else "The PDF"
        raise DocumentParseError(
            "corrupt_pdf", f"{damaged} is damaged and cannot be read.", details=details
        ) from exc


def _pdf_open(data: bytes) -> tuple[Any, int]:
    """A reader over the PDF, decrypted when an empty password opens it, and its page count
    (1 to MAX_PAGES)."""
    import pypdf
    from pypdf.errors import PyPdfError

    with _pdf_errors():
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
                raise DocumentParseError("encrypted_pdf", _PROTECTED)
        page_count = len(reader.pages)
    if page_count == 0:
        raise DocumentParseError("corrupt_pdf", "The PDF has no pages.")
    if page_count > MAX_PAGES:
        raise DocumentParseError(
            "too_large", f"The PDF has {page_count:,} pages; the limit is {MAX_PAGES:,}."
        )
    return reader, page_count


def _pdf_pages(reader: Any, page_count: int) -> list[ParsedPage]:
    """Every page's text, normalised, with the section it belongs to; refused as a bomb at the
    first page that takes the document past MAX_PDF_CONTENT_BYTES or MAX_TEXT_CHARS."""
    pages: list[ParsedPage] = []
    content_bytes = 0
    text_chars = 0
    section = ""
    for index in range(page_count):
        with _pdf_errors(page=index + 1):
            page = reader.pages[index]
            contents = page.get_contents()
            # Measure the decompressed stream before extracting, and stop at the first page that
            # takes the document past the budget, so a bomb costs one stream, not all of them.
            content_bytes += len(contents.get_data()) if contents is not None else 0
            if content_bytes > MAX_PDF_CONTENT_BYTES:
                raise DocumentParseError("decompression_bomb", _BOMB, details={"page": index + 1})
            raw = page.extract_text() or ""
        text_chars += len(raw)
        if text_chars > MAX_TEXT_CHARS:
            raise DocumentParseError(
                "decompression_bomb",
                f"The PDF holds more than {MAX_TEXT_CHARS:,} characters of text.",
                details={"page": index + 1},
            )
        text = normalise_page_text(raw)
        section = section_of(text, previous=section)
        pages.append(ParsedPage(number=index + 1, text=text, section=section))
    return pages


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
