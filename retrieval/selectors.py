"""Reads for retrieval: documents visible to a tenant, the company directory, corpus versions, and
hybrid search (pgvector HNSW + full text, tenant filter in the same statement)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet

from accounts.errors import NotFound, ValidationFailed
from accounts.models import Tenant
from monitoring import metrics
from monitoring.tracing import get_tracer
from retrieval.contracts import AppliedScope, RetrievedChunk, SearchFilters, SearchResult
from retrieval.embeddings import Embedder, get_embedder
from retrieval.finance.questions import QuestionIntent, read_question
from retrieval.models import (
    MINILM_DIMENSIONS,
    Company,
    CompanyAlias,
    CorpusVersion,
    Document,
    DocumentFile,
)
from retrieval.ranking import Candidate, StatementEvidence, full_text_query, rerank
from retrieval.scoping import CompanyEntry, QuestionScope, scope_from_question

CANDIDATES = 50  # per ranking, before fusion and the lexical re-rank
RRF_K = 60
VECTOR_WEIGHT = 1.0
TEXT_WEIGHT = 1.0
# The third candidate list: chunks of the statements the question needs, by vector distance.
STATEMENT_WEIGHT = 1.0
# The fourth: chunks of the kinds of filing the question's topics come from (an earnings release
# for a non-GAAP measure, an 8-K for a shareholder vote), by vector distance.
DOC_TYPE_WEIGHT = 1.0


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


# Aliases read per company for scoping: enough for every real former name and short form, and
# a ceiling on what one tenant's uploads can make each question match against.
MAX_ALIASES_PER_COMPANY = 200


def company_directory(*, tenant: Tenant) -> list[CompanyEntry]:
    """Companies that have a ready document this tenant can read, from the trusted directory
    and the tenant's own, each with the trusted aliases and those the tenant's own ready
    documents brought. Nothing another tenant uploaded changes what this returns."""
    companies = list(
        Company.objects.filter(
            Q(tenant__isnull=True) | Q(tenant=tenant),
            Q(documents__tenant=tenant) | Q(documents__tenant__isnull=True),
            documents__status=Document.Status.READY,
        )
        .distinct()
        .order_by("name", "pk")
    )
    aliases: dict[int, list[str]] = {c.pk: [] for c in companies}
    rows = (
        CompanyAlias.objects.filter(company__in=list(aliases))
        .filter(Q(tenant__isnull=True) | Q(tenant=tenant))
        .filter(Q(document__isnull=True) | Q(document__status=Document.Status.READY))
        .order_by(F("tenant").asc(nulls_first=True), "pk")
        .values_list("company_id", "alias")
    )
    for company_id, alias in rows:
        if len(aliases[company_id]) < MAX_ALIASES_PER_COMPANY:
            aliases[company_id].append(alias)
    return [
        CompanyEntry(id=c.pk, name=c.name, ticker=c.ticker, aliases=tuple(aliases[c.pk]))
        for c in companies
    ]


def company_choices(*, tenant_id: int | None) -> QuerySet[Company]:
    """Companies a document of this tenant (None: the shared library) may be filed under: the
    trusted directory and the tenant's own entries."""
    return Company.objects.filter(Q(tenant__isnull=True) | Q(tenant_id=tenant_id)).order_by(
        "name", "pk"
    )


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


