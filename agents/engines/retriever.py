"""A LlamaIndex retriever over retrieval.selectors.chunk_search (hybrid pgvector search)."""

from __future__ import annotations

from typing import Any

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from accounts.models import Tenant
from retrieval.contracts import AppliedScope, RetrievedChunk, SearchFilters
from retrieval.scoping import CompanyEntry
from retrieval.selectors import chunk_search


def node_from_chunk(chunk: RetrievedChunk) -> NodeWithScore:
    node = TextNode(
        id_=f"chunk-{chunk.chunk_id}",
        text=chunk.text,
        metadata={
            "chunk_id": chunk.chunk_id,
            "document_id": chunk.document_id,
            "document": chunk.document_title,
            "source": chunk.source,
            "company": chunk.company,
            "ticker": chunk.ticker,
            "fiscal_year": chunk.fiscal_year,
            "fiscal_period": chunk.fiscal_period,
            "page": chunk.page,
            "page_end": chunk.page_end,
            "section": chunk.section,
        },
    )
    return NodeWithScore(node=node, score=chunk.score)


class ChunkSearchRetriever(BaseRetriever):
    """Retrieves a tenant's chunks; remembers the scope applied to the last query."""

    def __init__(
        self,
        *,
        tenant: Tenant,
        k: int = 6,
        filters: SearchFilters | None = None,
        directory: list[CompanyEntry] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tenant = tenant
        self.k = k
        self.filters = filters
        self.directory = directory
        self.last_scope: AppliedScope | None = None
        self.last_chunks: tuple[RetrievedChunk, ...] = ()

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = chunk_search(
            tenant=self.tenant,
            query=query_bundle.query_str,
            k=self.k,
            filters=self.filters,
            directory=self.directory,
        )
        self.last_scope = result.scope
        self.last_chunks = result.hits
        return [node_from_chunk(chunk) for chunk in result.hits]
