"""The original file of an upload, and its page viewer: readable exactly where the document is."""

from __future__ import annotations

import pytest
from django.test import Client

from retrieval.models import Chunk, DocumentFile
from retrieval.services import DocumentMetadata, document_ingest, document_register
from retrieval.tests.test_ingestion import make_pdf

pytestmark = pytest.mark.django_db

PAGES = [
    "Glueworks Corp annual report for fiscal 2018.",
    "Item 7. Management's Discussion and Analysis\nCapital expenditures were $1,577 million.",
]
HTML = (
    b"<html><body><h1>Glueworks 10-K</h1><p>Net sales were $32,765 million.</p>"
    b"<script>document.title='ran'</script></body></html>"
)


def register(tenant, data: bytes, filename: str, content_type: str = ""):
    document, _ = document_register(
        tenant=tenant,
        user=None,
        data=data,
        filename=filename,
        content_type=content_type,
        metadata=DocumentMetadata(title=filename),
        queue=False,
    )
    document_ingest(document_id=document.pk)
    document.refresh_from_db()
    return document


def signed_in(member) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


def test_the_original_pdf_comes_back_byte_for_byte_to_its_tenant(analyst):
    data = make_pdf(PAGES)
    document = register(analyst.tenant, data, "glue-2018.pdf")

    response = analyst.client().get(f"/api/v1/documents/{document.pk}/original")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content == data
    assert response["Content-Disposition"] == 'inline; filename="glue-2018.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    download = analyst.client().get(f"/api/v1/documents/{document.pk}/original?download=1")
    assert download["Content-Disposition"].startswith("attachment;")


def test_another_workspace_gets_404_in_the_house_format(analyst, other_tenant_analyst):
    document = register(analyst.tenant, make_pdf(PAGES), "glue-2018.pdf")

    response = other_tenant_analyst.client().get(f"/api/v1/documents/{document.pk}/original")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    page = signed_in(other_tenant_analyst).get(f"/documents/{document.pk}/original/?page=2")
    assert page.status_code == 404


def test_a_shared_library_original_is_readable_by_every_workspace(analyst, other_tenant_analyst):
    data = make_pdf(PAGES)
    document = register(None, data, "shared-glue.pdf")
    for member in (analyst, other_tenant_analyst):
        response = member.client().get(f"/api/v1/documents/{document.pk}/original")
        assert response.status_code == 200
        assert response.content == data


def test_an_html_original_cannot_run_scripts_in_our_origin(analyst):
    document = register(analyst.tenant, HTML, "glue.html", "text/html")

    response = analyst.client().get(f"/api/v1/documents/{document.pk}/original")

    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response.content == HTML
    policy = response["Content-Security-Policy"]
    assert policy.startswith("sandbox;")
    assert "default-src 'none'" in policy
    page = signed_in(analyst).get(f"/documents/{document.pk}/original/").content.decode()
    assert f'src="/api/v1/documents/{document.pk}/original" sandbox' in page


def test_a_document_whose_file_is_not_kept_says_so(analyst):
    document = register(analyst.tenant, make_pdf(PAGES), "glue-2018.pdf")
    DocumentFile.objects.filter(document=document).delete()

    response = analyst.client().get(f"/api/v1/documents/{document.pk}/original")

    assert response.status_code == 404
    assert "not kept" in response.json()["error"]["message"]


def test_the_viewer_page_opens_the_cited_page_with_the_text_to_highlight(analyst):
    document = register(analyst.tenant, make_pdf(PAGES), "glue-2018.pdf")
    chunk = Chunk.objects.get(document=document, page_start=2)

    html = (
        signed_in(analyst)
        .get(f"/documents/{document.pk}/original/?page=2&chunk={chunk.pk}")
        .content.decode()
    )

    assert "Original, page 2 of 2" in html
    assert f'data-file-url="/api/v1/documents/{document.pk}/original"' in html
    assert 'data-page="2"' in html
    assert "/static/vendor/pdfjs/pdf.min.mjs" in html
    assert '<script id="cited-quote" type="application/json">' in html
    assert "Capital expenditures were $1,577 million." in html
    assert f'id="chunk-{chunk.pk}" class="passage passage-cited"' in html
