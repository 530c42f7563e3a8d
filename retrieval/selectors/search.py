"""Hybrid search over the chunks a tenant can read: the question read once, scoped by what it
names (widened when that finds nothing), one SQL statement per attempt (search_sql), then the
lexical re-rank by page (ranking)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

import psycopg
from django.conf import settings
from django.db import connection, transaction

from accounts.errors import ValidationFailed
from accounts.models import Tenant
from monitoring import metrics
from monitoring.tracing import get_tracer
from retrieval.contracts import AppliedScope, RetrievedChunk, SearchFilters, SearchResult
from retrieval.embeddings import Embedder, get_embedder
from retrieval.finance.questions import QuestionIntent, read_question
from retrieval.models import MINILM_DIMENSIONS
from retrieval.ranking import Candidate, StatementEvidence, full_text_query, rerank
from retrieval.scoping import CompanyEntry, QuestionScope, scope_from_question
from retrieval.selectors.companies import company_directory
from retrieval.selectors.search_sql import (
    CANDIDATES,
    DOC_TYPE_WEIGHT,
    RRF_K,
    STATEMENT_WEIGHT,
    TEXT_WEIGHT,
    VECTOR_WEIGHT,
    filters_where,
    hybrid_sql,
)


def question_validate(question: str) -> str:
    """The question or search query, stripped; the one length check every entry point and the
    search itself share (settings.QUESTION_MAX_CHARS). Raises ValidationFailed."""
    question = (question or "").strip()
    limit = settings.QUESTION_MAX_CHARS
    if not question:
        raise ValidationFailed("The question is empty.", details={"field": "question"})
    if len(question) > limit:
        raise ValidationFailed(
            f"The question is longer than {limit} characters.",
            details={"field": "question", "max_chars": limit},
        )
    return question


@dataclass(frozen=True)
class SearchAttempt:
    """One set of filters to search with: whether they came from the question, and the words
    of the question that produced them."""

    filters: SearchFilters
    automatic: bool = False
    matched_terms: tuple[str, ...] = ()


def chunk_search(
    *,
    tenant: Tenant,
    query: str,
    k: int = 10,
    filters: SearchFilters | None = None,
    auto_scope: bool = True,
    embedder: Embedder | None = None,
    directory: list[CompanyEntry] | None = None,
) -> SearchResult:
    """Hybrid search over the chunks this tenant can read.

    With no filters given and auto_scope on, companies and fiscal periods named in the question
    become filters; if that finds nothing, the scope is relaxed and the result says so.
    `directory` is the tenant's company_directory when the caller has already read it.
    Raises ValidationFailed for an empty or oversized query or a bad k.
    """
    query = question_validate(query)
    if not 1 <= k <= 100:
        raise ValidationFailed("k must be between 1 and 100.")
    embedder = embedder or get_embedder()
    timings: dict[str, float] = {}
    intent = read_question(query)
    started = time.perf_counter()
    vector = embedder.embed_query(intent.search_text)
    timings["embed_ms"] = (time.perf_counter() - started) * 1000
    if directory is None:
        directory = company_directory(tenant=tenant)
    evidence = _statement_evidence(query, intent, directory)
    attempts = _search_attempts(query, filters, auto_scope=auto_scope, directory=directory)

    def run(attempt: SearchAttempt) -> list[RetrievedChunk]:
        return _run_search(
            tenant=tenant,
            vector=vector,
            model=embedder.model_name,
            dims=embedder.dimensions,
            k=k,
            filters=attempt.filters,
            intent=intent,
            evidence=evidence,
        )

    started = time.perf_counter()
    hits, used = _first_attempt_with_hits(attempts, run, k=k)
    timings["search_ms"] = (time.perf_counter() - started) * 1000
    names = {int(c.id): c.name for c in directory}
    return SearchResult(
        hits=tuple(hits),
        scope=AppliedScope(
            filters=used.filters,
            automatic=used.automatic,
            description=_scope_description(attempts, used, names),
            matched_terms=used.matched_terms,
        ),
        embedding_model=embedder.model_name,
        timings_ms=timings,
    )


def _statement_evidence(
    query: str, intent: QuestionIntent, directory: list[CompanyEntry]
) -> StatementEvidence:
    """What the question says about the pages that answer it, for the third and fourth candidate
    lists and the re-rank."""
    years = scope_from_question(query, directory).fiscal_years
    return StatementEvidence(
        named=tuple(intent.named_statements),
        implied=tuple(intent.implied_statements),
        line_items=intent.line_item_groups,
        year=max(years) if years else None,
        asks_why=intent.asks_why,
        page_words=intent.page_word_groups,
        page_types=tuple(intent.topic_page_types),
        doc_types=intent.doc_types,
    )


def _search_attempts(
    query: str,
    filters: SearchFilters | None,
    *,
    auto_scope: bool,
    directory: list[CompanyEntry],
) -> list[SearchAttempt]:
    """The filters to try in order: the caller's; else (auto_scope) the question's scope, the
    same without its periods, then everything."""
    if filters is not None and not filters.is_empty:
        return [SearchAttempt(filters)]
    attempts: list[SearchAttempt] = []
    if auto_scope:
        scope = scope_from_question(query, directory)
        scoped = _filters_from_scope(scope)
        if not scoped.is_empty:
            attempts.append(SearchAttempt(scoped, True, scope.matched_terms))
            unperiod = replace(
                scoped,
                fiscal_years=(),
                fiscal_periods=(),
                periods=(),
                year_min=None,
                year_max=None,
                latest=False,
            )
            if unperiod != scoped and not unperiod.is_empty:
                attempts.append(SearchAttempt(unperiod, True, scope.matched_terms))
    attempts.append(SearchAttempt(SearchFilters()))
    return attempts


def _first_attempt_with_hits(
    attempts: list[SearchAttempt],
    run: Callable[[SearchAttempt], list[RetrievedChunk]],
    *,
    k: int,
) -> tuple[list[RetrievedChunk], SearchAttempt]:
    """Search with each attempt in turn until one finds something; its hits and the attempt
    (the last one when none does)."""
    hits: list[RetrievedChunk] = []
    used = attempts[0]
    with get_tracer().start_as_current_span("retrieval.chunk_search") as span:
        for used in attempts:
            attempt_started = time.perf_counter()
            hits = run(used)
            metrics.VECTOR_SEARCH_LATENCY.labels(mode="hybrid").observe(
                time.perf_counter() - attempt_started
            )
            if hits:
                break
        span.set_attributes(
            {"rag.k": k, "rag.hits": len(hits), "rag.search_attempts": attempts.index(used) + 1}
        )
    return hits, used


def _scope_description(
    attempts: list[SearchAttempt], used: SearchAttempt, names: dict[int, str]
) -> str:
    """What the user is told the search covered, and that it widened if it had to."""
    description = _describe(used.filters, names)
    if used.automatic:
        description = f"From the question: {description}"
    if used is not attempts[0]:
        description += f" (nothing matched {_describe(attempts[0].filters, names)}; widened)"
    return description


def _filters_from_scope(scope: QuestionScope) -> SearchFilters:
    """Filters from what the question names.

    A quarter with its year is an exact period; bare years become a window from one year before
    to two years after (a later annual report restates earlier years' figures); "latest" keeps
    each company's newest filing when no quarter is named.
    """
    periods = tuple(
        sorted({f"{year} Q{quarter}" for year, quarter in scope.fiscal_quarters if year})
    )
    years = set(scope.fiscal_years)
    quarters_only = tuple(
        sorted({f"Q{quarter}" for year, quarter in scope.fiscal_quarters if not year})
    )
    return SearchFilters(
        company_ids=tuple(int(i) for i in scope.company_ids),
        periods=periods,
        fiscal_periods=quarters_only if not periods else (),
        year_min=min(years) - 1 if years and not periods else None,
        year_max=max(years) + 2 if years and not periods else None,
        latest=scope.latest and not periods,
    )


def _describe(filters: SearchFilters, companies: dict[int, str]) -> str:
    parts = []
    if filters.company_ids:
        parts.append(", ".join(companies.get(i, str(i)) for i in filters.company_ids))
    if filters.tickers:
        parts.append("tickers " + ", ".join(filters.tickers))
    if filters.doc_types:
        parts.append(", ".join(filters.doc_types))
    if filters.fiscal_periods:
        parts.append(", ".join(filters.fiscal_periods))
    if filters.fiscal_years:
        parts.append("FY " + ", ".join(str(y) for y in filters.fiscal_years))
    if filters.periods:
        parts.append(", ".join(filters.periods))
    if filters.year_min is not None:
        parts.append(f"fiscal years {filters.year_min}-{filters.year_max}")
    if filters.latest:
        parts.append("latest filing per company")
    if filters.document_ids:
        parts.append(f"{len(filters.document_ids)} selected document(s)")
    if filters.date_from or filters.date_to:
        parts.append(f"filed {filters.date_from or '...'} to {filters.date_to or '...'}")
    return "; ".join(parts) if parts else "all documents"


def _run_search(
    *,
    tenant: Tenant,
    vector: list[float],
    model: str,
    dims: int,
    k: int,
    filters: SearchFilters,
    intent: QuestionIntent,
    evidence: StatementEvidence,
) -> list[RetrievedChunk]:
    """One search statement with these filters, re-ranked by page; the best k chunks."""
    params = _search_params(
        tenant=tenant, vector=vector, model=model, k=k, intent=intent, evidence=evidence
    )
    column = "embedding" if dims == MINILM_DIMENSIONS else "embedding_1536"
    sql = hybrid_sql(
        column,
        filters_where(filters, params),
        statements=bool(evidence.wanted or evidence.page_types),
        doc_types=bool(evidence.doc_types),
    )
    rows = _fetch_rows(sql, params)
    chunks = {row[0]: _chunk_from_row(row) for row in rows}
    headers = {row[0]: row[16] or "" for row in rows}
    return _reranked(chunks, headers, intent=intent, evidence=evidence, k=k)


def _search_params(
    *,
    tenant: Tenant,
    vector: list[float],
    model: str,
    k: int,
    intent: QuestionIntent,
    evidence: StatementEvidence,
) -> dict[str, Any]:
    """The bound parameters of hybrid_sql (filters_where adds those of the filters)."""
    return {
        "tenant": tenant.pk,
        "model": model,
        # Every word of the question, or any line item of its metrics.
        "text": intent.search_text,
        "phrases": full_text_query("", intent.line_items + intent.page_words),
        # The statements it needs and the pages its topics live on (a vote's governance page).
        "page_types": list(dict.fromkeys((*evidence.wanted, *evidence.page_types))),
        "statement_weight": STATEMENT_WEIGHT,
        "doc_types": list(evidence.doc_types),
        "doc_type_weight": DOC_TYPE_WEIGHT,
        "vector": str(vector),
        "candidates": max(CANDIDATES, k),
        # Every fused candidate goes to the re-rank, which picks the final k.
        "k": 2 * max(CANDIDATES, k),
        "rrf_k": RRF_K,
        "vector_weight": VECTOR_WEIGHT,
        "text_weight": TEXT_WEIGHT,
    }


def _fetch_rows(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with transaction.atomic(), connection.cursor() as cursor:
        # For this transaction (one statement, one round trip for both): pgvector 0.8 keeps
        # scanning the HNSW index until enough rows pass the filters, so a tenant-filtered search
        # does not lose recall; ef_search 40 keeps recall@10 >= 0.99 filtered and unfiltered
        # (bench/vector_search), since the iterative scan, not ef_search, is what fills the
        # candidate list under a filter.
        cursor.execute(
            "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),"
            " set_config('hnsw.ef_search', '40', true)"
        )
        # Bound on the server: the statement names the question's vector (8 kB of text) in
        # six places, which Django's client-side binding quoted and sent six times, and
        # Postgres then parsed six times; as one parameter it is sent and parsed once.
        with psycopg.Cursor(cast(psycopg.Connection[Any], connection.connection)) as bound:
            bound.execute(sql, params)
            return bound.fetchall()


def _chunk_from_row(row: tuple[Any, ...]) -> RetrievedChunk:
    """A RetrievedChunk from a row of hybrid_sql's final SELECT."""
    return RetrievedChunk(
        chunk_id=row[0],
        document_id=row[1],
        document_title=row[2],
        source=row[3],
        company=row[4],
        ticker=row[5],
        doc_type=row[6],
        fiscal_year=row[7],
        fiscal_period=row[8],
        page=row[9],
        page_end=row[10],
        section=row[11],
        text=row[12],
        score=float(row[13]),
        vector_score=float(row[14]) if row[14] is not None else None,
        text_score=float(row[15]) if row[15] is not None else None,
        page_type=row[17] or "",
    )


def _reranked(
    chunks: dict[int, RetrievedChunk],
    headers: dict[int, str],
    *,
    intent: QuestionIntent,
    evidence: StatementEvidence,
    k: int,
) -> list[RetrievedChunk]:
    # Lexical re-rank and page aggregation (measured in bench/retrieval_lab: the largest
    # page-level gain after scoping); one chunk per page comes back, best first.
    ranked = rerank(
        intent.search_text,
        [
            Candidate(
                chunk_id=c.chunk_id,
                document_id=c.document_id,
                page=c.page,
                page_end=c.page_end,
                text=c.text,
                header=headers[c.chunk_id],
                score=c.score,
                vector_score=c.vector_score,
                text_score=c.text_score,
                page_type=c.page_type,
                fiscal_year=c.fiscal_year,
                doc_type=c.doc_type,
            )
            for c in chunks.values()
        ],
        evidence=evidence,
        top_n=len(chunks),
    )
    return [replace(chunks[cast(int, c.chunk_id)], score=c.score) for c in ranked[:k]]
