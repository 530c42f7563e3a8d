"""Document reads: what a tenant can see (its own documents and the shared library), an upload's
original file, chunks by id for citations, and the corpus version answers are cached against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from accounts.errors import NotFound
from accounts.models import Tenant
from retrieval.contracts import RetrievedChunk
from retrieval.models import Chunk, CorpusVersion, Document, DocumentFile


def visible_documents(*, tenant: Tenant) -> QuerySet[Document]:
    """The tenant's own documents plus the shared library."""
    return Document.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True))


def document_list(
    *,
    tenant: Tenant,
    status: str | None = None,
    ticker: str | None = None,
    doc_type: str | None = None,
    fiscal_year: int | None = None,
    company_id: int | None = None,
) -> QuerySet[Document]:
    documents = visible_documents(tenant=tenant).select_related("company")
    if status:
        documents = documents.filter(status=status)
    if ticker:
        documents = documents.filter(ticker__iexact=ticker)
    if doc_type:
        documents = documents.filter(doc_type=doc_type)
    if fiscal_year:
        documents = documents.filter(fiscal_year=fiscal_year)
    if company_id:
        documents = documents.filter(company_id=company_id)
    return documents.order_by("-created_at")


def document_get(*, tenant: Tenant, document_id: int) -> Document:
    """A document the tenant can read; NotFound for another tenant's (never revealed)."""
    document = (
        visible_documents(tenant=tenant).select_related("company").filter(pk=document_id).first()
    )
    if document is None:
        raise NotFound("Document not found.")
    return document


@dataclass(frozen=True)
class OriginalFile:
    """The bytes of an upload as it was received, and how a browser may show them."""

    document: Document
    data: bytes
    kind: str  # "pdf", "html" or "text"
    media_type: str


_HTML_SUFFIXES = (".htm", ".html", ".xhtml")


def document_original_get(*, tenant: Tenant, document_id: int) -> OriginalFile:
    """The original file of a document the tenant can read (its own or the shared library's);
    NotFound for another tenant's document, and for one whose file is not kept."""
    document = document_get(tenant=tenant, document_id=document_id)
    data = DocumentFile.objects.filter(document=document).values_list("data", flat=True).first()
    if data is None:
        raise NotFound("The original file of this document is not kept.")
    data = bytes(data)
    if data.startswith(b"%PDF"):
        return OriginalFile(document, data, "pdf", "application/pdf")
    html = "html" in document.content_type or document.source.lower().endswith(_HTML_SUFFIXES)
    if html:
        return OriginalFile(document, data, "html", "text/html; charset=utf-8")
    return OriginalFile(document, data, "text", "text/plain; charset=utf-8")


def corpus_version_get(*, tenant: Tenant) -> str:
    """A token that changes whenever the tenant's or the shared library's corpus changes."""
    versions: dict[int | None, int] = dict(
        CorpusVersion.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True)).values_list(
            "tenant_id", "version"
        )
    )
    return f"{versions.get(tenant.pk, 0)}.{versions.get(None, 0)}"


def chunk_texts(*, tenant: Tenant, chunk_ids: Sequence[int]) -> dict[int, RetrievedChunk]:
    """Chunks by id (for citations), only those the tenant can read."""
    rows = Chunk.objects.filter(
        Q(tenant=tenant) | Q(tenant__isnull=True), pk__in=list(chunk_ids)
    ).select_related("document", "document__company")
    return {
        c.pk: RetrievedChunk(
            chunk_id=c.pk,
            document_id=c.document_id,
            document_title=c.document.title,
            source=c.document.source,
            company=c.document.company.name if c.document.company else "",
            ticker=c.document.ticker,
            doc_type=c.document.doc_type,
            fiscal_year=c.document.fiscal_year,
            fiscal_period=c.document.fiscal_period,
            page=c.page_start,
            page_end=c.page_end,
            section=c.section,
            text=c.text,
            score=0.0,
        )
        for c in rows
    }
