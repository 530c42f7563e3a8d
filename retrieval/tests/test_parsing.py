"""Parsing uploads into pages: every supported format, and every way an upload can be bad."""

from __future__ import annotations

import io
import json
import zlib

import pytest

from accounts.errors import DocumentRejected
from retrieval.parsing import DocumentParseError, parse_document, pdf, table_row_from_line

MAX = 10_000_000


def _pdf_with_table(*, title: str = "Quarterly report") -> bytes:
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table

    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=letter, title=title)
    document.build(
        [
            Paragraph("Item 2. Management's Discussion and Analysis", styles["Heading1"]),
            Paragraph(
                "Net sales decreased slightly compared with the prior year.", styles["Normal"]
            ),
            Table(
                [
                    ["(in millions)", "July 1, 2023", "June 25, 2022"],
                    ["Total net sales", "$ 81,797", "$ 82,959"],
                    ["Research and development", "7,442", "6,797"],
                    ["Other income/(expense), net", "(265)", "(10)"],
                ]
            ),
            PageBreak(),
            Paragraph("Item 3. Quantitative and Qualitative Disclosures", styles["Heading1"]),
            Paragraph("Interest rate risk is discussed here.", styles["Normal"]),
        ]
    )
    return buffer.getvalue()


def _parse(data: bytes, filename: str, content_type: str | None = None, max_bytes: int = MAX):
    return parse_document(
        data=data, filename=filename, content_type=content_type, max_bytes=max_bytes
    )


def test_pdf_pages_are_numbered_from_one_with_their_sections():
    document = _parse(_pdf_with_table(), "q3.pdf", "application/pdf")

    assert [page.number for page in document.pages] == [1, 2]
    assert document.pages[0].section.startswith("Item 2.")
    assert document.pages[1].section.startswith("Item 3.")
    assert "Interest rate risk" in document.pages[1].text
    assert document.title == "Quarterly report"
    assert document.metadata["page_count"] == 2


def test_pdf_table_rows_keep_each_number_next_to_its_label():
    text = _parse(_pdf_with_table(), "q3.pdf").pages[0].text

    assert "Total net sales | $81,797 | $82,959" in text.splitlines()
    assert "Research and development | 7,442 | 6,797" in text.splitlines()
    assert "Other income/(expense), net | (265) | (10)" in text.splitlines()


def test_statement_line_becomes_a_row_but_prose_and_dates_do_not():
    assert table_row_from_line("Total net sales $ 81,797 $ 82,959 293,787") == (
        "Total net sales | $81,797 | $82,959 | 293,787"
    )
    assert table_row_from_line("Financing obligations (1) 118 468") == (
        "Financing obligations (1) | 118 | 468"
    )
    assert table_row_from_line("December 31, 2022") == "December 31, 2022"
    assert table_row_from_line("Revenue grew 7% in 2016 and 2015.") == (
        "Revenue grew 7% in 2016 and 2015."
    )


def test_pdf_is_recognised_by_its_bytes_even_with_a_wrong_extension():
    document = _parse(_pdf_with_table(), "report.txt", "text/plain")

    assert len(document.pages) == 2


def test_encrypted_pdf_is_rejected_with_a_clear_code():
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(_pdf_with_table()))
    writer = pypdf.PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)

    with pytest.raises(DocumentParseError) as caught:
        _parse(buffer.getvalue(), "locked.pdf")
    assert caught.value.code == "encrypted_pdf"
    assert isinstance(caught.value, DocumentRejected)
    assert caught.value.status_code == 422


def test_pdf_with_only_an_owner_password_is_still_read():
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(_pdf_with_table()))
    writer = pypdf.PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)

    document = _parse(buffer.getvalue(), "restricted.pdf")
    assert "Total net sales" in document.pages[0].text


def test_corrupt_pdf_is_rejected():
    data = _pdf_with_table()
    damaged = data[:200] + b"\x00garbage\x00" * 50

    with pytest.raises(DocumentParseError) as caught:
        _parse(damaged, "broken.pdf")
    assert caught.value.code in {"corrupt_pdf", "no_text"}


def test_truncated_pdf_header_only_is_rejected_as_corrupt():
    with pytest.raises(DocumentParseError) as caught:
        _parse(b"%PDF-1.7\n%%EOF\n", "empty.pdf")
    assert caught.value.code == "corrupt_pdf"


