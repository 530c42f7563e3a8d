"""The turn's retrieval step: one scoped search, or one per sub-question for a comparison,
turned straight into the numbered passages the model sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from agents.contracts import ContextPassage
from agents.engines.citation import passages_from_chunks
from agents.engines.subquestions import decompose
from retrieval.contracts import RetrievedChunk, SearchFilters
from retrieval.selectors import chunk_search, company_directory


@dataclass(frozen=True)
class Retrieved:
    """What retrieval found for a question and the scope it applied."""

    passages: tuple[ContextPassage, ...]
    scope: dict[str, Any]
    sub_questions: list[str] = field(default_factory=list)

    @property
    def chunk_ids(self) -> list[int]:
        return [p.chunk_id for p in self.passages if p.chunk_id is not None]


def filters_from_scope(scope: dict[str, Any]) -> SearchFilters | None:
    """A conversation's scope as search filters (None when it has none)."""
    if not scope:
        return None
    filters = SearchFilters(
        tickers=tuple(scope.get("tickers", ())),
        company_ids=tuple(int(i) for i in scope.get("company_ids", ())),
        doc_types=tuple(scope.get("doc_types", ())),
        fiscal_years=tuple(int(y) for y in scope.get("fiscal_years", ())),
        fiscal_periods=tuple(scope.get("fiscal_periods", ())),
    )
    return None if filters.is_empty else filters


def turn_retrieve(*, tenant: Any, question: str, conversation_scope: dict[str, Any]) -> Retrieved:
    """Passages for a question: one scoped search, or one per sub-question for comparisons
    (round-robin merged, so every company and year stays represented)."""
    k = settings.AGENT_TOP_K
    filters = filters_from_scope(conversation_scope)
    # Read once: decomposition and every search below scope by the same companies.
    directory = company_directory(tenant=tenant)
    subs = [] if filters else decompose(question, directory)
    if not subs:
        result = chunk_search(
            tenant=tenant, query=question, k=k, filters=filters, directory=directory
        )
        return Retrieved(passages_from_chunks(result.hits), scope=result.scope.as_dict())
    per_sub = max(2, -(-k // len(subs)))
    results: list[tuple[RetrievedChunk, ...]] = [
        chunk_search(
            tenant=tenant,
            query=sub.question.sub_question,
            k=per_sub,
            filters=sub.filters,
            directory=directory,
        ).hits
        for sub in subs
    ]
    merged: list[RetrievedChunk] = []
    seen: set[int] = set()
    for rank in range(per_sub):
        for hits in results:
            if rank < len(hits) and hits[rank].chunk_id not in seen:
                seen.add(hits[rank].chunk_id)
                merged.append(hits[rank])
    labels = [sub.label for sub in subs]
    scope = {
        "automatic": True,
        "description": "Compared separately: " + "; ".join(labels),
        "matched_terms": [],
        "filters": {},
        "sub_questions": labels,
    }
    return Retrieved(passages_from_chunks(merged), scope=scope, sub_questions=labels)