def _where(filters: SearchFilters, params: dict[str, Any]) -> str:
    clauses = []
    if filters.tickers:
        clauses.append("upper(d.ticker) = ANY(%(tickers)s)")
        params["tickers"] = [t.upper() for t in filters.tickers]
    if filters.company_ids:
        clauses.append("d.company_id = ANY(%(company_ids)s)")
        params["company_ids"] = list(filters.company_ids)
    if filters.doc_types:
        clauses.append("d.doc_type = ANY(%(doc_types)s)")
        params["doc_types"] = list(filters.doc_types)
    if filters.fiscal_years:
        clauses.append("d.fiscal_year = ANY(%(fiscal_years)s)")
        params["fiscal_years"] = list(filters.fiscal_years)
    if filters.fiscal_periods:
        clauses.append("d.fiscal_period = ANY(%(fiscal_periods)s)")
        params["fiscal_periods"] = list(filters.fiscal_periods)
    if filters.date_from:
        clauses.append("d.filing_date >= %(date_from)s")
        params["date_from"] = filters.date_from
    if filters.date_to:
        clauses.append("d.filing_date <= %(date_to)s")
        params["date_to"] = filters.date_to
    if filters.document_ids:
        clauses.append("d.id = ANY(%(document_ids)s)")
        params["document_ids"] = list(filters.document_ids)
    if filters.periods:
        clauses.append("(d.fiscal_year::text || ' ' || d.fiscal_period) = ANY(%(periods)s)")
        params["periods"] = list(filters.periods)
    if filters.year_min is not None:
        clauses.append("d.fiscal_year BETWEEN %(year_min)s AND %(year_max)s")
        params["year_min"] = filters.year_min
        params["year_max"] = filters.year_max
    if filters.latest:
        # Each company's newest ready document among those the tenant can read.
        clauses.append(
            """d.id IN (
                SELECT DISTINCT ON (ld.company_id) ld.id FROM retrieval_document ld
                 WHERE (ld.tenant_id = %(tenant)s OR ld.tenant_id IS NULL)
                   AND ld.status = 'ready'
                 ORDER BY ld.company_id, ld.period_end DESC NULLS LAST,
                          ld.fiscal_year DESC NULLS LAST, ld.created_at DESC)"""
        )
    return "".join(f" AND {clause}" for clause in clauses)


def _hybrid_sql(
    column: str, extra_where: str, *, statements: bool = False, doc_types: bool = False
) -> str:
    # One statement: the tenant filter, the model filter and the metadata filters sit inside both
    # candidate queries, so an index scan can never return another tenant's rows.
    filters = f"""
       WHERE (c.tenant_id = %(tenant)s OR c.tenant_id IS NULL)
         AND c.embedding_model = %(model)s
         AND d.status = 'ready'{extra_where}
    """
    base = f"FROM retrieval_chunk c JOIN retrieval_document d ON d.id = c.document_id {filters}"
    text_base = (
        "FROM q CROSS JOIN retrieval_chunk c "
        f"JOIN retrieval_document d ON d.id = c.document_id {filters}"
    )
    # Only our own column name and fixed clauses are interpolated; every value is a parameter.
    return f"""
    WITH q AS (
        SELECT NULLIF((websearch_to_tsquery('english', %(text)s)
                       || websearch_to_tsquery('english', %(phrases)s))::text, '') AS query_text
    ),
    vec AS (
        SELECT c.id, c.{column} <=> %(vector)s::vector AS distance
        {base}
         ORDER BY c.{column} <=> %(vector)s::vector
         LIMIT %(candidates)s
    ),
    vec_ranked AS (
        SELECT id, distance, row_number() OVER (ORDER BY distance) AS rank FROM vec
    ),
    txt AS (
        SELECT c.id, ts_rank_cd(c.search_vector, q.query_text::tsquery, 1) AS rank_cd
        {text_base}
           AND q.query_text IS NOT NULL
           AND c.search_vector @@ q.query_text::tsquery
         ORDER BY rank_cd DESC
         LIMIT %(candidates)s
    ),
    txt_ranked AS (
        SELECT id, rank_cd, row_number() OVER (ORDER BY rank_cd DESC) AS rank FROM txt
    ),
    typ AS (
        SELECT c.id, c.{column} <=> %(vector)s::vector AS distance
        {base}
           AND {"c.page_type = ANY(%(page_types)s)" if statements else "FALSE"}
         ORDER BY c.{column} <=> %(vector)s::vector
         LIMIT %(candidates)s
    ),
    typ_ranked AS (
        SELECT id, row_number() OVER (ORDER BY distance) AS rank FROM typ
    ),
    dty AS (
        SELECT c.id, c.{column} <=> %(vector)s::vector AS distance
        {base}
           AND {"d.doc_type = ANY(%(doc_types)s)" if doc_types else "FALSE"}
         ORDER BY c.{column} <=> %(vector)s::vector
         LIMIT %(candidates)s
    ),
    dty_ranked AS (
        SELECT id, row_number() OVER (ORDER BY distance) AS rank FROM dty
    ),
    ids AS (
        SELECT id FROM vec_ranked UNION SELECT id FROM txt_ranked UNION SELECT id FROM typ_ranked
        UNION SELECT id FROM dty_ranked
    ),
    fused AS (
        SELECT ids.id,
               COALESCE(%(vector_weight)s / (%(rrf_k)s + v.rank), 0)
             + COALESCE(%(text_weight)s / (%(rrf_k)s + t.rank), 0)
             + COALESCE(%(statement_weight)s / (%(rrf_k)s + s.rank), 0)
             + COALESCE(%(doc_type_weight)s / (%(rrf_k)s + dt.rank), 0) AS score,
               1 - v.distance AS vector_score,
               t.rank_cd AS text_score
          FROM ids
          LEFT JOIN vec_ranked v ON v.id = ids.id
          LEFT JOIN txt_ranked t ON t.id = ids.id
          LEFT JOIN typ_ranked s ON s.id = ids.id
          LEFT JOIN dty_ranked dt ON dt.id = ids.id
    )
    SELECT c.id, c.document_id, d.title, d.source, COALESCE(co.name, ''), d.ticker, d.doc_type,
           d.fiscal_year, d.fiscal_period, c.page_start, c.page_end, c.section, c.text,
           f.score, f.vector_score, f.text_score, c.header, c.page_type
      FROM fused f
      JOIN retrieval_chunk c ON c.id = f.id
      JOIN retrieval_document d ON d.id = c.document_id
      LEFT JOIN retrieval_company co ON co.id = d.company_id
     ORDER BY f.score DESC, c.id
     LIMIT %(k)s
    """


