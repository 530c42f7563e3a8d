"""Writes for retrieval: uploads, the ingestion pipeline, deletes, re-embedding, the company
directory and corpus versions."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.errors import DocumentRejected, NotFound, ValidationFailed
from accounts.models import Tenant, User
from accounts.selectors import tenant_quota_get
from monitoring import metrics
from retrieval.chunking import (
    chunk_pages,
    contextual_header,
    minilm_token_count,
    text_for_embedding,
)
from retrieval.company_names import company_aliases_clean, company_name_problem
from retrieval.embeddings import Embedder, get_embedder
from retrieval.finance.pages import page_types_from_chunks
from retrieval.models import (
    MINILM_DIMENSIONS,
    Chunk,
    Company,
    CompanyAlias,
    CorpusVersion,
    Document,
    DocumentFile,
    EmbeddingCacheEntry,
)
from retrieval.parsing import clean_text, parse_document

logger = logging.getLogger(__name__)

# The shared library (tenant None) is managed by staff; its upload limit is this.
SHARED_LIBRARY_MAX_BYTES = 500 * 1024 * 1024
EMBED_BATCH = 64


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


@dataclass(frozen=True)
class IngestOutcome:
    document_id: int
    status: str
    chunks: int
    embedded: int
    cached: int
    error: str = ""


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


def company_resolve(
    *, tenant: Tenant | None, name: str, ticker: str = "", cik: str = ""
) -> Company | None:
    """The directory entry an upload names, found by CIK, else ticker, else name among the
    trusted entries and the tenant's own (never another tenant's), or created in the tenant's
    own directory (the trusted one for a shared-library upload).

    A tenant's upload never changes a trusted entry; it may fill its own entry's missing ticker
    or CIK. Returns None when the upload names no company.
    """
    name, ticker, cik = name.strip(), ticker.strip().upper(), cik.strip().lstrip("0")
    if not (name or ticker):
        return None
    reachable = Company.objects.filter(Q(tenant__isnull=True) | Q(tenant=tenant))
    trusted_first = reachable.order_by(F("tenant").asc(nulls_first=True), "pk")
    company = None
    if cik:
        company = trusted_first.filter(cik=cik).first()
    if company is None and ticker:
        company = trusted_first.filter(ticker=ticker).first()
    if company is None and name:
        company = trusted_first.filter(name__iexact=name).first()
    if company is None:
        return Company.objects.create(tenant=tenant, name=name or ticker, ticker=ticker, cik=cik)
    if company.tenant_id == (tenant.pk if tenant else None):
        changed = []
        for attr, value in (("ticker", ticker), ("cik", cik)):
            if value and not getattr(company, attr):
                setattr(company, attr, value)
                changed.append(attr)
        if changed:
            company.save(update_fields=changed)
    return company


def company_aliases_add(*, company: Company, document: Document, names: Sequence[str]) -> list[str]:
    """Record an upload's other names of its company, for the uploading tenant's questions only
    (for everyone's when the upload is the shared library's). Names that are not fit to scope a
    question (company_names.company_name_problem) and those past the per-upload limit are
    dropped and logged. Deleting the document removes them. Returns the names kept."""
    kept, refused = company_aliases_clean(names, exclude=(company.name,))
    if refused:
        logger.info(
            "Document %s: %d company name(s) not added to the directory, e.g. %r (%s)",
            document.pk,
            len(refused),
            refused[0][0],
            refused[0][1],
        )
    CompanyAlias.objects.bulk_create(
        [
            CompanyAlias(company=company, tenant=document.tenant, document=document, alias=name)
            for name in kept
        ],
        ignore_conflicts=True,
    )
    return kept


def company_directory_changed(*, tenant: Tenant | None) -> None:
    """Staff changed a directory entry (tenant None: the trusted directory, which every
    tenant's questions use): answers cached over the old directory are retired."""
    corpus_version_bump(tenant=tenant)


def corpus_version_bump(*, tenant: Tenant | None) -> None:
    """Invalidate cached answers over this tenant's corpus (None: the shared library)."""
    updated = CorpusVersion.objects.filter(tenant=tenant).update(
        version=F("version") + 1, updated_at=timezone.now()
    )
    if not updated:
        CorpusVersion.objects.get_or_create(tenant=tenant, defaults={"version": 1})


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
    if tenant is not None:
        quota = tenant_quota_get(tenant=tenant)
        max_bytes, max_docs = quota.max_upload_bytes, quota.max_documents
    else:
        max_bytes, max_docs = SHARED_LIBRARY_MAX_BYTES, None
    if len(data) > max_bytes:
        raise DocumentRejected(
            f"{filename} is {len(data):,} bytes; this workspace's limit is {max_bytes:,} bytes.",
            details={"reason": "too_large", "size": len(data), "max_bytes": max_bytes},
        )
    digest = sha256_hex(data)
    existing = Document.objects.select_for_update().filter(tenant=tenant, sha256=digest).first()
    if existing is not None:
        if existing.status == Document.Status.FAILED:
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
        return existing, False
    if max_docs is not None and Document.objects.filter(tenant=tenant).count() >= max_docs:
        raise DocumentRejected(
            f"This workspace holds its maximum of {max_docs} documents.",
            details={"reason": "document_limit", "max_documents": max_docs},
        )
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
    if queue:
        _queue_ingest(document.pk)
    return document, True


def _queue_ingest(document_id: int) -> None:
    from retrieval.tasks import document_ingest_enqueue

    transaction.on_commit(lambda: document_ingest_enqueue(document_id))


def _set_progress(document_id: int, progress: int) -> None:
    Document.objects.filter(pk=document_id).update(progress=max(0, min(100, progress)))


def _record_failure(*, document_id: int, code: str, message: str) -> str:
    """Record why an ingestion failed and return the document's status afterwards.

    A document that was ready keeps its chunks and stays searchable (a failed re-ingest must not
    take away what worked); it carries the reason until an ingestion succeeds. Any other document
    becomes failed and holds no chunk.
    """
    with transaction.atomic():
        kept = Document.objects.filter(pk=document_id, status=Document.Status.READY).update(
            error_code=code[:64], error_message=message
        )
        if kept:
            return Document.Status.READY
        Chunk.objects.filter(document_id=document_id).delete()
        Document.objects.filter(pk=document_id).update(
            status=Document.Status.FAILED,
            error_code=code[:64],
            error_message=message,
            progress=100,
            chunk_count=0,
        )
    return Document.Status.FAILED


def embeddings_get_or_compute(
    *,
    embedder: Embedder,
    texts: Sequence[str],
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[list[list[float]], int]:
    """Vectors for texts through the cache; returns (vectors, how many were newly embedded)."""
    hashes = [sha256_hex(text.encode()) for text in texts]
    cached: dict[str, Any] = dict(
        EmbeddingCacheEntry.objects.filter(
            model=embedder.model_name, text_sha256__in=set(hashes)
        ).values_list("text_sha256", "embedding")
    )
    missing: dict[str, str] = {}
    for digest, text in zip(hashes, texts, strict=True):
        if digest not in cached:
            missing.setdefault(digest, text)
    metrics.CACHE_REQUESTS.labels(cache="embedding").inc(len(hashes))
    metrics.CACHE_HITS.labels(cache="embedding").inc(len(hashes) - len(missing))
    todo = list(missing.items())
    for start in range(0, len(todo), EMBED_BATCH):
        batch = todo[start : start + EMBED_BATCH]
        vectors = embedder.embed_documents([text for _, text in batch])
        EmbeddingCacheEntry.objects.bulk_create(
            [
                EmbeddingCacheEntry(model=embedder.model_name, text_sha256=digest, embedding=vector)
                for (digest, _), vector in zip(batch, vectors, strict=True)
            ],
            ignore_conflicts=True,
        )
        for (digest, _), vector in zip(batch, vectors, strict=True):
            cached[digest] = vector
        if on_progress:
            on_progress(min(start + EMBED_BATCH, len(todo)), len(todo))
    return [list(cached[digest]) for digest in hashes], len(todo)


def chunk_header(document: Document, section: str) -> str:
    """Where a chunk comes from, prepended for embedding and weighted first in full text:
    "Apple Inc. (AAPL) | Form 10-Q Q3 2023 | Item 2". Chunks of filings look alike across
    companies and quarters; the header is what tells them apart (bench/retrieval_lab)."""
    company = document.company.name if document.company else ""
    who = f"{company} ({document.ticker})" if company and document.ticker else company
    form = f"Form {document.doc_type}" if document.doc_type != Document.DocType.OTHER else ""
    what = " ".join(part for part in (form, _period_label(document)) if part)
    return contextual_header(company=who or document.title, period=what, section=section)


def _period_label(document: Document) -> str:
    if document.fiscal_year is None:
        return document.fiscal_period
    if document.fiscal_period and document.fiscal_period != "FY":
        return f"{document.fiscal_period} {document.fiscal_year}"
    return f"FY{document.fiscal_year}"


def document_ingest(
    *, document_id: int, embedder: Embedder | None = None, reingest: bool = False
) -> IngestOutcome:
    """Parse, chunk, embed and store one document; safe to run again.

    A ready document is left alone unless `reingest` is set; then it stays searchable on its old
    chunks while the new ones are made, and they replace the old in one transaction only once all
    of them are ready. A bad file marks a new document failed with a readable error and leaves no
    chunk behind; on a re-ingest the old chunks stay and the error is recorded. Transient
    database errors propagate so the task can retry.
    """
    document = Document.objects.select_related("tenant", "company", "file").get(pk=document_id)
    serving = document.status == Document.Status.READY
    if serving and not reingest:
        return IngestOutcome(document.pk, document.status, document.chunk_count, 0, 0)
    if not serving:
        Document.objects.filter(pk=document.pk).update(
            status=Document.Status.PROCESSING, progress=5
        )
    embedder = embedder or get_embedder()
    max_bytes = (
        tenant_quota_get(tenant=document.tenant).max_upload_bytes
        if document.tenant is not None
        else SHARED_LIBRARY_MAX_BYTES
    )
    try:
        parsed = parse_document(
            data=bytes(document.file.data),
            filename=document.source,
            content_type=document.content_type or None,
            max_bytes=max_bytes,
        )
    except DocumentRejected as exc:
        reason = str(getattr(exc, "code", "") or exc.details.get("reason", "rejected"))
        _record_failure(document_id=document.pk, code=reason, message=exc.message)
        return IngestOutcome(document.pk, Document.Status.FAILED, 0, 0, 0, exc.message)
    if not serving:
        _set_progress(document.pk, 15)
    _apply_parsed_metadata(document, parsed.title, parsed.metadata)
    headers_by_section = {
        page.section: chunk_header(document, page.section) for page in parsed.pages
    }
    longest = max((minilm_token_count(h) for h in headers_by_section.values()), default=0)
    chunks = chunk_pages(parsed.pages, header_tokens=longest + 1)
    page_types = page_types_from_chunks((min(c.pages), c.section, c.text) for c in chunks)
    headers = [
        headers_by_section.get(chunk.section) or chunk_header(document, chunk.section)
        for chunk in chunks
    ]
    texts = [
        text_for_embedding(chunk, header=header)
        for chunk, header in zip(chunks, headers, strict=True)
    ]

    def progress(done: int, total: int) -> None:
        _set_progress(document.pk, 15 + int(80 * done / max(total, 1)))

    vectors, embedded = embeddings_get_or_compute(
        embedder=embedder, texts=texts, on_progress=None if serving else progress
    )
    column = "embedding" if embedder.dimensions == MINILM_DIMENSIONS else "embedding_1536"
    with transaction.atomic():
        Chunk.objects.filter(document=document).delete()
        Chunk.objects.bulk_create(
            [
                Chunk(
                    tenant=document.tenant,
                    document=document,
                    ordinal=chunk.ordinal,
                    text=chunk.text,
                    header=header[:500],
                    section=chunk.section[:200],
                    page_start=min(chunk.pages),
                    page_end=max(chunk.pages),
                    token_count=chunk.token_count,
                    page_type=page_types[min(chunk.pages)],
                    embedding_model=embedder.model_name,
                    **{column: vector},
                )
                for chunk, header, vector in zip(chunks, headers, vectors, strict=True)
            ],
            batch_size=500,
        )
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE retrieval_chunk
                   SET search_vector = setweight(to_tsvector('english', header), 'A')
                                    || setweight(to_tsvector('english', text), 'B')
                 WHERE document_id = %s
                """,
                [document.pk],
            )
        Document.objects.filter(pk=document.pk).update(
            status=Document.Status.READY,
            page_count=parsed.page_count,
            chunk_count=len(chunks),
            embedding_model=embedder.model_name,
            error_code="",
            error_message="",
            progress=100,
            ingested_at=timezone.now(),
        )
        corpus_version_bump(tenant=document.tenant)
    return IngestOutcome(
        document.pk, Document.Status.READY, len(chunks), embedded, len(chunks) - embedded
    )


def document_mark_failed(*, document_id: int, code: str, message: str) -> None:
    """Give up on a document's ingestion (retries spent, time limit, lost worker, a bug).

    A document that is ready keeps its chunks (see _record_failure); any other holds none.
    """
    _record_failure(document_id=document_id, code=code, message=message)


def document_ingest_attempt_begin(*, document_id: int, max_attempts: int) -> bool:
    """Count one more delivery of a document's ingestion; False once it has had max_attempts.

    The ingestion task calls this first on every delivery, so a file that kills the worker (out
    of memory, a crash in a native library, the hard time limit) is not redelivered forever: the
    delivery after the last allowed one marks the document failed without touching the file.
    A ready document is not counted (document_ingest returns at once for it).
    """
    # updated_at marks when this delivery began: documents_stuck_sweep reads it (update() does
    # not touch auto_now fields by itself).
    counted = (
        Document.objects.filter(pk=document_id, ingest_attempts__lt=max_attempts)
        .exclude(status=Document.Status.READY)
        .update(ingest_attempts=F("ingest_attempts") + 1, updated_at=timezone.now())
    )
    if counted:
        return True
    document = Document.objects.filter(pk=document_id).only("status").first()
    if document is None or document.status == Document.Status.READY:
        return document is not None
    _record_failure(
        document_id=document_id,
        code="ingest_attempts_exhausted",
        message=(
            f"Ingestion was stopped after {max_attempts} attempts: each one ended the ingestion "
            "worker (a crash, running out of memory or the time limit). Try another copy of "
            "the file, or split it."
        ),
    )
    return False


@dataclass(frozen=True)
class StuckSweep:
    """What one documents_stuck_sweep did: documents sent to the workers again, and failed."""

    requeued: list[int]
    failed: list[int]

    def as_dict(self) -> dict[str, list[int]]:
        return {"requeued": self.requeued, "failed": self.failed}


def documents_stuck_sweep(
    *, stuck_after: timedelta, max_attempts: int, enqueue: Callable[[int], None]
) -> StuckSweep:
    """Rescue documents left "processing" by an ingestion that no longer runs.

    Each delivery of the ingestion task stamps updated_at when it begins, and the task's hard
    time limit ends any delivery within INGEST_TASK_TIME_LIMIT: a document still "processing"
    `stuck_after` (that limit plus a margin) after its last delivery began has no worker on it
    (a worker SIGKILLed with its whole process group, a broker that lost the message). Below
    `max_attempts` deliveries it is queued again (`enqueue(document_id)`); at the limit it is
    failed with the reason. Each document is claimed with a conditional update, so two sweeps
    at once never both act on it, and a repeat finds nothing to do.
    """
    now = timezone.now()
    cutoff = now - stuck_after
    requeued: list[int] = []
    failed: list[int] = []
    stuck = Document.objects.filter(
        status=Document.Status.PROCESSING, updated_at__lt=cutoff
    ).values_list("pk", "ingest_attempts")
    for document_id, attempts in list(stuck):
        claimed = Document.objects.filter(
            pk=document_id, status=Document.Status.PROCESSING, updated_at__lt=cutoff
        ).update(updated_at=now)
        if not claimed:
            continue
        if attempts < max_attempts:
            logger.warning(
                "Document %s stuck processing since %s (attempt %s of %s): queued again",
                document_id,
                cutoff,
                attempts,
                max_attempts,
            )
            enqueue(document_id)
            requeued.append(document_id)
            continue
        logger.warning(
            "Document %s stuck processing after %s attempts: failed", document_id, attempts
        )
        _record_failure(
            document_id=document_id,
            code="ingest_stuck",
            message=(
                f"Ingestion stopped without finishing {attempts} times (the ingestion worker "
                "was lost each time). Try another copy of the file, or split it."
            ),
        )
        failed.append(document_id)
    return StuckSweep(requeued=requeued, failed=failed)


def document_reingest(
    *, tenant: Tenant | None, document_id: int, embedder: Embedder | None = None
) -> IngestOutcome:
    """Parse, chunk and embed a ready document again (a new parser or model) in place.

    Its chunks are replaced in one transaction only when all the new ones are ready; when the
    new parse fails the old chunks stay searchable and the outcome (and the document's
    error_code/error_message) says why. Raises NotFound for another tenant's document.
    """
    document = Document.objects.filter(tenant=tenant, pk=document_id).first()
    if document is None:
        raise NotFound("Document not found.")
    return document_ingest(document_id=document.pk, embedder=embedder, reingest=True)


def _apply_parsed_metadata(document: Document, title: str, metadata: dict[str, Any]) -> None:
    """Fill what the uploader left blank from what the file says about itself."""
    updates: dict[str, Any] = {}
    if title and document.title == document.source:
        updates["title"] = title[:300]
    names = [str(n) for n in metadata.get("names") or [metadata.get("company") or ""] if n]
    if document.company is None and names:
        # The filing's current name comes last; the first usable one from the end names it.
        usable, _ = company_aliases_clean(reversed(names))
        company = (
            company_resolve(
                tenant=document.tenant,
                name=usable[0],
                ticker=str(metadata.get("ticker", "")),
                cik=str(metadata.get("cik", "")),
            )
            if usable
            else None
        )
        if company is not None:
            company_aliases_add(company=company, document=document, names=names)
            updates["company"] = company
            document.company = company
            if not document.ticker and company.ticker:
                updates["ticker"] = company.ticker
    if updates:
        Document.objects.filter(pk=document.pk).update(**updates)
        for key, value in updates.items():
            setattr(document, key, value)


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


def tenant_reembed(*, tenant: Tenant | None, embedder: Embedder) -> int:
    """Move every ready document of a tenant to another embedding model; returns how many moved.

    A document whose re-ingest fails stays searchable on its old model; errors of the embedding
    provider propagate (the documents not reached yet are untouched).
    """
    ids = list(
        Document.objects.filter(tenant=tenant, status=Document.Status.READY)
        .exclude(embedding_model=embedder.model_name)
        .values_list("pk", flat=True)
    )
    moved = 0
    for document_id in ids:
        # In place: the document answers on its old vectors until the new ones replace them.
        outcome = document_reingest(tenant=tenant, document_id=document_id, embedder=embedder)
        moved += outcome.status == Document.Status.READY
    return moved


def corpus_load_manifest(*, tenant: Tenant | None, manifest: Path) -> list[IngestOutcome]:
    """Ingest every file a manifest.json lists (title, company, ticker, aliases, cik, doc_type,
    fiscal_year, fiscal_period, period_end, filing_date, source_url); already-ingested files are
    skipped by their sha256."""
    entries = json.loads(manifest.read_text())
    outcomes = []
    for entry in entries:
        data = (manifest.parent / entry["file"]).read_bytes()
        metadata = DocumentMetadata(
            title=entry.get("title", ""),
            company=entry.get("company", ""),
            ticker=entry.get("ticker", ""),
            cik=entry.get("cik", ""),
            aliases=tuple(entry.get("aliases", ())),
            doc_type=entry.get("doc_type", Document.DocType.OTHER),
            fiscal_year=entry.get("fiscal_year"),
            fiscal_period=entry.get("fiscal_period", ""),
            period_end=date.fromisoformat(entry["period_end"]) if entry.get("period_end") else None,
            filing_date=(
                date.fromisoformat(entry["filing_date"]) if entry.get("filing_date") else None
            ),
            source_url=entry.get("source_url", ""),
        )
        document, _ = document_register(
            tenant=tenant,
            user=None,
            data=data,
            filename=entry["file"],
            metadata=metadata,
            queue=False,
        )
        outcomes.append(document_ingest(document_id=document.pk))
    return outcomes


def document_page_types_refresh(*, document_id: int) -> int:
    """Re-classify the pages of a stored document from its chunks (after the classifier
    changed); returns how many chunks changed type."""
    rows = list(
        Chunk.objects.filter(document_id=document_id)
        .order_by("ordinal")
        .values_list("page_start", "section", "text", "page_type")
    )
    types = page_types_from_chunks((page, section, text) for page, section, text, _ in rows)
    changed = 0
    with transaction.atomic():
        for page, kind in types.items():
            changed += (
                Chunk.objects.filter(document_id=document_id, page_start=page)
                .exclude(page_type=kind)
                .update(page_type=kind)
            )
    return changed
