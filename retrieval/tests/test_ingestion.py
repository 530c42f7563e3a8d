"""Ingestion end to end against real Postgres + pgvector: upload, parse, chunk, embed, store."""

from __future__ import annotations

import io
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from accounts.services import tenant_create
from retrieval.models import Chunk, Document, EmbeddingCacheEntry
from retrieval.services import DocumentMetadata, document_ingest, document_register
from retrieval.tests.pdf_files import NUL_CODE, encrypted, pdf_with_text_layer

pytestmark = pytest.mark.django_db

FILING = (
    "Initech Corp Annual Report 2022\n\n"
    "Item 7. Management's Discussion and Analysis\n\n"
    "Net sales were $4,210 million in fiscal 2022, up 12% from $3,759 million in fiscal 2021.\n"
    "Capital expenditures were $388 million, mainly for the new Austin data centre.\n"
    "\f"
    "Item 8. Financial Statements\n\n"
    "| Metric | 2022 | 2021 |\n| --- | --- | --- |\n| Net income | 611 | 540 |\n"
    "| Diluted EPS | 2.41 | 2.13 |\n"
)


def make_pdf(pages: list[str]) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter)
    for text in pages:
        y = 720
        for line in text.splitlines():
            pdf.drawString(72, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def upload(member, name: str, data: bytes, **fields):
    return member.client().post(
        "/api/v1/documents",
        {"files": SimpleUploadedFile(name, data), **fields},
        format="multipart",
    )


def test_uploaded_filing_becomes_ready_with_pages_and_chunks(
    analyst, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(
            analyst,
            "initech-2022.txt",
            FILING.encode(),
            ticker="INTC1",
            company="Initech Corp",
            doc_type="10-K",
            fiscal_year="2022",
        )
    assert response.status_code == 202, response.content
    document_id = response.json()[0]["id"]
    detail = analyst.client().get(f"/api/v1/documents/{document_id}").json()
    assert detail["status"] == "ready", detail
    assert detail["progress"] == 100
    assert detail["page_count"] == 2
    assert detail["company"] == "Initech Corp"
    chunks = Chunk.objects.filter(document_id=document_id)
    assert chunks.exists()
    assert {c.page_start for c in chunks} == {1, 2}
    assert all(c.embedding is not None for c in chunks)
    assert all(c.tenant_id == analyst.tenant.pk for c in chunks)


def test_pdf_upload_keeps_page_numbers(analyst):
    data = make_pdf(["Overview of the year.", "Revenue was $7,100 million in 2023."])
    document, created = document_register(
        tenant=analyst.tenant, user=analyst.user, data=data, filename="r.pdf", queue=False
    )
    assert created
    outcome = document_ingest(document_id=document.pk)
    assert outcome.status == "ready"
    revenue = Chunk.objects.get(document=document, text__contains="7,100")
    assert revenue.page_start == 2


def test_reingesting_the_same_file_is_idempotent_and_embeds_nothing(analyst):
    first, _ = document_register(
        tenant=analyst.tenant,
        user=analyst.user,
        data=FILING.encode(),
        filename="a.txt",
        queue=False,
    )
    document_ingest(document_id=first.pk)
    cached = EmbeddingCacheEntry.objects.count()
    again, created_again = document_register(
        tenant=analyst.tenant,
        user=analyst.user,
        data=FILING.encode(),
        filename="copy.txt",
        queue=False,
    )
    assert not created_again
    assert again.pk == first.pk
    assert Document.objects.filter(tenant=analyst.tenant).count() == 1
    # The same text in another tenant comes from the embedding cache, not from the model.
    other, _ = tenant_create(slug="other-co", tier_slug="pro")
    second, _ = document_register(
        tenant=other, user=None, data=FILING.encode(), filename="a.txt", queue=False
    )
    outcome = document_ingest(document_id=second.pk)
    assert outcome.embedded == 0
    assert outcome.cached == outcome.chunks > 0
    assert EmbeddingCacheEntry.objects.count() == cached


def nul_filing() -> bytes:
    """Three pages whose text layer decodes to NUL bytes; the second page has no text."""
    return pdf_with_text_layer(
        [
            [b"Net sales were $4,210" + NUL_CODE + b" million in fiscal 2022.",
             b"Total net sales" + NUL_CODE + b" 4,210 3,759"],
            [],
            [b"Capital" + NUL_CODE + b"expenditures were $388 million."],
        ],
        title="Initech\x00Annual Report",
    )  # fmt: skip


def test_pdf_whose_text_layer_yields_nul_bytes_becomes_ready_with_clean_text(analyst):
    import pypdf

    data = nul_filing()
    extracted = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    assert "\x00" in extracted  # the file really reproduces what crashed ingestion

    document, _ = document_register(
        tenant=analyst.tenant, user=analyst.user, data=data, filename="nul.pdf", queue=False
    )
    outcome = document_ingest(document_id=document.pk)

    document.refresh_from_db()
    assert outcome.status == document.status == "ready", document.error_message
    assert "\x00" not in document.title
    chunks = list(Chunk.objects.filter(document=document))
    assert chunks
    for chunk in chunks:
        for value in (chunk.text, chunk.header, chunk.section):
            assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in value), value
    assert any("4,210" in chunk.text for chunk in chunks)


def test_page_numbers_stay_those_of_the_pdf_when_a_page_has_no_text(analyst):
    document, _ = document_register(
        tenant=analyst.tenant, user=analyst.user, data=nul_filing(), filename="p.pdf", queue=False
    )
    document_ingest(document_id=document.pk)

    document.refresh_from_db()
    assert document.page_count == 3
    capex = Chunk.objects.get(document=document, text__contains="expenditures")
    assert (capex.page_start, capex.page_end) == (3, 3)
    assert not Chunk.objects.filter(document=document, page_start=2).exists()


def truncated_pdf() -> bytes:
    data = make_pdf(["Revenue was $7,100 million in 2023.", "Second page."])
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage, no xref", "corrupt_pdf"),
        ("truncated.pdf", truncated_pdf(), "corrupt_pdf"),
        ("locked.pdf", encrypted(make_pdf(["Revenue was $7,100 million."])), "encrypted_pdf"),
        ("image.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "unsupported_type"),
        ("blank.txt", b"   \n\n  ", "empty_file"),
    ],
)
def test_bad_files_fail_with_a_reason_and_leave_no_chunks(analyst, name, data, code):
    document, _ = document_register(
        tenant=analyst.tenant, user=analyst.user, data=data, filename=name, queue=False
    )
    outcome = document_ingest(document_id=document.pk)
    document.refresh_from_db()
    assert outcome.status == "failed"
    assert document.status == "failed"
    assert document.error_code == code
    assert document.error_message
    assert not Chunk.objects.filter(document=document).exists()