def _pdf_with_streams(stream_sizes: list[int]) -> bytes:
    """A hand-written PDF whose pages' content streams inflate to the given sizes."""
    objects: list[bytes] = []
    page_ids = []
    kids_start = 3
    for index, size in enumerate(stream_sizes):
        page_id = kids_start + 2 * index
        content_id = page_id + 1
        page_ids.append(page_id)
        payload = b"BT /F1 12 Tf 72 720 Td (bomb) Tj ET\n" + b" " * size
        compressed = zlib.compress(payload, 9)
        objects.append(
            f"{page_id} 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Contents {content_id} 0 R >> endobj\n".encode()
        )
        stream_head = f"{content_id} 0 obj << /Length {len(compressed)} /Filter /FlateDecode >>"
        objects.append(stream_head.encode() + b" stream\n" + compressed + b"\nendstream endobj\n")
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    head = [
        b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n",
        f"2 0 obj << /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >> endobj\n".encode(),
    ]
    body = b"%PDF-1.4\n"
    offsets = []
    for obj in head + objects:
        offsets.append(len(body))
        body += obj
    xref = len(body)
    body += f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode()
    body += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    body += (
        f"trailer << /Size {len(offsets) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return body


def test_pdf_stream_that_inflates_past_the_limit_is_refused_as_a_bomb():
    data = _pdf_with_streams([80_000_000])

    assert len(data) < 200_000  # tiny on disk
    with pytest.raises(DocumentParseError) as caught:
        _parse(data, "bomb.pdf")
    assert caught.value.code == "decompression_bomb"


def test_many_moderate_streams_that_add_up_are_refused_as_a_bomb(monkeypatch):
    monkeypatch.setattr(pdf, "MAX_PDF_CONTENT_BYTES", 3_000_000)
    data = _pdf_with_streams([1_000_000] * 6)

    with pytest.raises(DocumentParseError) as caught:
        _parse(data, "bomb.pdf")
    assert caught.value.code == "decompression_bomb"
    assert caught.value.details["page"] == 3  # stopped early, not after inflating all six


def test_pdf_without_any_text_is_rejected_as_no_text():
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    drawing = canvas.Canvas(buffer)
    drawing.rect(100, 100, 200, 200, fill=1)
    drawing.showPage()
    drawing.save()

    with pytest.raises(DocumentParseError) as caught:
        _parse(buffer.getvalue(), "scan.pdf")
    assert caught.value.code == "no_text"


def test_empty_file_is_rejected():
    with pytest.raises(DocumentParseError) as caught:
        _parse(b"", "empty.pdf")
    assert caught.value.code == "empty_file"
    with pytest.raises(DocumentParseError):
        _parse(b"  \n\t ", "blank.txt")


def test_file_over_the_size_limit_is_rejected_before_parsing():
    with pytest.raises(DocumentParseError) as caught:
        _parse(b"x" * 2_000, "big.txt", max_bytes=1_000)
    assert caught.value.code == "too_large"
    assert caught.value.details == {"size": 2_000, "max_bytes": 1_000}


def test_image_renamed_to_pdf_is_rejected_by_its_magic_bytes():
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100

    with pytest.raises(DocumentParseError) as caught:
        _parse(png, "statement.pdf", "application/pdf")
    assert caught.value.code == "unsupported_type"
    assert "PNG" in caught.value.message


def test_text_claiming_to_be_a_pdf_is_a_type_mismatch():
    with pytest.raises(DocumentParseError) as caught:
        _parse(b"just some words", "statement.pdf")
    assert caught.value.code == "type_mismatch"


def test_unknown_extension_and_binary_content_are_unsupported():
    with pytest.raises(DocumentParseError) as caught:
        _parse(b"hello", "macro.exe")
    assert caught.value.code == "unsupported_type"
    with pytest.raises(DocumentParseError) as caught:
        _parse(b"PK\x03\x04rest-of-zip", "deck.docx")
    assert caught.value.code == "unsupported_type"
    with pytest.raises(DocumentParseError) as caught:
        _parse(b"ab\x00\x01\x02\x03" * 100, "data.txt")
    assert caught.value.code == "unsupported_type"


def test_html_tables_become_rows_and_scripts_are_dropped():
    html = b"""<html><head><title>Acme 10-K</title><style>p{}</style></head><body>
    <h2>Item 7. Management's Discussion</h2><p>Revenue <!-- reviewed -->rose.</p>
    <script>alert('x')</script>
    <table><tr><th>(in millions)</th><th>2023</th><th>2022</th></tr>
    <tr><td>Net sales</td><td>$</td><td>1,234</td><td>$</td><td>1,100</td></tr>
    <tr><td>Net income</td><td>(12</td><td>)</td><td>45</td></tr></table></body></html>"""

    document = _parse(html, "acme.html", "text/html")

    text = document.pages[0].text
    assert document.title == "Acme 10-K"
    assert "(in millions) | 2023 | 2022" in text.splitlines()
    assert "Net sales | $1,234 | $1,100" in text.splitlines()
    assert "Net income | (12) | 45" in text.splitlines()
    assert "alert" not in text
    assert "Revenue rose." in text.splitlines()
    assert document.pages[0].section.startswith("Item 7.")


def test_inline_xbrl_keeps_fact_text_drops_hidden_header_and_splits_pages():
    ixbrl = b"""<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:ix="http://www.xbrl.org/2013/inlineXBRL">
<head><title>ACME 10-Q</title></head><body>
<div style="display:none"><ix:header><ix:hidden>
<ix:nonNumeric name="dei:EntityCentralIndexKey">0000999999</ix:nonNumeric>
</ix:hidden></ix:header></div>
<div><p>Item 1. Financial Statements</p>
<table><tr><td>Revenue</td><td><ix:nonFraction name="us-gaap:Revenues" scale="6"
 decimals="-6" unitRef="usd">5,432</ix:nonFraction></td><td>4,321</td></tr></table></div>
<hr style="page-break-after:always"/>
<div><p>Item 2. MD&amp;A</p><p>Revenue was <ix:nonFraction name="x">5.4</ix:nonFraction>
billion.</p></div></body></html>"""

    document = _parse(ixbrl, "acme-10q.htm", None)

    assert document.metadata["format"] == "ixbrl"
    assert [page.number for page in document.pages] == [1, 2]
    assert "Revenue | 5,432 | 4,321" in document.pages[0].text
    assert "0000999999" not in document.pages[0].text
    assert "Revenue was 5.4" in document.pages[1].text
    assert document.pages[1].section.startswith("Item 2.")


def test_plain_text_pages_split_on_form_feeds():
    text = "Item 1. Business\nWe sell widgets.\fItem 1A. Risk Factors\nDemand may fall."

    document = _parse(text.encode(), "filing.txt", "text/plain")

    assert [p.number for p in document.pages] == [1, 2]
    assert document.pages[1].section == "Item 1A. Risk Factors"
    assert "Demand may fall." in document.pages[1].text


def test_plain_text_pages_split_on_page_markers():
    text = "Intro text\n--- Page 1 ---\nFirst page body\nPage 2\nSecond page body\n"

    document = _parse(text.encode(), "transcript.txt")

    assert [p.text for p in document.pages] == ["Intro text", "First page body", "Second page body"]


def test_markdown_headings_become_pages_and_tables_become_rows():
    markdown = """# Acme earnings call

Welcome to the call.

## Results

| Metric | Q3 2023 | Q3 2022 |
|---|---:|---:|
| Revenue | 120 | 100 |

## Outlook

We expect growth.
"""

    document = _parse(markdown.encode(), "call.md", "text/markdown")

    assert document.title == "Acme earnings call"
    assert [p.section for p in document.pages] == ["Acme earnings call", "Results", "Outlook"]
    assert "Revenue | 120 | 100" in document.pages[1].text.splitlines()
    assert "---" not in document.pages[1].text


def test_json_section_file_gives_one_page_per_item_with_metadata():
    payload = {
        "cik": "4457",
        "names": ["U HAUL HOLDING COMPANY", "U-Haul Holding Co."],
        "source": "https://www.sec.gov/Archives/edgar/data/4457/x-index.htm",
        "item1": "Item 1. Business\nWe rent trucks.",
        "item1a": "Item 1A. Risk Factors\nFuel prices may rise.",
        "item7": "",
        "item7a": "Interest rate risk.",
    }

    document = _parse(json.dumps(payload).encode(), "0000004457-23-000052.json")

    assert [p.section for p in document.pages] == [
        "Item 1. Business",
        "Item 1A. Risk Factors",
        "Item 7A. Quantitative and Qualitative Disclosures About Market Risk",
    ]
    assert [p.number for p in document.pages] == [1, 2, 3]
    assert document.metadata["cik"] == "4457"
    assert document.metadata["names"][0] == "U HAUL HOLDING COMPANY"
    assert document.title == "U HAUL HOLDING COMPANY Form 10-K"


def test_json_that_is_not_a_section_file_or_not_json_is_rejected():
    with pytest.raises(DocumentParseError) as caught:
        _parse(b'{"foo": 1}', "data.json")
    assert caught.value.code == "unsupported_type"
    with pytest.raises(DocumentParseError) as caught:
        _parse(b'{"item1": "x",', "data.json")
    assert caught.value.code == "invalid_json"


def test_section_file_with_only_headings_is_empty_of_text():
    payload = {"cik": "1", "names": ["X"], "item1": "", "item1a": "  ", "item7": ""}

    with pytest.raises(DocumentParseError) as caught:
        _parse(json.dumps(payload).encode(), "x.json")
    assert caught.value.code == "no_text"


def test_no_control_character_leaves_the_parser():
    from retrieval.tests.pdf_files import NUL_CODE, pdf_with_text_layer

    data = pdf_with_text_layer(
        [[b"Total net sales" + NUL_CODE + b" 4,210 3,759"], [], [b"Item 7." + NUL_CODE + b"MD&A"]],
        title="Annual\x00Report\x01",
    )
    document = _parse(data, "nul.pdf")

    assert [page.number for page in document.pages] == [1, 3]
    assert document.page_count == 3
    assert document.pages[0].text == "Total net sales | 4,210 | 3,759"
    assert document.title == "Annual Report"
    strings = [
        document.title,
        *(p.text for p in document.pages),
        *(p.section for p in document.pages),
    ]
    strings += [v for v in document.metadata.values() if isinstance(v, str)]
    assert not [s for s in strings if any(ord(ch) < 32 and ch not in "\n\t" for ch in s)]


def test_control_characters_in_text_uploads_are_dropped():
    document = _parse(b"Revenue\x1b was $5 million.\x7f\n\fPage two\x07 text.", "r.txt")

    assert [page.text for page in document.pages] == ["Revenue was $5 million.", "Page two text."]