def _run_search(
    *,
    tenant: Tenant,
    query: str,
    vector: list[float],
    model: str,
    dims: int,
    k: int,
    filters: SearchFilters,
    intent: QuestionIntent,
    evidence: StatementEvidence,
) -> list[RetrievedChunk]:
    params: dict[str, Any] = {
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
    column = "embedding" if dims == MINILM_DIMENSIONS else "embedding_1536"
    sql = _hybrid_sql(
        column,
        _where(filters, params),
        statements=bool(evidence.wanted or evidence.page_types),
        doc_types=bool(evidence.doc_types),
    )
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
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    chunks = {
        row[0]: RetrievedChunk(
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
        for row in rows
    }
    headers = {row[0]: row[16] or "" for row in rows}
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
    names = {int(c.id): c.name for c in directory}

    years = scope_from_question(query, directory).fiscal_years
    evidence = StatementEvidence(
        named=tuple(intent.named_statements),
        implied=tuple(intent.implied_statements),
        line_items=intent.line_item_groups,
        year=max(years) if years else None,
        asks_why=intent.asks_why,
        page_words=intent.page_word_groups,
        page_types=tuple(intent.topic_page_types),
        doc_types=intent.doc_types,
    )
    attempts: list[tuple[SearchFilters, bool, tuple[str, ...]]] = []
    if filters is not None and not filters.is_empty:
        attempts.append((filters, False, ()))
    elif auto_scope:
        scope = scope_from_question(query, directory)
        scoped = _filters_from_scope(scope)
        if not scoped.is_empty:
            attempts.append((scoped, True, scope.matched_terms))
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
                attempts.append((unperiod, True, scope.matched_terms))
        attempts.append((SearchFilters(), False, ()))
    else:
        attempts.append((SearchFilters(), False, ()))

    started = time.perf_counter()
    hits: list[RetrievedChunk] = []
    used = attempts[0]
    with get_tracer().start_as_current_span("retrieval.chunk_search") as span:
        for used in attempts:
            attempt_started = time.perf_counter()
            hits = _run_search(
                tenant=tenant,
                query=query,
                vector=vector,
                model=embedder.model_name,
                dims=embedder.dimensions,
                k=k,
                filters=used[0],
                intent=intent,
                evidence=evidence,
            )
            metrics.VECTOR_SEARCH_LATENCY.labels(mode="hybrid").observe(
                time.perf_counter() - attempt_started
            )
            if hits:
                break
        span.set_attributes(
            {"rag.k": k, "rag.hits": len(hits), "rag.search_attempts": attempts.index(used) + 1}
        )
    timings["search_ms"] = (time.perf_counter() - started) * 1000
    applied, automatic, terms = used
    description = _describe(applied, names)
    if automatic:
        description = f"From the question: {description}"
    if used is not attempts[0]:
        description += f" (nothing matched {_describe(attempts[0][0], names)}; widened)"
    return SearchResult(
        hits=tuple(hits),
        scope=AppliedScope(
            filters=applied, automatic=automatic, description=description, matched_terms=terms
        ),
        embedding_model=embedder.model_name,
        timings_ms=timings,
    )


def chunk_texts(*, tenant: Tenant, chunk_ids: Sequence[int]) -> dict[int, RetrievedChunk]:
    """Chunks by id (for citations), only those the tenant can read."""
    from retrieval.models import Chunk

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