def test_upload_over_the_tier_limit_is_refused_and_nothing_is_written(analyst):
    tenant = analyst.tenant
    tenant.max_upload_bytes_override = 100
    tenant.save()
    response = upload(analyst, "big.txt", b"x" * 101)
    assert response.status_code == 413  # refused while the file streams in
    assert response.json()["error"]["details"]["reason"] == "too_large"
    assert not Document.objects.exists()


def test_document_limit_is_enforced(analyst):
    tenant = analyst.tenant
    tenant.max_documents_override = 1
    tenant.save()
    document_register(tenant=tenant, user=None, data=b"one", filename="1.txt", queue=False)
    response = upload(analyst, "2.txt", b"two")
    assert response.status_code == 422
    assert response.json()["error"]["details"]["reason"] == "document_limit"


def test_bad_metadata_is_rejected_in_the_house_format(analyst):
    response = upload(analyst, "a.txt", b"text", doc_type="10-Z")
    assert response.status_code == 400
    assert "doc_type" in response.json()["error"]["details"]
    assert not Document.objects.exists()


def test_viewer_cannot_upload_or_delete(make_member, analyst):
    viewer = make_member("acme", "viewer")
    document, _ = document_register(
        tenant=analyst.tenant, user=None, data=b"some text", filename="x.txt", queue=False
    )
    assert upload(viewer, "v.txt", b"hello").status_code == 403
    assert viewer.client().delete(f"/api/v1/documents/{document.pk}").status_code == 403
    assert Document.objects.filter(pk=document.pk).exists()


