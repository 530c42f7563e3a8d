"""PDFs built byte by byte for tests: text layers that real filings carry and generators avoid."""

from __future__ import annotations

import io

# Byte 0x01 of the test font decodes to U+0000 (NUL), as some glyphs of real 10-K text layers do
# (AMD's 2015 10-K); printable ASCII decodes to itself.
NUL_CODE = b"\x01"

_TO_UNICODE = (
    b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
    b"/CMapName /FinragNul def\n"
    b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
    b"1 begincodespacerange <00> <FF> endcodespacerange\n"
    b"1 beginbfchar <01> <0000> endbfchar\n"
    b"1 beginbfrange <20> <7E> <0020> endbfrange\n"
    b"endcmap CMapName currentdict /CMap defineresource pop end end"
)


def _stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def pdf_with_text_layer(pages: list[list[bytes]], *, title: str | None = None) -> bytes:
    """A PDF with one page per entry, each line drawn in a font whose ToUnicode map sends
    NUL_CODE to U+0000. An empty entry is a page without text. `title` goes in /Info as
    UTF-16, so it may hold any character, NUL included."""
    objects: list[bytes] = [b"", b""]  # the catalog and the page tree, filled in below
    objects.append(_stream(_TO_UNICODE))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 3 0 R >>")
    kids: list[int] = []
    for lines in pages:
        shown = b"".join(b"<" + line.hex().encode() + b"> Tj T* " for line in lines)
        objects.append(_stream(b"BT /F1 11 Tf 72 720 Td 14 TL " + shown + b"ET"))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 4 0 R >> >> /Contents %d 0 R >>" % len(objects)
        )
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % kid for kid in kids),
        len(kids),
    )
    info = None
    if title is not None:
        encoded = ("\ufeff" + title).encode("utf-16-be").hex().upper().encode()
        objects.append(b"<< /Title <" + encoded + b"> >>")
        info = len(objects)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    trailer = b"/Size %d /Root 1 0 R" % (len(objects) + 1)
    if info is not None:
        trailer += b" /Info %d 0 R" % info
    out.write(b"trailer\n<< " + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def encrypted(data: bytes) -> bytes:
    """`data` re-written with a user password (AES-128): unreadable without it."""
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
