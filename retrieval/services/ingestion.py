"""The ingestion pipeline: parse a stored upload into pages, chunk them with a header saying
where each comes from, embed through the cache, and swap the document's chunks in one
transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.errors import DocumentRejected, NotFound
from accounts.models import Tenant
from monitoring import metrics
from retrieval.chunking import Chunk as TextChunk
from retrieval.chunking import (
    chunk_pages,
    contextual_header,
    minilm_token_count,
    text_for_embedding,
)
from retrieval.company_names import company_aliases_clean
from retrieval.embeddings import Embedder, get_embedder
from retrieval.finance.pages import page_types_from_chunks
from retrieval.models import MINILM_DIMENSIONS, Chunk, Document, EmbeddingCacheEntry
from retrieval.parsing import ParsedDocument, parse_document
from retrieval.services.companies import company_aliases_add, company_resolve
from retrieval.services.corpus import corpus_version_bump
from retrieval.services.ingest_failures import ingest_failure_record
from retrieval.services.uploads import sha256_hex, upload_limits

EMBED_BATCH = 64


@dataclass(frozen=True)
class IngestOutcome:
    document_id: int
    status: str
    chunks: int
    embedded: int
    cached: int
    error: str = ""


@dataclass(frozen=True)
class _PreparedChunks:
    """A parsed document's chunks with, for each, its header, its text to embed, and the type
    of each page they start on."""

    chunks: list[TextChunk]
    headers: list[str]
    texts: list[str]
    page_types: Mapping[int, str]


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
    try:
        parsed = _parse_stored(document)
    except DocumentRejected as exc:
        reason = str(getattr(exc, "code", "") or exc.details.get("reason", "rejected"))
        ingest_failure_record(document_id=document.pk, code=reason, message=exc.message)
        return IngestOutcome(document.pk, Document.Status.FAILED, 0, 0, 0, exc.message)
    if not serving:
        _set_progress(document.pk, 15)
    _apply_parsed_metadata(document, parsed.title, parsed.metadata)
    prepared = _chunks_prepare(document, parsed)

    def progress(done: int, total: int) -> None:
        _set_progress(document.pk, 15 + int(80 * done / max(total, 1)))

    vectors, embedded = embeddings_get_or_compute(
        embedder=embedder, texts=prepared.texts, on_progress=None if serving else progress
    )
    _chunks_replace(document, parsed, prepared, vectors, embedder=embedder)
    chunks = len(prepared.chunks)
    return IngestOutcome(document.pk, Document.Status.READY, chunks, embedded, chunks - embedded)


def _parse_stored(document: Document) -> ParsedDocument:
    """The document's stored file parsed into pages, within its tenant's upload limit.
    Raises DocumentRejected (DocumentParseError) for a file that cannot be read."""
    max_bytes, _ = upload_limits(document.tenant)
    return parse_document(
        data=bytes(document.file.data),
        filename=document.source,
        content_type=document.content_type or None,
        max_bytes=max_bytes,
    )


def _chunks_prepare(document: Document, parsed: ParsedDocument) -> _PreparedChunks:
    """Chunk the pages, leaving room in each chunk for the longest header of its section."""
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
    return _PreparedChunks(chunks=chunks, headers=headers, texts=texts, page_types=page_types)


def _chunks_replace(
    document: Document,
    parsed: ParsedDocument,
    prepared: _PreparedChunks,
    vectors: Sequence[list[float]],
    *,
    embedder: Embedder,
) -> None:
    """In one transaction: the old chunks out, the new ones in with their full-text vectors,
    the document ready, and the corpus version moved on."""
    column = "embedding" if embedder.dimensions == MINILM_DIMENSIONS else "embedding_1536"
    rows = zip(prepared.chunks, prepared.headers, vectors, strict=True)
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
                    page_type=prepared.page_types[min(chunk.pages)],
                    embedding_model=embedder.model_name,
                    **{column: vector},
                )
                for chunk, header, vector in rows
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
            chunk_count=len(prepared.chunks),
            embedding_model=embedder.model_name,
            error_code="",
            error_message="",
            progress=100,
            ingested_at=timezone.now(),
        )
        corpus_version_bump(tenant=document.tenant)


def _set_progress(document_id: int, progress: int) -> None:
    Document.objects.filter(pk=document_id).update(progress=max(0, min(100, progress)))


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
