"""The hybrid search statement: four candidate lists (vector, full text, the statements the
question needs, the kinds of filing its topics come from) fused by reciprocal rank, with the
tenant filter inside every candidate query. Only our own column names and fixed clauses are
interpolated; every value is a bound parameter."""

from __future__ import annotations

from typing import Any

from retrieval.contracts import SearchFilters

CANDIDATES = 50  # per ranking, before fusion and the lexical re-rank
RRF_K = 60
VECTOR_WEIGHT = 1.0
TEXT_WEIGHT = 1.0
# The third candidate list: chunks of the statements the question needs, by vector distance.
STATEMENT_WEIGHT = 1.0
# The fourth: chunks of the kinds of filing the question's topics come from (an earnings release
# for a non-GAAP measure, an 8-K for a shareholder vote), by vector distance.
DOC_TYPE_WEIGHT = 1.0


def filters_where(filters: SearchFilters, params: dict[str, Any]) -> str:
    """The metadata filters as ` AND ...` clauses; their values go into `params`."""
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


def hybrid_sql(
    column: str, extra_where: str, *, statements: bool = False, doc_types: bool = False
) -> str:
    """The search statement over embedding `column`, `extra_where` (filters_where) added to the
    filters of every candidate list; `statements` and `doc_types` switch on the third and
    fourth lists."""
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
    statement_filter = "c.page_type = ANY(%(page_types)s)" if statements else "FALSE"
    doc_type_filter = "d.doc_type = ANY(%(doc_types)s)" if doc_types else "FALSE"
    return f"""
    WITH q AS (
        SELECT NULLIF((websearch_to_tsquery('english', %(text)s)
                       || websearch_to_tsquery('english', %(phrases)s))::text, '') AS query_text
    ),
    {_vector_candidates("vec", column, base, None, with_distance=True)},
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
    {_vector_candidates("typ", column, base, statement_filter)},
    {_vector_candidates("dty", column, base, doc_type_filter)},
    {_FUSED}
    """


def _vector_candidates(
    name: str, column: str, base: str, condition: str | None, *, with_distance: bool = False
) -> str:
    """Two CTEs: `name`, the nearest chunks by vector distance (that meet `condition`, if any),
    and `name`_ranked, their ranks (with the distance when the fusion reports it)."""
    distance = "distance, " if with_distance else ""
    condition_sql = f"\n           AND {condition}" if condition else ""
    return f"""{name} AS (
        SELECT c.id, c.{column} <=> %(vector)s::vector AS distance
        {base}{condition_sql}
         ORDER BY c.{column} <=> %(vector)s::vector
         LIMIT %(candidates)s
    ),
    {name}_ranked AS (
        SELECT id, {distance}row_number() OVER (ORDER BY distance) AS rank FROM {name}
    )"""


# Reciprocal rank fusion of the four lists, then the rows a RetrievedChunk is made of.
_FUSED = """ids AS (
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
     LIMIT %(k)s"""
