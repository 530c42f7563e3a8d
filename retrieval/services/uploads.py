"""Uploads: an upload's metadata checked and cleaned, the document recorded (idempotent by
sha256 per tenant, within the tenant's limits) and its ingestion queued; a tenant's document
deleted."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any

from django.db import transaction

from accounts.errors import DocumentRejected, NotFound, ValidationFailed
from accounts.models import Tenant, User
from accounts.selectors import tenant_quota_get
from retrieval.company_names import company_name_problem
from retrieval.models import Company, Document, DocumentFile
from retrieval.parsing import clean_text
from retrieval.services.companies import company_aliases_add, company_resolve
from retrieval.services.corpus import corpus_version_bump

# The shared library (tenant None) is managed by staff; its upload limit is this.
SHARED_LIBRARY_MAX_BYTES = 500 * 1024 * 1024


@dataclass(frozen=True)
class DocumentMetadata:
    title: str = ""
    company: str = ""
    ticker: str = ""
    cik: str = ""
    aliases: tuple[str, ...] = ()
    doc_type: str = Document.DocType.OTHER
    fiscal_year: int | None = None
    fiscal_period: str = ""
    period_end: date | None = None
    filing_date: date | None = None
    source_url: str = ""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cleaned_metadata(metadata: DocumentMetadata) -> DocumentMetadata:
    """The metadata without control characters (a manifest may carry them; Postgres refuses NUL)."""
    changes: dict[str, Any] = {}
    for spec in fields(metadata):
        value = getattr(metadata, spec.name)
        if isinstance(value, str):
            changes[spec.name] = clean_text(value).strip()
        elif isinstance(value, tuple):
            changes[spec.name] = tuple(clean_text(str(item)).strip() for item in value)
    return replace(metadata, **changes)


def _validate_metadata(metadata: DocumentMetadata) -> None:
    if metadata.doc_type not in Document.DocType.values:
        raise ValidationFailed(
            f"Unknown document type '{metadata.doc_type}'.",
            details={"doc_type": metadata.doc_type, "allowed": list(Document.DocType.values)},
        )
    if metadata.fiscal_year is not None and not 1900 <= metadata.fiscal_year <= 2100:
        raise ValidationFailed("The fiscal year must be between 1900 and 2100.")
    if metadata.fiscal_period and metadata.fiscal_period not in ("FY", "Q1", "Q2", "Q3", "Q4"):
        raise ValidationFailed("The fiscal period must be one of FY, Q1, Q2, Q3, Q4.")
    problem = company_name_problem(metadata.company) if metadata.company.strip() else ""
    if problem:
        raise ValidationFailed(
            f"The company name is not usable: {problem}.",
            details={"company": [f"The company name is {problem}."]},
        )


@transaction.atomic
def document_register(
    *,
    tenant: Tenant | None,
    user: User | None,
    data: bytes,
    filename: str,
    content_type: str = "",
    metadata: DocumentMetadata | None = None,
    queue: bool = True,
) -> tuple[Document, bool]:
    """Record an upload and queue its ingestion; idempotent by sha256 per tenant.

    Returns (document, created). Raises DocumentRejected (nothing is written) for an empty file,
    a file over the tier's upload limit, or a tenant at its document limit; ValidationFailed for
    bad metadata. With queue=False the caller runs document_ingest itself.
    """
    metadata = _cleaned_metadata(metadata or DocumentMetadata())
    _validate_metadata(metadata)
    filename = clean_text(filename or "").rsplit("/", 1)[-1].strip()[:300] or "upload"
    if not data:
        raise DocumentRejected("The file is empty.", details={"reason": "empty_file"})
    max_bytes, max_docs = upload_limits(tenant)
    if len(data) > max_bytes:
        raise DocumentRejected(
            f"{filename} is {len(data):,} bytes; this workspace's limit is {max_bytes:,} bytes.",
            details={"reason": "too_large", "size": len(data), "max_bytes": max_bytes},
        )
    digest = sha256_hex(data)
    existing = _existing_upload(tenant=tenant, digest=digest, queue=queue)
    if existing is not None:
        return existing, False
    if max_docs is not None and Document.objects.filter(tenant=tenant).count() >= max_docs:
        raise DocumentRejected(
            f"This workspace holds its maximum of {max_docs} documents.",
            details={"reason": "document_limit", "max_documents": max_docs},
        )
    document = _document_create(
        tenant=tenant,
        user=user,
        data=data,
        digest=digest,
        filename=filename,
        content_type=content_type,
        metadata=metadata,
    )
    if queue:
        _queue_ingest(document.pk)
    return document, True


def upload_limits(tenant: Tenant | None) -> tuple[int, int | None]:
    """(largest file in bytes, most documents or None) this tenant (None: the shared library)
    may upload."""
    if tenant is None:
        return SHARED_LIBRARY_MAX_BYTES, None
    quota = tenant_quota_get(tenant=tenant)
    return quota.max_upload_bytes, quota.max_documents


def _existing_upload(*, tenant: Tenant | None, digest: str, queue: bool) -> Document | None:
    """The tenant's document with these bytes, if any, locked; one that failed is queued again
    from the start."""
    existing = Document.objects.select_for_update().filter(tenant=tenant, sha256=digest).first()
    if existing is not None and existing.status == Document.Status.FAILED:
        Document.objects.filter(pk=existing.pk).update(
            status=Document.Status.QUEUED,
            error_code="",
            error_message="",
            progress=0,
            ingest_attempts=0,
        )
        existing.refresh_from_db()
        if queue:
            _queue_ingest(existing.pk)
    return existing


def _document_create(
    *,
    tenant: Tenant | None,
    user: User | None,
    data: bytes,
    digest: str,
    filename: str,
    content_type: str,
    metadata: DocumentMetadata,
) -> Document:
    """The new document, its original file, and the company names it brings."""
    company = company_resolve(
        tenant=tenant, name=metadata.company, ticker=metadata.ticker, cik=metadata.cik
    )
    document = Document.objects.create(
        tenant=tenant,
        title=metadata.title or filename,
        company=company,
        ticker=(metadata.ticker or (company.ticker if company else "")).upper(),
        doc_type=metadata.doc_type,
        fiscal_year=metadata.fiscal_year,
        fiscal_period=metadata.fiscal_period,
        period_end=metadata.period_end,
        filing_date=metadata.filing_date,
        source=filename,
        source_url=metadata.source_url,
        content_type=clean_text(content_type or "").strip()[:100],
        sha256=digest,
        size_bytes=len(data),
        created_by=user,
    )
    DocumentFile.objects.create(document=document, data=data)
    if company is not None and metadata.aliases:
        company_aliases_add(company=company, document=document, names=metadata.aliases)
    return document


def _queue_ingest(document_id: int) -> None:
    from retrieval.tasks import document_ingest_enqueue

    transaction.on_commit(lambda: document_ingest_enqueue(document_id))


def document_delete(*, tenant: Tenant, document: Document) -> None:
    """Delete a tenant's document with its chunks and the company names it brought; a company
    only this document named in the tenant's own directory goes too. Shared-library documents
    are not the tenant's."""
    if document.tenant_id != tenant.pk:
        raise NotFound("Document not found.")
    with transaction.atomic():
        company_id = document.company_id
        document.delete()  # its CompanyAlias rows cascade
        if company_id is not None:
            Company.objects.filter(pk=company_id, tenant=tenant, documents__isnull=True).delete()
        corpus_version_bump(tenant=tenant)
