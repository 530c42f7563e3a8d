"""Reads for retrieval, one module per concern: documents visible to a tenant and corpus versions
(`documents`), the company directory (`companies`), hybrid search (`search`, its SQL in
`search_sql`). Import from here."""

from retrieval.selectors.companies import (
    MAX_ALIASES_PER_COMPANY,
    company_choices,
    company_directory,
)
from retrieval.selectors.documents import (
    OriginalFile,
    chunk_texts,
    corpus_version_get,
    document_get,
    document_list,
    document_original_get,
    visible_documents,
)
from retrieval.selectors.search import chunk_search, question_validate

__all__ = [
    "MAX_ALIASES_PER_COMPANY",
    "OriginalFile",
    "chunk_search",
    "chunk_texts",
    "company_choices",
    "company_directory",
    "corpus_version_get",
    "document_get",
    "document_list",
    "document_original_get",
    "question_validate",
    "visible_documents",
]
