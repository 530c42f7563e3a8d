"""Operations over many documents at once: load a corpus from a manifest, move a tenant to
another embedding model."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from accounts.models import Tenant
from retrieval.embeddings import Embedder
from retrieval.models import Document
from retrieval.services.ingestion import IngestOutcome, document_ingest, document_reingest
from retrieval.services.uploads import DocumentMetadata, document_register


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