def test_delete_removes_document_and_chunks(analyst):
    document, _ = document_register(
        tenant=analyst.tenant, user=None, data=FILING.encode(), filename="x.txt", queue=False
    )
    document_ingest(document_id=document.pk)
    response = analyst.client().delete(f"/api/v1/documents/{document.pk}")
    assert response.status_code == 204
    assert not Document.objects.filter(pk=document.pk).exists()
    assert not Chunk.objects.filter(document_id=document.pk).exists()


def test_ingest_command_reports_ready_and_failed(analyst, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "good.md").write_text("# Results\n\nRevenue grew to $90 million in 2023.")
    (tmp_path / "sub" / "bad.pdf").write_bytes(b"%PDF-1.4 broken")
    out = StringIO()
    call_command(
        "ingest",
        str(tmp_path),
        "--tenant",
        "acme",
        "--ticker",
        "ACME",
        stdout=out,
        stderr=StringIO(),
    )
    assert "1 ready, 1 failed, 2 file(s)" in out.getvalue()
    assert "bad.pdf" in out.getvalue()


def test_ingest_command_reports_each_bad_pdf_and_ingests_the_others(analyst, tmp_path):
    (tmp_path / "nul.pdf").write_bytes(nul_filing())
    (tmp_path / "truncated.pdf").write_bytes(truncated_pdf())
    (tmp_path / "locked.pdf").write_bytes(encrypted(make_pdf(["Revenue was $7,100 million."])))
    out = StringIO()

    call_command("ingest", str(tmp_path), "--tenant", "acme", stdout=out, stderr=StringIO())

    report = out.getvalue()
    assert "1 ready, 2 failed, 3 file(s)" in report
    failures = sorted(line.strip() for line in report.splitlines() if "FAILED" in line)
    assert failures == [
        f"FAILED {tmp_path / 'locked.pdf'}: "
        "The PDF is password-protected; upload an unprotected copy.",
        f"FAILED {tmp_path / 'truncated.pdf'}: The PDF is damaged and cannot be read.",
    ]
    statuses = dict(Document.objects.values_list("source", "status"))
    assert statuses == {"nul.pdf": "ready", "truncated.pdf": "failed", "locked.pdf": "failed"}
    assert not Chunk.objects.exclude(document__source="nul.pdf").exists()


def test_ingest_command_reingests_a_ready_file_in_place(analyst, tmp_path):
    path = tmp_path / "initech.txt"
    path.write_bytes(FILING.encode())
    call_command("ingest", str(path), "--tenant", "acme", stdout=StringIO(), stderr=StringIO())
    document = Document.objects.get()
    before = set(Chunk.objects.filter(document=document).values_list("pk", flat=True))
    out = StringIO()

    call_command(
        "ingest", str(path), "--tenant", "acme", "--reingest", stdout=out, stderr=StringIO()
    )

    assert "1 ready, 0 failed, 1 file(s)" in out.getvalue()
    document.refresh_from_db()
    assert document.status == "ready"
    after = set(Chunk.objects.filter(document=document).values_list("pk", flat=True))
    assert after
    assert not after & before  # every chunk was replaced, none left over from the old parse


def test_metadata_fills_the_company_directory(analyst):
    document, _ = document_register(
        tenant=analyst.tenant,
        user=None,
        data=b"Widgets sold well.",
        filename="w.txt",
        metadata=DocumentMetadata(company="Widget Works Inc.", ticker="wdgt"),
        queue=False,
    )
    assert document.company is not None
    assert document.company.ticker == "WDGT"
    assert document.ticker == "WDGT"
