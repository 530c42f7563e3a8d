"""What every parser returns (pages with their sections, a title, what the file says about
itself), the one error it raises, and the limits and character cleaning every parser keeps."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from accounts.errors import DocumentRejected

# A bound against decompression bombs that every format shares (the PDF parser adds its own).
MAX_TEXT_CHARS = 20_000_000

WHITESPACE = re.compile(r"[ \t\u00a0\u2009\u202f]+")
# What PostgreSQL refuses (NUL) or what only garbles text: C0 and C1 control characters other
# than tab, newline and carriage return, lone surrogates (not encodable as UTF-8), and the
# noncharacters U+FFFE/U+FFFF that text layers emit for glyphs without a Unicode mapping.
# Real 10-K text layers map some glyphs to U+0000; one such page used to abort the whole ingest.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


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
    return CONTROL_CHARACTERS.sub(" ", text)
