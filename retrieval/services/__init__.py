"""Writes for retrieval, one module per concern: uploads (`uploads`), the ingestion pipeline
(`ingestion`) and what happens when it fails (`ingest_failures`), the company directory
(`companies`), corpus versions (`corpus`), and operations over many documents (`bulk`). Import
from here."""

from retrieval.services.bulk import corpus_load_manifest, tenant_reembed
from retrieval.services.companies import company_aliases_add, company_resolve
from retrieval.services.corpus import company_directory_changed, corpus_version_bump
from retrieval.services.ingest_failures import (
    StuckSweep,
    document_ingest_attempt_begin,
    document_mark_failed,
    documents_stuck_sweep,
)
from retrieval.services.ingestion import (
    EMBED_BATCH,
    IngestOutcome,
    chunk_header,
    document_ingest,
    document_page_types_refresh,
    document_reingest,
    embeddings_get_or_compute,
)
from retrieval.services.uploads import (
    SHARED_LIBRARY_MAX_BYTES,
    DocumentMetadata,
    document_delete,
    document_register,
    sha256_hex,
)

__all__ = [
    "EMBED_BATCH",
    "SHARED_LIBRARY_MAX_BYTES",
    "DocumentMetadata",
    "IngestOutcome",
    "StuckSweep",
    "chunk_header",
    "company_aliases_add",
    "company_directory_changed",
    "company_resolve",
    "corpus_load_manifest",
    "corpus_version_bump",
    "document_delete",
    "document_ingest",
    "document_ingest_attempt_begin",
    "document_mark_failed",
    "document_page_types_refresh",
    "document_register",
    "document_reingest",
    "documents_stuck_sweep",
    "embeddings_get_or_compute",
    "sha256_hex",
    "tenant_reembed",
]
